"""The points ledger: earn, bonus, redeem, expire, adjust, claw back; chain and FIFO."""

import datetime as dt
from decimal import Decimal

import pytest

from customers.models import PointsEntry, PointsKind
from customers.services.points import (
    InsufficientPoints,
    InvalidPointsAmount,
    points_adjust,
    points_bonus_credit,
    points_earn,
    points_expire,
    points_expire_due,
    points_ledger_total,
    points_redeem,
    points_summary,
)
from tests.campaigns.rewards_factories import BonusFactory
from tests.customers.factories import (
    CustomerFactory,
    TransactionFactory,
    TransactionLineFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def customer(retailer):
    retailer.points_per_currency_unit = Decimal("2.00")
    retailer.points_validity_days = 30
    retailer.save()
    return CustomerFactory(retailer=retailer)


def basket(customer, *amounts, when=None):
    txn = TransactionFactory(
        retailer=customer.retailer,
        customer=customer,
        timestamp=when or dt.datetime(2025, 1, 10, 12, tzinfo=dt.UTC),
    )
    for amount in amounts:
        qty = Decimal("1") if Decimal(amount) >= 0 else Decimal("-1")
        TransactionLineFactory(transaction=txn, amount=Decimal(amount), quantity=qty)
    return txn


def chain(customer):
    return list(
        PointsEntry.objects.filter(customer=customer)
        .order_by("seq")
        .values_list("seq", "kind", "points", "balance_after")
    )


def test_points_earn_floors_amount_times_rate_and_sets_expiry(customer):
    entry = points_earn(txn=basket(customer, "10.40", "2.35"))  # 12.75 x 2 = 25.5
    assert (entry.points, entry.balance_after, entry.seq) == (25, 25, 1)
    assert entry.expires_on == dt.date(2025, 2, 9)


def test_points_earn_is_idempotent_per_transaction(customer):
    txn = basket(customer, "10.00")
    first = points_earn(txn=txn)
    assert points_earn(txn=txn).pk == first.pk
    assert chain(customer) == [(1, "earned", 20, 20)]


def test_points_chain_balance_after_each_kind(customer, retailer):
    points_earn(txn=basket(customer, "50.00"))  # +100
    bonus = BonusFactory(member__campaign__retailer=retailer, member__customer=customer, points=40)
    points_bonus_credit(bonus=bonus)
    points_bonus_credit(bonus=bonus)  # once only
    points_redeem(customer=customer, points=30)
    points_adjust(customer=customer, points=-5, reason="goodwill correction")
    points_earn(txn=basket(customer, "-10.00"))  # return: claw back 20
    assert chain(customer) == [
        (1, "earned", 100, 100),
        (2, "bonus", 40, 140),
        (3, "redeemed", -30, 110),
        (4, "adjustment", -5, 105),
        (5, "clawback", -20, 85),
    ]
    assert points_ledger_total(customer=customer) == 85


def test_points_redeem_refuses_more_than_balance(customer):
    points_earn(txn=basket(customer, "5.00"))
    with pytest.raises(InsufficientPoints):
        points_redeem(customer=customer, points=11)
    assert points_summary(customer=customer).balance == 10


def test_points_adjust_needs_a_reason(customer):
    with pytest.raises(InvalidPointsAmount):
        points_adjust(customer=customer, points=10, reason=" ")


def test_clawback_never_makes_the_balance_negative(customer):
    points_earn(txn=basket(customer, "5.00"))  # 10
    points_redeem(customer=customer, points=8)
    entry = points_earn(txn=basket(customer, "-5.00"))  # wants 10, only 2 left
    assert (entry.kind, entry.points, entry.balance_after) == (PointsKind.CLAWBACK, -2, 0)


def test_points_expire_oldest_first(customer):
    points_earn(txn=basket(customer, "10.00", when=dt.datetime(2025, 1, 1, 12, tzinfo=dt.UTC)))
    points_earn(txn=basket(customer, "5.00", when=dt.datetime(2025, 1, 20, 12, tzinfo=dt.UTC)))
    points_redeem(customer=customer, points=5)  # from the first lot: 15 of 20 left
    summary = points_summary(customer=customer, as_of=dt.date(2025, 1, 25))
    assert (summary.next_expiry_on, summary.next_expiry_points) == (dt.date(2025, 1, 31), 15)
    assert points_expire(customer=customer, as_of=dt.date(2025, 1, 30)) is None
    entry = points_expire(customer=customer, as_of=dt.date(2025, 1, 31))
    assert (entry.points, entry.balance_after) == (-15, 10)
    summary = points_summary(customer=customer, as_of=dt.date(2025, 2, 1))
    assert (summary.next_expiry_on, summary.next_expiry_points) == (dt.date(2025, 2, 19), 10)


def test_points_expire_due_expires_every_customer_once(customer, retailer):
    other = CustomerFactory(retailer=retailer)
    points_earn(txn=basket(customer, "10.00"))
    points_earn(txn=basket(other, "1.00"))
    assert points_expire_due(as_of=dt.date(2025, 3, 1)) == 22
    assert points_expire_due(as_of=dt.date(2025, 3, 1)) == 0
    assert points_summary(customer=customer).balance == 0


def test_admin_adjustment_needs_a_reason_and_appends_to_the_chain(client, staff_user, customer):
    client.force_login(staff_user)
    url = "/admin/customers/pointsentry/add/"
    response = client.post(url, {"customer": customer.pk, "points": 30, "reason": ""})
    assert response.status_code == 200  # form redisplayed with the error
    assert not PointsEntry.objects.exists()
    client.post(url, {"customer": customer.pk, "points": 30, "reason": "lost card"})
    response = client.post(url, {"customer": customer.pk, "points": -31, "reason": "typo"})
    assert "only 30 points" in response.content.decode()
    assert chain(customer) == [(1, "adjustment", 30, 30)]
    assert PointsEntry.objects.get().created_by == staff_user
