"""FIFO lots of a customer's points, computed from the ledger chain. Pure Python: no Django.

Objective: tell which credited points are still unspent, and when they expire, from the
append-only chain of movements alone (nothing about lots is stored).

Rules:
    * every credit (a positive movement) opens a lot of that many points with its expiry date
      (``None``: never expires);
    * every debit (a negative movement: spent, expired, clawed back, negative adjustment) consumes
      the lots in order of (expiry date, then credit order), i.e. the soonest-expiring and, with a
      constant validity, the oldest points first. Expiry debits therefore consume exactly the lots
      that were overdue when they were written;
    * lots that expire on ``as_of`` or before are expired on ``as_of`` (``expires_on`` is the first
      day the points are no longer valid).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

#: Sort key for lots that never expire: after every dated lot.
_NEVER = dt.date.max


@dataclass(frozen=True)
class Movement:
    """One ledger entry as the FIFO maths sees it."""

    seq: int
    points: int
    expires_on: dt.date | None = None


@dataclass(frozen=True)
class Lot:
    """Unspent rest of one credit."""

    seq: int
    expires_on: dt.date | None
    remaining: int


def _key(lot: Lot) -> tuple[dt.date, int]:
    return (lot.expires_on or _NEVER, lot.seq)


def lots_from_chain(movements: Iterable[Movement]) -> list[Lot]:
    """Replay ``movements`` (in ``seq`` order) and return the lots with points left, FIFO order.

    A debit larger than the open lots (impossible while the balance check holds) consumes what
    there is; the excess is ignored rather than raised, so a damaged chain still renders.
    """
    open_lots: list[Lot] = []
    for move in sorted(movements, key=lambda m: m.seq):
        if move.points > 0:
            open_lots.append(Lot(move.seq, move.expires_on, move.points))
            open_lots.sort(key=_key)
        elif move.points < 0:
            open_lots = _consume(open_lots, -move.points)
    return open_lots


def _consume(lots: list[Lot], amount: int) -> list[Lot]:
    left: list[Lot] = []
    for lot in lots:
        if amount <= 0:
            left.append(lot)
            continue
        taken = min(lot.remaining, amount)
        amount -= taken
        if lot.remaining > taken:
            left.append(Lot(lot.seq, lot.expires_on, lot.remaining - taken))
    return left


def points_due_to_expire(lots: Iterable[Lot], as_of: dt.date) -> int:
    """Points of the lots whose expiry date is ``as_of`` or earlier (to be expired now)."""
    return sum(lot.remaining for lot in lots if lot.expires_on and lot.expires_on <= as_of)


def next_expiry(lots: Iterable[Lot], as_of: dt.date) -> tuple[dt.date, int] | None:
    """(date, points) of the next expiry after ``as_of``, or ``None`` when nothing expires.

    Lots already overdue (the daily expiry has not run yet) count as expiring on ``as_of``.
    """
    dated = [
        (lot.expires_on, lot.remaining)
        for lot in lots
        if lot.expires_on is not None and lot.remaining > 0
    ]
    if not dated:
        return None
    first = max(min(expires_on for expires_on, _ in dated), as_of)
    amount = sum(remaining for expires_on, remaining in dated if max(expires_on, as_of) == first)
    return first, amount
