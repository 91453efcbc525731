"""The till's hot read: a customer's active bonuses and points, in two plain SQL statements.

A till asks this on every scan, so it skips the ORM's query compilation and the nested
serializers (together about three quarters of the request's CPU) and renders plain dicts. The
statements (``campaigns.queries``) are, like every other read, scoped to the retailer:
another retailer's customer is simply not found. The FIFO lot logic stays in
:mod:`customers.points_fifo`, the same code the ORM paths use.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from campaigns.models import BonusState
from campaigns.queries import CUSTOMER_BONUSES, POINTS_LEDGER
from customers.points_fifo import Movement, lots_from_chain, next_expiry
from loyalty_site.hot_sql import hot_cursor
from loyalty_site.money import quantize


def _money(value: Any) -> str:
    return str(quantize(value))


def _bonus(row: tuple) -> dict[str, Any]:
    _, code, type_code, name, kind, value, points, valid_from, valid_to, state, uses, max_uses = row
    return {
        "code": code,
        "bonus_type": type_code,
        "name": name,
        "kind": kind,
        "value": _money(value),
        "points": points,
        "valid_from": valid_from.isoformat(),
        "valid_to": valid_to.isoformat(),
        "state": state,
        "uses": uses,
        "max_uses": max_uses,
    }


def customer_snapshot(*, retailer_id: int, external_id: str, today: dt.date) -> dict | None:
    """The body of ``GET /api/v1/customers/<id>/``; ``None`` if the retailer has no such customer.

    Active bonuses are those still issued and valid on ``today`` or later, soonest expiry first.
    """
    with hot_cursor() as cursor:
        found = CUSTOMER_BONUSES.params(
            retailer_id, issued=BonusState.ISSUED.value, today=today, external_id=external_id
        )
        cursor.execute(CUSTOMER_BONUSES.text, found)
        rows = cursor.fetchall()
        if not rows:
            return None
        customer_id = rows[0][0]
        cursor.execute(
            POINTS_LEDGER.text, POINTS_LEDGER.params(retailer_id, customer_id=customer_id)
        )
        ledger = cursor.fetchall()
    bonuses = [_bonus(row) for row in rows if row[1] is not None]
    balance = ledger[-1][3] if ledger else 0
    upcoming = None
    if balance:
        lots = lots_from_chain(Movement(seq, points, expires) for seq, points, expires, _ in ledger)
        upcoming = next_expiry(lots, today)
    return {
        "customer_id": external_id,
        "points": {
            "balance": balance,
            "next_expiry": (
                {"date": upcoming[0].isoformat(), "points": upcoming[1]} if upcoming else None
            ),
        },
        "bonuses": bonuses,
    }
