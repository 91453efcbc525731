"""Helpers of the hostile-input tests (their fixtures are in this folder's conftest)."""

from __future__ import annotations

import datetime as dt
import json

from django.utils import timezone

BONUS_CODE = "HOSTILE7"


def recent() -> str:
    return (timezone.now() - dt.timedelta(hours=1)).isoformat().replace("+00:00", "Z")


def basket(**extra):
    line = {"sku": "A", "quantity": "1", "amount": "7.50"}
    return {
        "transaction_id": "T1",
        "customer_id": "C1",
        "timestamp": recent(),
        "lines": [{**line, **extra.pop("line", {})}],
        **extra,
    }


def post(till, path, body, **headers):
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return till.generic("POST", path, raw, content_type="application/json", **headers)


def assert_invalid(response, field: str) -> None:
    assert response.status_code == 400, response.content[:400]
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert field in json.dumps(error["fields"]), error
