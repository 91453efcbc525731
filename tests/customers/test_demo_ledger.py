"""The demo's points ledger (loyalty_site/site/demo/ledger.py): replayed set-based from the
baskets with the retailer's earning rule, only for points still valid on the day it is loaded."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from customers.models import PointsEntry
from customers.services.points import (
    points_earn,
    points_expire_due,
    points_ledger_total,
    points_summary,
)
from loyalty_site.site.demo.ledger import write_points_ledger
from tests.customers.factories import (
    CustomerFactory,
    TransactionFactory,
    TransactionLineFactory,
)

pytestmark = pytest.mark.django_db
END = dt.date(2025, 6, 1)


def basket(retailer, customer, day: dt.date, *amounts: str):
    txn = TransactionFactory(
        retailer=retailer,
        customer=customer,
        timestamp=dt.datetime.combine(day, dt.time(12), tzinfo=dt.UTC),
    )
    for amount in amounts:
        value = Decimal(amount)
        quantity = Decimal("-1.000") if value < 0 else Decimal("1.000")
        TransactionLineFactory(transaction=txn, amount=value, quantity=quantity)
    return txn


def test_ledger_credits_each_valid_basket_in_order_with_a_running_balance(retailer):
    retailer.points_per_currency_unit = Decimal("2.00")
    retailer.save(update_fields=["points_per_currency_unit"])
    ann, bob = CustomerFactory(retailer=retailer), CustomerFactory(retailer=retailer)
    basket(retailer, ann, END - dt.timedelta(days=400), "50.00")  # expired by the end: skipped
    first = basket(retailer, ann, END - dt.timedelta(days=30), "10.25", "2.50")  # 25 points
    basket(retailer, ann, END - dt.timedelta(days=2), "0.40")  # earns nothing
    basket(retailer, ann, END - dt.timedelta(days=1), "7.00")  # 14 points
    basket(retailer, bob, END - dt.timedelta(days=5), "-3.00")  # a return: nothing

    assert write_points_ledger(retailer, as_of=END) == 2
    entries = list(PointsEntry.objects.filter(customer=ann).order_by("seq"))
    assert [(e.seq, e.points, e.balance_after) for e in entries] == [(1, 25, 25), (2, 14, 39)]
    assert entries[0].transaction_id == first.pk
    assert entries[0].expires_on == END - dt.timedelta(days=30) + dt.timedelta(days=365)
    assert points_ledger_total(customer=ann) == 39
    assert points_summary(customer=ann, as_of=END).balance == 39
    assert not PointsEntry.objects.filter(customer=bob).exists()


def test_the_ledger_continues_with_the_live_service(retailer):
    ann = CustomerFactory(retailer=retailer)
    basket(retailer, ann, END - dt.timedelta(days=3), "4.00")
    write_points_ledger(retailer, as_of=END)
    later = basket(retailer, ann, END, "6.00")
    entry = points_earn(txn=later)
    assert (entry.seq, entry.balance_after) == (2, 10)


def test_no_replayed_point_expires_on_the_day_the_demo_is_loaded(retailer):
    """The loader credits points as of the load day: a basket earned exactly one validity period
    before it would expire that very day (the first demo showed 86,328 points expiring at once)."""
    ann = CustomerFactory(retailer=retailer)
    validity = dt.timedelta(days=retailer.points_validity_days)
    basket(retailer, ann, END - validity, "30.00")  # expires on END: not credited
    basket(retailer, ann, END - validity + dt.timedelta(days=1), "5.00")  # expires the day after

    assert write_points_ledger(retailer, as_of=END) == 1
    assert points_expire_due(as_of=END) == 0
    assert points_summary(customer=ann, as_of=END).balance == 5
