"""GET customers/{id}/, POST transactions/, POST scoring-runs/."""

import datetime as dt
from decimal import Decimal
from unittest import mock

import pytest
from django.utils import timezone

from campaigns.models import BonusState
from customers.models import PointsEntry, PointsKind, Transaction
from customers.services.points import points_summary
from tests.campaigns.rewards_factories import TODAY, BonusFactory, token_client
from tests.customers.factories import CustomerFactory, TransactionFactory
from tests.retailers.factories import ProductFactory, RetailerFactory, StoreFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def client(api_client, retailer):
    return token_client(api_client, retailer)[0]


@pytest.fixture
def customer(retailer):
    return CustomerFactory(retailer=retailer, external_id="C1")


def basket(**extra):
    return {
        "transaction_id": "T1",
        "customer_id": "C1",
        "store_id": "S1",
        # Within the retailer's accepted window (the last 30 days by default) whatever the date.
        "timestamp": (timezone.now() - dt.timedelta(hours=1)).isoformat(),
        "lines": [
            {"sku": "A", "quantity": "2", "amount": "7.50"},
            {"sku": "B", "quantity": "1", "amount": "3.00", "discount": "0.50"},
        ],
        **extra,
    }


@pytest.fixture
def catalogue(retailer):
    StoreFactory(retailer=retailer, external_id="S1")
    ProductFactory(retailer=retailer, sku="A")
    ProductFactory(retailer=retailer, sku="B")


def test_customer_shows_active_bonuses_points_and_expiry(client, customer, retailer):
    active = BonusFactory(member__campaign__retailer=retailer, member__customer=customer)
    BonusFactory(
        member__campaign__retailer=retailer, member__customer=CustomerFactory(retailer=retailer)
    )
    BonusFactory(
        member__campaign=active.campaign,
        member__customer=CustomerFactory(retailer=retailer),
        customer=customer,
        state=BonusState.REDEEMED,
    )
    response = client.get("/api/v1/customers/C1/")
    assert response.status_code == 200
    body = response.json()
    assert [b["code"] for b in body["bonuses"]] == [active.code]
    assert body["points"] == {"balance": 0, "next_expiry": None}


def _ledger(customer, *movements):
    """Write a consistent chain of (points, expires_on, kind) movements for ``customer``."""
    balance = 0
    for seq, (points, expires_on, kind) in enumerate(movements, start=1):
        balance += points
        PointsEntry.objects.create(
            retailer=customer.retailer,
            customer=customer,
            seq=seq,
            kind=kind,
            points=points,
            balance_after=balance,
            expires_on=expires_on,
        )


def test_customer_lookup_renders_every_field_and_the_fifo_expiry(client, customer, retailer):
    soon, later = TODAY + dt.timedelta(days=10), TODAY + dt.timedelta(days=40)
    _ledger(
        customer,
        (100, soon, PointsKind.EARNED),
        (50, later, PointsKind.EARNED),
        (-30, None, PointsKind.REDEEMED),  # spends the soonest-expiring lot first
    )
    last_day = BonusFactory(
        member__campaign__retailer=retailer,
        member__customer=customer,
        value=Decimal("2.50"),
        valid_to=TODAY,
        max_uses=3,
        uses=1,
    )
    next_week = BonusFactory(
        member__campaign__retailer=retailer,
        member__customer=customer,
        valid_to=TODAY + dt.timedelta(days=7),
    )
    BonusFactory(  # expired yesterday: not shown
        member__campaign__retailer=retailer,
        member__customer=customer,
        valid_from=TODAY - dt.timedelta(days=9),
        valid_to=TODAY - dt.timedelta(days=1),
    )
    other = RetailerFactory()  # the same external id at another retailer stays apart
    BonusFactory(member__campaign__retailer=other, member__customer__external_id="C1")

    body = client.get("/api/v1/customers/C1/").json()

    assert body["customer_id"] == "C1"
    assert body["points"] == {
        "balance": 120,
        "next_expiry": {"date": soon.isoformat(), "points": 70},
    }
    summary = points_summary(customer=customer)  # the portal's (ORM) path agrees
    assert (summary.balance, summary.next_expiry_on, summary.next_expiry_points) == (120, soon, 70)
    assert [b["code"] for b in body["bonuses"]] == [last_day.code, next_week.code]
    assert body["bonuses"][0] == {
        "code": last_day.code,
        "bonus_type": last_day.bonus_type.code,
        "name": last_day.bonus_type.name,
        "kind": "amount_discount",
        "value": "2.50",
        "points": 0,
        "valid_from": last_day.valid_from.isoformat(),
        "valid_to": TODAY.isoformat(),
        "state": "issued",
        "uses": 1,
        "max_uses": 3,
    }


