"""The till's hot read: a customer's active bonuses and points, in two plain SQL statements.

A till asks this on every scan, so it skips the ORM's query compilation and the nested
serializers (together about three quarters of the request's CPU) and renders plain dicts. The
SQL is, like every other read, scoped by ``retailer_id``:
another retailer's customer is simply not found. The FIFO lot logic stays in
:mod:`customers.points_fifo`, the same code the ORM paths use.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from campaigns.models import Bonus, BonusState, BonusType
from customers.models import Customer, PointsEntry
from customers.points_fifo import Movement, lots_from_chain, next_expiry
from loyalty_site.hot_sql import hot_cursor
from loyalty_site.money import quantize

_CUSTOMER_BONUSES = f"""
SELECT c.id, b.code, t.code, t.name, t.kind, b.value, b.points, b.valid_from, b.valid_to,
       b.state, b.uses, b.max_uses
FROM {Customer._meta.db_table} c
LEFT JOIN {Bonus._meta.db_table} b
       ON b.customer_id = c.id AND b.retailer_id = c.retailer_id
      AND b.state = %s AND b.valid_to >= %s
LEFT JOIN {BonusType._meta.db_table} t ON t.id = b.bonus_type_id
WHERE c.retailer_id = %s AND c.external_id = %s
ORDER BY b.valid_to, b.id
"""  # noqa: S608 - table names come from the models, values are parameters

_LEDGER = f"""
SELECT seq, points, expires_on, balance_after
FROM {PointsEntry._meta.db_table}
WHERE customer_id = %s AND retailer_id = %s
ORDER BY seq
"""  # noqa: S608


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
        cursor.execute(
            _CUSTOMER_BONUSES, [BonusState.ISSUED.value, today, retailer_id, external_id]
        )
        rows = cursor.fetchall()
        if not rows:
            return None
        customer_id = rows[0][0]
        cursor.execute(_LEDGER, [customer_id, retailer_id])
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
