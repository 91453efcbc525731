"""Issue 15 point 4: per-retailer bounds on money, points and dates at the till; bounded balances.

Timestamps are built relative to the server's clock (the window is relative too), so these tests
hold on any day.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.utils import timezone

from customers.models import Customer, PointsEntry, PointsKind, Transaction
from tests.campaigns.rewards_factories import token_client
from tests.customers.factories import CustomerFactory
from tests.retailers.factories import ProductFactory

pytestmark = pytest.mark.django_db

#: customers.models.MAX_POINTS_BALANCE (written out: the test predates the constant).
MAX_BALANCE = 1_000_000_000


@pytest.fixture
def till(api_client, retailer):
    ProductFactory(retailer=retailer, sku="A")
    CustomerFactory(retailer=retailer, external_id="C1")
    return token_client(api_client, retailer)[0]


def iso(when: dt.datetime) -> str:
    return when.isoformat().replace("+00:00", "Z")


def basket(txn="T1", *, amounts=("7.50",), when=None, **extra):
    return {
        "transaction_id": txn,
        "customer_id": "C1",
        "timestamp": when or iso(timezone.now() - dt.timedelta(hours=1)),
        "lines": [{"sku": "A", "quantity": "1", "amount": amount} for amount in amounts],
        **extra,
    }


def post(till, body):
    return till.post("/api/v1/transactions/", body, format="json")


def refused(response, field: str) -> list[str]:
    """The messages of ``field`` in a 400 ``invalid`` answer (fails on anything else)."""
    assert response.status_code == 400, response.content[:400]
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert field in error["fields"], error
    assert field in error["message"]
    return error["fields"][field]


def balance(retailer) -> int:
    last = PointsEntry.objects.filter(customer__external_id="C1").order_by("-seq").first()
    return last.balance_after if last else 0


def test_a_basket_within_the_default_limits_is_recorded(till, retailer):
    response = post(till, basket(amounts=("9999.99", "9999.99")))
    assert response.status_code == 201, response.content
    assert response.json()["points"] == 19_999


def test_the_issue_basket_of_999_999_999_99_is_refused_three_times_and_credits_nothing(
    till, retailer
):
    for i in range(3):
        response = post(till, basket(f"T{i}", amounts=("999999999.99",)))
        messages = refused(response, "lines[0].amount")
        assert "10000.00" in messages[0]
    assert Transaction.objects.count() == 0
    assert balance(retailer) == 0


def test_line_limit_names_each_line_over_it_and_counts_returns_in_absolute_value(till, retailer):
    response = post(till, basket(amounts=("5.00", "10000.01")))
    assert refused(response, "lines[1].amount")
    assert "lines[0].amount" not in response.json()["error"]["fields"]
    ret = basket(amounts=("-10000.01",))
    ret["lines"][0]["quantity"] = "-1"
    refused(post(till, ret), "lines[0].amount")


def test_basket_total_limit(till, retailer):
    retailer.till_max_basket_total = Decimal("100.00")
    retailer.save()
    messages = refused(post(till, basket(amounts=("60.00", "40.01"))), "lines")
    assert "100.01" in messages[0]
    assert "100.00" in messages[0]
    assert post(till, basket(amounts=("60.00", "40.00"))).status_code == 201


def test_points_per_basket_limit(till, retailer):
    retailer.points_per_currency_unit = Decimal("10.00")
    retailer.till_max_points_per_basket = 500
    retailer.save()
    messages = refused(post(till, basket(amounts=("50.10",))), "lines")
    assert "501 points" in messages[0]
    assert post(till, basket(amounts=("50.00",))).json()["points"] == 500


def test_limits_are_per_retailer(till, retailer):
    retailer.till_max_line_amount = Decimal("1000000.00")
    retailer.till_max_basket_total = Decimal("1000000.00")
    retailer.till_max_points_per_basket = 1_000_000
    retailer.save()
    assert post(till, basket(amounts=("250000.00",))).status_code == 201


@pytest.mark.parametrize(
    "stamp",
    ["1970-01-01T00:00:00Z", "2100-01-01T00:00:00Z", "9998-06-01T12:00:00+02:00"],
)
def test_purchases_far_in_the_past_or_future_are_refused(till, stamp):
    refused(post(till, basket(when=stamp)), "timestamp")
    assert Transaction.objects.count() == 0


def test_the_timestamp_window_is_the_retailers(till, retailer):
    now = timezone.now()
    assert post(till, basket("T1", when=iso(now - dt.timedelta(days=29)))).status_code == 201
    assert post(till, basket("T2", when=iso(now + dt.timedelta(minutes=5)))).status_code == 201
    old = refused(post(till, basket("T3", when=iso(now - dt.timedelta(days=31)))), "timestamp")
    assert "30 days" in old[0]
    ahead = refused(post(till, basket("T4", when=iso(now + dt.timedelta(hours=1)))), "timestamp")
    assert "10 minutes" in ahead[0]
    retailer.till_max_age_days = 400
    retailer.till_max_future_minutes = 120
    retailer.save()
    cache.clear()  # the till's resolved token (and its retailer) is cached for 10 s
    assert post(till, basket("T3", when=iso(now - dt.timedelta(days=31)))).status_code == 201
    assert post(till, basket("T4", when=iso(now + dt.timedelta(hours=1)))).status_code == 201


def test_a_repeated_transaction_is_still_answered_as_known(till, retailer):
    assert post(till, basket()).status_code == 201
    retailer.till_max_line_amount = Decimal("1.00")
    retailer.save()
    cache.clear()
    again = post(till, basket())
    assert again.status_code == 200
    assert again.json()["created"] is False


def seed_balance(retailer, points: int) -> None:
    customer = Customer.objects.get(retailer=retailer, external_id="C1")
    PointsEntry.objects.create(
        retailer=retailer,
        customer=customer,
        seq=1,
        kind=PointsKind.ADJUSTMENT,
        points=points,
        balance_after=points,
        reason="seed",
    )


def test_a_balance_cannot_pass_its_bound_the_basket_is_refused_409(till, retailer):
    seed_balance(retailer, MAX_BALANCE - 50)
    response = post(till, basket(amounts=("100.00",)))
    assert response.status_code == 409, response.content
    assert response.json()["error"]["code"] == "points_balance_limit"
    assert balance(retailer) == MAX_BALANCE - 50
    assert Transaction.objects.count() == 0


def test_the_bound_is_the_models_constant():
    from customers.models import MAX_POINTS_BALANCE

    assert MAX_POINTS_BALANCE == MAX_BALANCE
    assert 10 * MAX_BALANCE > 2**31 - 1 > 2 * MAX_BALANCE  # a sum of two bounded values fits


@pytest.mark.parametrize(("points", "after"), [(1, MAX_BALANCE + 1), (MAX_BALANCE + 1, 1)])
def test_the_database_refuses_an_unbounded_entry(till, retailer, points, after):
    """The CHECK backs the ledger's own test (on PostgreSQL, the run in CI that matters: its
    ``integer`` columns overflowed at 2**31 - 1 into a 500)."""
    customer = Customer.objects.get(retailer=retailer, external_id="C1")
    with pytest.raises(IntegrityError), transaction.atomic():
        PointsEntry.objects.create(
            retailer=retailer,
            customer=customer,
            seq=1,
            kind=PointsKind.ADJUSTMENT,
            points=points,
            balance_after=after,
            reason="past the bound",
        )


def test_the_limits_are_edited_in_the_retailer_admin(admin_client, retailer):
    page = admin_client.get(f"/admin/retailers/retailer/{retailer.pk}/change/")
    assert page.status_code == 200
    for name in (
        "till_max_line_amount",
        "till_max_basket_total",
        "till_max_points_per_basket",
        "till_max_age_days",
        "till_max_future_minutes",
    ):
        assert f'name="{name}"' in page.content.decode()


def _change_form(admin_client, retailer, **changes):
    url = f"/admin/retailers/retailer/{retailer.pk}/change/"
    form = admin_client.get(url).context["adminform"].form
    data = {name: form[name].value() for name in form.fields}
    data = {
        name: "" if value is None else value for name, value in data.items() if value is not False
    }
    return admin_client.post(url, {**data, **changes})


def test_the_admin_saves_limits_and_refuses_nonsense(admin_client, retailer):
    response = _change_form(admin_client, retailer, till_max_points_per_basket="0")
    assert response.status_code == 200
    assert "till_max_points_per_basket" in response.context["adminform"].form.errors
    response = _change_form(
        admin_client, retailer, till_max_line_amount="50.00", till_max_age_days="7"
    )
    assert response.status_code == 302
    retailer.refresh_from_db()
    assert (retailer.till_max_line_amount, retailer.till_max_age_days) == (Decimal("50.00"), 7)
