"""Turn the input frames into a compact, sorted :class:`~optimizer.engine.types.History`.

Objective: do the expensive work once (customer lookup, day conversion, one sort, per-day
aggregation) so that features and labels at several cutoffs are cheap masks over int32/float32
arrays. At 20 million transactions this is one sort and a few ``reduceat`` passes.

Constraints: pure and deterministic; no Python loop over rows or customers; compact dtypes (day
numbers are int32 days since 1970-01-01, money per day is float32). Rows that cannot be used are
dropped, never guessed: transactions of customers missing from ``customers``, and rows with a
missing date. A "purchase" transaction has ``amount > 0`` (or ``amount == 0`` with a positive
discount: a fully discounted basket); a negative ``amount`` is a return.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from optimizer.engine.types import NO_DAY, EngineInputError, History

_I32 = np.int32
_TABLE_FACTOR = 16


def require_columns(frame: pd.DataFrame, name: str, columns: Sequence[str]) -> None:
    """Raise :class:`EngineInputError` if ``frame`` lacks any of ``columns``."""
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise EngineInputError(f"{name} is missing column(s) {missing}; has {list(frame.columns)}")


def to_days(values: pd.Series) -> np.ndarray:
    """Dates (datetime64 of any unit, tz-aware or not, or ``datetime.date``) -> int32 day numbers.

    Tz-aware values keep their local wall-clock date. Missing values become ``NO_DAY``.

    Raises:
        EngineInputError: if the values cannot be read as dates.
    """
    series = values
    if not pd.api.types.is_datetime64_any_dtype(series.dtype):
        try:
            series = pd.to_datetime(series)
        except (TypeError, ValueError) as exc:
            raise EngineInputError(f"cannot read {values.name!r} as dates: {exc}") from exc
    if isinstance(series.dtype, pd.DatetimeTZDtype):
        series = series.dt.tz_localize(None)
    raw = series.to_numpy().astype("datetime64[D]")
    missing = np.isnat(raw)
    days = raw.astype(np.int64)
    days[missing] = NO_DAY
    return np.asarray(days, dtype=_I32)


def day_of(value: object) -> int:
    """One date-like value (``datetime.date``, ``Timestamp``, ``str``) -> its int day number."""
    return int(np.datetime64(pd.Timestamp(value).date(), "D").astype(np.int64))


def customer_positions(customer_ids: np.ndarray, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Positions of ``ids`` in the sorted unique ``customer_ids`` and a mask of those found.

    Database keys are usually dense integers: then a lookup table (at most ``_TABLE_FACTOR``
    entries per customer) replaces the binary search, about 10x faster on 20 million rows.
    """
    if customer_ids.size == 0:
        return np.zeros(ids.shape, dtype=_I32), np.zeros(ids.shape, dtype=bool)
    low, high = int(customer_ids[0]), int(customer_ids[-1])
    if high - low < _TABLE_FACTOR * customer_ids.size + 1024:
        table = np.full(high - low + 2, -1, dtype=_I32)
        table[customer_ids - low] = np.arange(customer_ids.size, dtype=_I32)
        offset = np.clip(ids - low, -1, high - low + 1)
        offset[offset < 0] = high - low + 1  # the last slot stays -1: not a customer
        pos = table[offset]
        found = pos >= 0
        pos[~found] = 0
        return pos, found
    pos = np.searchsorted(customer_ids, ids)
    np.minimum(pos, customer_ids.size - 1, out=pos)
    found = customer_ids[pos] == ids
    return pos.astype(_I32), found