def test_unknown_customer_is_404_with_the_error_body(client):
    response = client.get("/api/v1/customers/NOBODY/")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_transaction_earns_points_once(client, customer, catalogue):
    first = client.post("/api/v1/transactions/", basket(), format="json")
    assert first.status_code == 201, first.json()
    assert first.json() | {} == {
        "transaction_id": "T1",
        "customer_id": "C1",
        "total": "10.50",
        "points": 10,
        "balance": 10,
        "created": True,
    }
    again = client.post("/api/v1/transactions/", basket(), format="json")
    assert again.status_code == 200
    assert again.json()["created"] is False
    assert again.json()["balance"] == 10
    assert Transaction.objects.count() == 1
    summary = client.get("/api/v1/customers/C1/").json()["points"]
    assert summary["balance"] == 10
    assert summary["next_expiry"]["points"] == 10


def test_return_transaction_claws_back(client, customer, catalogue):
    client.post("/api/v1/transactions/", basket(), format="json")
    ret = basket(transaction_id="T2", lines=[{"sku": "A", "quantity": "-1", "amount": "-4.00"}])
    response = client.post("/api/v1/transactions/", ret, format="json")
    assert response.status_code == 201
    assert (response.json()["points"], response.json()["balance"]) == (-4, 6)


def test_transaction_validation_names_fields(client, customer, catalogue):
    bad = basket(customer_id="NOBODY", lines=[{"sku": "ZZZ", "quantity": "1", "amount": "1"}])
    response = client.post("/api/v1/transactions/", bad, format="json")
    assert response.status_code == 400
    assert "customer_id" in response.json()["error"]["fields"]
    response = client.post("/api/v1/transactions/", basket(lines=[]), format="json")
    assert "lines" in response.json()["error"]["fields"]
    wrong_sign = basket(lines=[{"sku": "A", "quantity": "-1", "amount": "2"}])
    response = client.post("/api/v1/transactions/", wrong_sign, format="json")
    assert response.status_code == 400
    unknown_sku = basket(lines=[{"sku": "ZZZ", "quantity": "1", "amount": "1"}])
    response = client.post("/api/v1/transactions/", unknown_sku, format="json")
    assert response.json()["error"]["fields"] == {"lines": ["Unknown SKU(s): ZZZ."]}


def test_transaction_id_of_another_customer_is_409(client, customer, catalogue, retailer):
    TransactionFactory(retailer=retailer, external_id="T1")
    response = client.post("/api/v1/transactions/", basket(), format="json")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "transaction_conflict"


def test_scoring_run_starts_and_refuses_a_second(client, customer, retailer):
    TransactionFactory(
        retailer=retailer, customer=customer, timestamp=dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    )
    with mock.patch("retailers.lifecycle.async_task"):
        first = client.post("/api/v1/scoring-runs/", {"horizon_weeks": 4}, format="json")
        assert first.status_code == 202, first.json()
        assert first.json()["status"] == "queued"
        second = client.post("/api/v1/scoring-runs/", {}, format="json")
    assert second.status_code == 409
    assert second.json()["error"]["code"] == "scoring_run_active"
