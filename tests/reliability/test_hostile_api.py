"""Issue 15 point 5: hostile input never answers 500 -- the cases found by probing (each failed
before its fix). The property-based tests over every endpoint are in ``test_hostile_property``.
"""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from customers.models import Transaction
from tests.reliability.hostile import BONUS_CODE, assert_invalid, basket, post

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("stamp", ["9999-12-31T23:59:59Z", "9999-12-31T23:59:59-05:00"])
def test_a_timestamp_at_the_end_of_time_is_a_400(till, stamp):
    assert_invalid(post(till, "/api/v1/transactions/", basket(timestamp=stamp)), "timestamp")
    assert Transaction.objects.count() == 0


def test_a_5000_deep_json_document_is_a_400_parse_error(till):
    for path in ("/api/v1/transactions/", "/api/v1/points/redeem/", "/api/v1/scoring-runs/"):
        for deep in (b"[" * 5000 + b"]" * 5000, b'{"a":' * 5000 + b"1" + b"}" * 5000):
            response = post(till, path, deep, HTTP_IDEMPOTENCY_KEY="k")
            assert response.status_code == 400, response.content[:300]
            assert response.json()["error"]["code"] == "parse_error"


def test_a_document_nested_just_past_the_limit_is_refused_and_a_real_one_is_not(till):
    lines = basket()["lines"]
    too_deep = {"transaction_id": "T1", "pad": json.loads("[" * 16 + "]" * 16), "lines": lines}
    response = post(till, "/api/v1/transactions/", too_deep)
    assert response.json()["error"]["code"] == "parse_error"
    assert post(till, "/api/v1/transactions/", basket()).status_code == 201


@pytest.mark.parametrize(
    "path", ["/api/v1/customers/%00/", "/api/v1/customers/C1%00/", "/api/v1/campaigns/?state=%00"]
)
def test_a_nul_byte_in_an_api_address_is_a_400_in_the_api_format(till, path):
    response = till.get(path)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "bad_request"


@pytest.mark.parametrize(
    "query", ["q=%00", "retailer__id__exact=%00", "kind=a%00b", "o=%00", "%00=1"]
)
def test_a_nul_byte_in_an_admin_changelist_filter_is_a_400(admin_client, query):
    for url in ("/admin/customers/pointsentry/", "/admin/customers/customer/"):
        response = admin_client.get(f"{url}?{query}")
        assert response.status_code == 400


def test_a_nul_byte_anywhere_else_is_a_400_too(client):
    assert client.get("/portal/%00/").status_code == 400
    assert client.get("/accounts/login/?next=%00").status_code == 400


@pytest.mark.parametrize(
    ("line", "field"),
    [
        ({"amount": 7.505}, "amount"),  # a JSON number with three decimals
        ({"amount": 0.1 + 0.2}, "amount"),  # a float's noise
        ({"amount": "1e3"}, "amount"),
        ({"amount": "1E+3"}, "amount"),
        ({"quantity": "1e3"}, "quantity"),
        ({"amount": 1e3}, "amount"),  # 1000.0 in JSON text is fine...
        ({"amount": "7.50", "discount": "7.51"}, "discount"),
        ({"amount": "-7.50", "quantity": "-1", "discount": "-7.51"}, "discount"),
        ({"amount": "7.50", "discount": "-0.50"}, "discount"),
        ({"amount": True}, "amount"),
    ],
)
def test_money_inputs_refuse_exponents_excess_decimals_and_oversized_discounts(till, line, field):
    response = post(till, "/api/v1/transactions/", basket(line=line))
    if line == {"amount": 1e3}:  # ...it is sent as 1000.0: plain notation, one decimal
        assert response.status_code == 201, response.content
        return
    assert_invalid(response, field)
    assert Transaction.objects.count() == 0


def test_the_money_field_is_shared_by_redemptions(till):
    body = {"code": BONUS_CODE, "basket_amount": "1e3"}
    response = post(till, "/api/v1/redemptions/", body, HTTP_IDEMPOTENCY_KEY="k-1")
    assert_invalid(response, "basket_amount")


@pytest.mark.parametrize("stamp", ["2025-06-01T10:00:00", "2025-06-01", "2025-06-01 10:00"])
def test_a_timestamp_without_a_zone_is_refused(till, stamp):
    assert_invalid(post(till, "/api/v1/transactions/", basket(timestamp=stamp)), "timestamp")


def test_a_scoring_date_at_the_end_of_time_is_refused(till):
    assert_invalid(post(till, "/api/v1/scoring-runs/", {"as_of": "9999-12-31"}), "as_of")


def test_an_idempotency_key_with_a_nul_byte_is_refused(till):
    body = {"customer_id": "C1", "points": 1}
    response = post(till, "/api/v1/points/redeem/", body, HTTP_IDEMPOTENCY_KEY="k\x00")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "idempotency_key_required"


def test_amounts_are_decimals_never_floats_in_the_stored_basket(till):
    """A JSON number that passes (12.5) is stored as the exact Decimal, as a string would be."""
    assert post(till, "/api/v1/transactions/", basket(line={"amount": 12.5})).status_code == 201
    assert Transaction.objects.get().lines.get().amount == Decimal("12.50")
