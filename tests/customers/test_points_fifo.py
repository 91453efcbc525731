"""FIFO lot maths of the points ledger (pure: no database)."""

import datetime as dt

from customers.points_fifo import (
    Lot,
    Movement,
    lots_from_chain,
    next_expiry,
    points_due_to_expire,
)

D1, D2, D3 = dt.date(2025, 1, 1), dt.date(2025, 2, 1), dt.date(2025, 3, 1)


def test_lots_from_chain_spends_oldest_first():
    lots = lots_from_chain([Movement(1, 100, D1), Movement(2, 50, D2), Movement(3, -120)])
    assert lots == [Lot(2, D2, 30)]


def test_lots_from_chain_orders_by_expiry_then_credit():
    lots = lots_from_chain([Movement(1, 10, D3), Movement(2, 10, D1), Movement(3, -15)])
    assert lots == [Lot(1, D3, 5)]


def test_lots_without_expiry_are_spent_last():
    lots = lots_from_chain([Movement(1, 10, None), Movement(2, 10, D2), Movement(3, -12)])
    assert lots == [Lot(1, None, 8)]


def test_points_due_to_expire_counts_lots_dated_on_or_before():
    lots = lots_from_chain([Movement(1, 100, D1), Movement(2, 50, D2), Movement(3, -30)])
    assert points_due_to_expire(lots, D1) == 70
    assert points_due_to_expire(lots, D2) == 120
    assert points_due_to_expire(lots, D1 - dt.timedelta(days=1)) == 0


def test_expiry_debit_consumes_the_expired_lot():
    lots = lots_from_chain([Movement(1, 100, D1), Movement(2, 50, D2), Movement(3, -100)])
    assert lots == [Lot(2, D2, 50)]
    assert points_due_to_expire(lots, D1) == 0


def test_next_expiry_sums_points_of_the_first_date():
    lots = lots_from_chain([Movement(1, 5, D2), Movement(2, 7, D2), Movement(3, 9, D3)])
    assert next_expiry(lots, D1) == (D2, 12)
    assert next_expiry([], D1) is None


def test_next_expiry_counts_overdue_lots_as_today():
    lots = [Lot(1, D1, 4), Lot(2, D2, 6)]
    assert next_expiry(lots, D2) == (D2, 10)


def test_overdraft_is_ignored_rather_than_raised():
    assert lots_from_chain([Movement(1, 5, D1), Movement(2, -9)]) == []
