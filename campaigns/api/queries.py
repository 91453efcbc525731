"""The till's hot read: a customer's active bonuses and points, in one plain SQL statement.

A till asks this on every scan, so it skips the ORM's query compilation and the nested
serializers (together about three quarters of the request's CPU) and renders plain dicts. The
statements (``campaigns.queries``) are, like every other read, scoped to the retailer:
another retailer's customer is simply not found. The FIFO lot logic stays in
:mod:`customers.points_fifo`, the same code the ORM paths use.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any

from campaigns.models import BonusState
from campaigns.queries import CUSTOMER_SNAPSHOT
from customers.points_fifo import Movement, lots_from_chain, next_expiry
from loyalty_site.hot_sql import hot_cursor
from loyalty_site.money import quantize


def _bonus(item: list) -> dict[str, Any]:
    code, type_code, name, kind, value, points, valid_from, valid_to, state, uses, max_uses = item
    return {
        "code": code,
        "bonus_type": type_code,
        "name": name,
        "kind": kind,
        "value": str(quantize(Decimal(value))),
        "points": points,
        "valid_from": valid_from,  # ISO dates already
        "valid_to": valid_to,
        "state": state,
        "uses": uses,
        "max_uses": max_uses,
    }


def customer_snapshot(*, retailer_id: int, external_id: str, today: dt.date) -> dict | None:
    """The body of ``GET /api/v1/customers/<id>/``; ``None`` if the retailer has no such customer.

    Active bonuses are those still issued and valid on ``today`` or later, soonest expiry first.
    """
    params = CUSTOMER_SNAPSHOT.params(
        retailer_id, issued=BonusState.ISSUED.value, today=today, external_id=external_id
    )
    with hot_cursor() as cursor:
        cursor.execute(CUSTOMER_SNAPSHOT.text, params)
        row = cursor.fetchone()
    if row is None:
        return None
    _, bonuses, ledger = (_json(value) or [] for value in row)
    balance = ledger[-1][3] if ledger else 0
    upcoming = None
    if balance:
        movements = (
            Movement(seq, points, dt.date.fromisoformat(expires) if expires else None)
            for seq, points, expires, _ in ledger
        )
        upcoming = next_expiry(lots_from_chain(movements), today)
    return {
        "customer_id": external_id,
        "points": {
            "balance": balance,
            "next_expiry": (
                {"date": upcoming[0].isoformat(), "points": upcoming[1]} if upcoming else None
            ),
        },
        "bonuses": [_bonus(item) for item in bonuses],
    }


def _json(value: Any) -> Any:
    """A ``json`` column as Python: psycopg decodes it; Django's logged cursor (tests) too."""
    return json.loads(value) if isinstance(value, str) else value