def _customers(customers: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Sorted unique ids and their enrolment day (earliest one if an id repeats)."""
    ids = customers["customer_id"].to_numpy(dtype=np.int64)
    enrolled = to_days(customers["enrolled_on"])
    order = np.lexsort((enrolled, ids))
    ids, enrolled = ids[order], enrolled[order]
    first = np.r_[True, ids[1:] != ids[:-1]] if ids.size else np.zeros(0, dtype=bool)
    return ids[first], enrolled[first]


def _day_level(
    cidx: np.ndarray, day: np.ndarray, amount: np.ndarray, discount: np.ndarray
) -> tuple[np.ndarray, ...]:
    """Aggregate transactions to one row per (customer, day), sorted by both."""
    if cidx.size == 0:
        empty_i, empty_f = np.zeros(0, dtype=_I32), np.zeros(0, dtype=np.float32)
        return empty_i, empty_i, empty_f, empty_f, empty_f, empty_i
    dmin = int(day.min())
    span = int(day.max()) - dmin + 1
    key = cidx.astype(np.int64) * span + (day - dmin)
    if key.size > 1 and not bool(np.all(key[1:] >= key[:-1])):
        order = np.argsort(key)
        key, amount, discount = key[order], amount[order], discount[order]
        del order
    starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
    purchase = (amount > 0) | ((amount == 0) & (discount > 0))
    gross = np.add.reduceat(np.where(purchase, amount, 0.0), starts).astype(np.float32)
    returns = np.add.reduceat(np.where(amount < 0, -amount, 0.0), starts).astype(np.float32)
    disc = np.add.reduceat(np.where(purchase, discount, 0.0), starts).astype(np.float32)
    ntx = np.add.reduceat(purchase.astype(_I32), starts)
    skey = key[starts]
    return (
        (skey // span).astype(_I32),
        (skey % span + dmin).astype(_I32),
        gross,
        returns,
        disc,
        ntx.astype(_I32),
    )


def _categories(
    category_days: pd.DataFrame | None, customer_ids: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, bool]:
    empty = np.zeros(0, dtype=_I32)
    if category_days is None:
        return empty, empty, empty, False
    require_columns(category_days, "category_days", ("customer_id", "date", "category"))
    cidx, found = customer_positions(
        customer_ids, category_days["customer_id"].to_numpy(dtype=np.int64)
    )
    day = to_days(category_days["date"])
    raw = category_days["category"].to_numpy()
    if raw.dtype.kind in "iu" and raw.size and raw.min() >= 0 and raw.max() < 1 << 20:
        code = raw.astype(_I32)
    else:
        code = pd.factorize(raw)[0].astype(_I32)
    keep = found & (day != NO_DAY) & (code >= 0)
    return cidx[keep], day[keep], code[keep], True


def _offers(
    offers: pd.DataFrame | None, customer_ids: np.ndarray, bonus_types: Iterable[str] | None
) -> tuple[tuple[np.ndarray, ...], tuple[str, ...]]:
    extra = {str(code) for code in (bonus_types or ())}
    if offers is None or offers.empty:
        empty = np.zeros(0, dtype=_I32)
        return (empty, empty, empty, empty, empty), tuple(sorted(extra))
    require_columns(
        offers, "offers", ("customer_id", "bonus_type", "sent_on", "valid_until", "redeemed_on")
    )
    raw_idx, uniques = pd.factorize(offers["bonus_type"])
    names = [str(u) for u in uniques]
    codes = tuple(sorted(set(names) | extra))
    remap = np.array([codes.index(u) for u in names] + [-1], dtype=_I32)
    type_idx = remap[raw_idx]  # factorize's -1 (missing type) picks the trailing -1
    cidx, found = customer_positions(customer_ids, offers["customer_id"].to_numpy(dtype=np.int64))
    sent = to_days(offers["sent_on"])
    keep = found & (sent != NO_DAY) & (type_idx >= 0)
    arrays = (
        cidx[keep],
        type_idx[keep],
        sent[keep],
        to_days(offers["valid_until"])[keep],
        to_days(offers["redeemed_on"])[keep],
    )
    return arrays, codes


def prepare_history(
    baskets: pd.DataFrame,
    customers: pd.DataFrame,
    *,
    category_days: pd.DataFrame | None = None,
    offers: pd.DataFrame | None = None,
    bonus_types: Iterable[str] | None = None,
) -> History:
    """Build the compact history of the customers in ``customers``.

    Args:
        baskets: one row per transaction. ``customer_id`` int64; ``date`` datetime64 (the
            retailer-local business date, midnight); ``amount`` float64 paid after discount,
            negative for returns; ``discount`` float64 (NaN read as 0). Rows of customers not in
            ``customers`` or without a date are ignored.
        customers: ``customer_id`` int64 (unique; repeats keep the earliest enrolment);
            ``enrolled_on`` datetime64 (NaT: unknown, the first purchase stands in).
        category_days: optional distinct ``customer_id`` int64, ``date`` datetime64,
            ``category`` int32 (any hashable category is factorised) triples. ``None``: no
            category data, breadth features are 0.
        offers: optional offer history (may be empty): ``customer_id`` int64, ``bonus_type``
            str code (rows without one are ignored), ``sent_on``, ``valid_until``,
            ``redeemed_on`` datetime64 (``redeemed_on`` NaT: not redeemed; ``valid_until`` NaT:
            open-ended, resolved only by a redemption).
        bonus_types: extra bonus type codes to carry even if no offer of that type exists
            (new catalogue entries); they get prior-based response scores.

    Returns:
        The :class:`History`; all of its data, including rows on or after any later cutoff.

    Raises:
        EngineInputError: a required column is missing or dates cannot be parsed.
    """
    require_columns(baskets, "baskets", ("customer_id", "date", "amount", "discount"))
    require_columns(customers, "customers", ("customer_id", "enrolled_on"))
    customer_ids, enrolled = _customers(customers)
    cidx, keep = customer_positions(customer_ids, baskets["customer_id"].to_numpy(dtype=np.int64))
    day = to_days(baskets["date"])
    amount = baskets["amount"].to_numpy(dtype=np.float64)
    discount = np.nan_to_num(baskets["discount"].to_numpy(dtype=np.float64))
    keep &= (day != NO_DAY) & np.isfinite(amount)
    if not bool(keep.all()):
        cidx, day, amount, discount = cidx[keep], day[keep], amount[keep], discount[keep]
    del keep
    days = _day_level(cidx, day, amount, discount)
    del cidx, day, amount, discount
    cat_c, cat_d, cat_k, has_cat = _categories(category_days, customer_ids)
    offer_arrays, codes = _offers(offers, customer_ids, bonus_types)
    return History(
        customer_ids=customer_ids,
        enrolled_day=enrolled,
        day_customer=days[0],
        day_day=days[1],
        day_gross=days[2],
        day_returns=days[3],
        day_discount=days[4],
        day_transactions=days[5],
        cat_customer=cat_c,
        cat_day=cat_d,
        cat_code=cat_k,
        has_categories=has_cat,
        offer_customer=offer_arrays[0],
        offer_type=offer_arrays[1],
        offer_sent=offer_arrays[2],
        offer_valid=offer_arrays[3],
        offer_redeemed=offer_arrays[4],
        bonus_types=codes,
    )


def subset_history(history: History, positions: np.ndarray) -> History:
    """The history restricted to the customers at sorted ``positions`` (re-indexed)."""
    positions = np.unique(positions.astype(np.int64))
    remap = np.full(history.n_customers, -1, dtype=_I32)
    remap[positions] = np.arange(positions.size, dtype=_I32)

    def pick(cust: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        new = remap[cust]
        keep = new >= 0
        return new[keep], keep

    dc, dk = pick(history.day_customer)
    cc, ck = pick(history.cat_customer)
    oc, ok = pick(history.offer_customer)
    return History(
        customer_ids=history.customer_ids[positions],
        enrolled_day=history.enrolled_day[positions],
        day_customer=dc,
        day_day=history.day_day[dk],
        day_gross=history.day_gross[dk],
        day_returns=history.day_returns[dk],
        day_discount=history.day_discount[dk],
        day_transactions=history.day_transactions[dk],
        cat_customer=cc,
        cat_day=history.cat_day[ck],
        cat_code=history.cat_code[ck],
        has_categories=history.has_categories,
        offer_customer=oc,
        offer_type=history.offer_type[ok],
        offer_sent=history.offer_sent[ok],
        offer_valid=history.offer_valid[ok],
        offer_redeemed=history.offer_redeemed[ok],
        bonus_types=history.bonus_types,
    )
