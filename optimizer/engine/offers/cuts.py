"""Extended cover cuts on the small knapsack rows (product budgets worth a few offers).

Objective: a tighter proven bound. A product budget ``sum_i w_i x_i <= B`` (``w_i`` the expected
discount of option ``i``, ``x_i`` in {0, 1}) that holds only a few offers is a small knapsack; its
LP relaxation fills ``B`` exactly with a fraction of one more offer, which no integer choice can,
so the LP bound (and with it the decomposition's Lagrangian bound) sits above every allocation by
up to that fraction's value per budget. Cutting those fractions off closes that integrality gap.

Validity (why no integer allocation is cut off): let ``C`` be a *cover* of the row, a set of its
options with ``sum_{i in C} w_i > B``. No feasible choice takes all of ``C``, so
``sum_{i in C} x_i <= |C| - 1`` for every feasible 0/1 ``x``. The *extended* cover
``E = C + {i in the row : w_i >= max_{j in C} w_j}`` keeps it valid: a feasible choice taking
``|C|`` options of ``E`` would weigh at least ``sum_C w`` (swap each option of ``C`` it lacks for
one of ``E - C`` it takes, each at least as heavy), more than ``B``. Hence
``sum_{i in E} x_i <= |C| - 1`` holds for every allocation, and adding it as one more coupling
row changes no allocation while the LP (and ``L(y)``) over the rows plus cuts is still an upper
bound on every allocation (weak duality holds for any valid row). Weights are nonnegative, so
the cover test has a safety margin of ``1e-6`` relative: a choice within the rows' feasibility
tolerance is never cut off.

Separation (Crowder, Johnson and Padberg's greedy): for the master's fractional ``x``, the row's
options with ``x > 0`` by ``(1 - x_i) / w_i`` ascending are taken until they cover ``B``; options
whose removal keeps a cover are dropped (smallest ``x`` first, each drop raises the violation by
``1 - x_i``); the cut is kept when ``x`` breaks it by more than :data:`MIN_VIOLATION`.

Constraints: each option belongs to at most one product row, so one round of cuts fits in one
more slot of :class:`optimizer.engine.offers.rows.Rows`; cut rows are named ``cut:<row>:<round>``
and never reported as campaign limits.
"""

from __future__ import annotations

import numpy as np

from optimizer.engine.offers.rows import Rows

#: A cut is added only when the fractional choice breaks it by more than this (options).
MIN_VIOLATION = 1e-3
CUT_PREFIX = "cut:"


def _cover(weight: np.ndarray, x: np.ndarray, limit: float) -> np.ndarray | None:
    """Positions (into ``weight``) of a cover violated by ``x``, or None."""
    positive = np.flatnonzero(x > 1e-9)
    ratio = (1.0 - x[positive]) / np.maximum(weight[positive], 1e-12)
    order = positive[np.argsort(ratio, kind="stable")]
    need = limit * (1.0 + 1e-6) + 1e-9
    total = np.cumsum(weight[order])
    if total.size == 0 or total[-1] <= need:
        return None
    cover = list(order[: int(np.searchsorted(total, need, side="right")) + 1])
    weight_sum = float(weight[cover].sum())
    for i in sorted(cover, key=lambda j: x[j]):
        if weight_sum - weight[i] > need:
            cover.remove(i)
            weight_sum -= float(weight[i])
    chosen = np.asarray(cover, dtype=np.int64)
    if float(x[chosen].sum()) - (chosen.size - 1) <= MIN_VIOLATION:
        return None
    return chosen


def add_cover_cuts(
    rows: Rows, x: np.ndarray, candidates: np.ndarray, round_no: int
) -> tuple[Rows, int]:
    """``rows`` plus one slot of extended cover cuts violated by ``x``, and how many were added.

    Args:
        rows: coupling rows (cuts of earlier rounds included).
        x: per option, the fractional choice to cut off (0 where unknown: never violates).
        candidates: ids of knapsack rows (nonnegative weights, one row per option at most).
        round_no: numbers the cut rows' names.

    Returns:
        the extended rows (``rows`` itself when no cut is violated) and the cut count.
    """
    n = rows.index.shape[0]
    slot_index = np.full(n, -1, dtype=np.int64)
    names: list[str] = []
    limits: list[float] = []
    flat = rows.index.ravel()
    at = np.flatnonzero(np.isin(flat, candidates))
    order = at[np.argsort(flat[at], kind="stable")]
    row_of = flat[order]
    starts = np.flatnonzero(np.r_[True, row_of[1:] != row_of[:-1]]) if row_of.size else row_of
    for begin, end in zip(starts, np.r_[starts[1:], row_of.size], strict=True):
        k = int(row_of[begin])
        options = order[begin:end] // rows.index.shape[1]
        if options.size < 2:
            continue
        weight = rows.weight.ravel()[order[begin:end]]
        cover = _cover(weight, x[options], float(rows.limits[k]))
        if cover is None:
            continue
        extended = options[weight >= weight[cover].max()]
        members = np.union1d(options[cover], extended)
        if (slot_index[members] >= 0).any():
            continue
        slot_index[members] = len(rows.names) + len(names)
        names.append(f"{CUT_PREFIX}{rows.names[int(k)]}:{round_no}")
        limits.append(float(cover.size - 1))
    if not names:
        return rows, 0
    return (
        Rows(
            names=rows.names + tuple(names),
            limits=np.concatenate([rows.limits, np.asarray(limits)]),
            index=np.column_stack([rows.index, slot_index]),
            weight=np.column_stack([rows.weight, (slot_index >= 0).astype("float64")]),
        ),
        len(names),
    )
