"""Batched greedy fills of the decomposition's recovery: add pairs in a given order while the
budget, every cap and every ``<=`` coupling row hold.

Objective: a feasible prefix of a ranked candidate list, at numpy speed for millions of
candidates (no per-customer Python loop). Hand-written because it is the repair step of our own
decomposition: a solver would need the candidates as a MILP, which is what this avoids.

Constraints: each round accepts the longest prefix that fits jointly (budget and caps by
cumulative sums over at most K columns; coupling rows by layers, one row id per pair, see
``coupling.layers``), then drops every remaining candidate that no longer fits on its own.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from optimizer.engine.allocation.coupling import Layer, first_overflow, layer_pairs, layers
from optimizer.engine.allocation.problem import Core
from optimizer.engine.allocation.solver import usage

#: The greedy fill takes the candidates (best first) in windows of this many.
FILL_MAX = 500_000
FILL_ROUNDS = 200


def slack(core: Core, choice: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """What ``choice`` leaves of the budget, the caps and the ``<=`` rows (inf for ``>=``)."""
    use = usage(core, choice)
    limits = core.extra_limits()
    upper = np.array([r.sense == "<=" for r in core.extra], dtype=bool)
    left = np.where(upper, limits - use["extra"], np.inf)
    return core.budget - use["cost"], core.caps - use["count"], left


@dataclass
class Left:
    """What the accepted candidates left of every limit, and the weight they reached."""

    budget: float
    caps: np.ndarray
    rows: np.ndarray
    got: float = 0.0


def fill(
    core: Core,
    choice: np.ndarray,
    idx: np.ndarray,
    pick: np.ndarray,
    *,
    stop_at: float = np.inf,
    weight: np.ndarray | None = None,
    left: Left | None = None,
) -> np.ndarray:
    """Add the candidate pairs ``(idx[m], pick[m])`` in the given order while every limit holds.

    Batched greedy: each round accepts the longest prefix that fits jointly, then drops every
    remaining candidate that no longer fits on its own. ``weight``/``stop_at``: stop once the
    accepted candidates' total weight reaches ``stop_at`` (topping up a minimum). The candidates
    go in windows of ``FILL_MAX`` (the batch arrays are window x types), one after the other
    with what the previous windows left (at 10M a single window of the first ``FILL_MAX`` left
    most of the budget unspent).

    ``left``: what ``choice`` leaves of every limit, when the caller keeps it across calls
    (updated in place; each call otherwise recomputes it over all customers).
    """
    choice = choice.copy()
    free = choice[idx] < 0
    idx, pick = idx[free], pick[free]
    w_all = weight[free] if weight is not None else np.ones(idx.size)
    if left is None:
        left = Left(*slack(core, choice))
    lays = layers(core.extra, core.groups, len(core.types), np.isfinite(left.rows))
    for start in range(0, idx.size, FILL_MAX):
        if left.got >= stop_at:
            break
        window = slice(start, start + FILL_MAX)
        _fill_window(core, choice, idx[window], pick[window], w_all[window], left, lays, stop_at)
    return choice


def _fill_window(
    core: Core,
    choice: np.ndarray,
    idx: np.ndarray,
    pick: np.ndarray,
    w_min: np.ndarray,
    left: Left,
    lays: list[Layer],
    stop_at: float,
) -> None:
    """:func:`fill` on one window of candidates (``choice`` and ``left`` updated in place)."""
    tol = 1e-9 * max(1.0, core.budget)
    for _ in range(FILL_ROUNDS):
        if idx.size == 0 or left.got >= stop_at:
            break
        cost = core.cost[idx, pick]
        in_rows = [layer_pairs(lay, core.extra, core.groups, core.cost, idx, pick) for lay in lays]
        onehot = np.zeros((idx.size, len(core.types)))
        onehot[np.arange(idx.size), pick] = 1.0
        fits = np.cumsum(cost) <= left.budget + tol
        fits &= (np.cumsum(onehot, axis=0) <= left.caps + 1e-9).all(axis=1)
        cut = int(np.argmin(fits)) if not fits.all() else idx.size
        for rid, w in in_rows:
            cut = min(cut, first_overflow(rid, w, left.rows))
        if np.isfinite(stop_at):
            need_more = np.cumsum(w_min) < stop_at - left.got
            cut = min(cut, int(np.argmin(need_more)) + 1 if not need_more.all() else idx.size)
        choice[idx[:cut]] = pick[:cut]
        left.got += float(w_min[:cut].sum())
        left.budget -= float(cost[:cut].sum())
        left.caps = left.caps - onehot[:cut].sum(axis=0)
        rest = slice(cut, None)
        ok = (cost[rest] <= left.budget + tol) & (left.caps[pick[rest]] >= 1 - 1e-9)
        for rid, w in in_rows:
            taken = rid[:cut] >= 0
            left.rows = left.rows - np.bincount(
                rid[:cut][taken], weights=w[:cut][taken], minlength=left.rows.size
            )
        for rid, w in in_rows:
            r = rid[rest]
            ok &= (r < 0) | (w[rest] <= left.rows[np.maximum(r, 0)] + 1e-9)
        idx, pick, w_min = idx[rest][ok], pick[rest][ok], w_min[rest][ok]


def fill_positive(core: Core, choice: np.ndarray, red: np.ndarray) -> np.ndarray:
    """Final fill: unserved customers get a positive-value option while every limit holds.

    Pass ``k`` offers each unserved customer its ``k``-th best option by reduced value ``red``
    (value net of the multipliers' prices, so scarce budget and caps go where they earn most),
    best first; a customer whose best option's cap is spent gets their next one in the next pass.
    """
    left = Left(*slack(core, choice))  # kept across the passes (one usage scan, not K)
    unserved = np.flatnonzero(choice < 0)
    # Limits only shrink as pairs are added, so a pair that does not fit on its own now never
    # will: the batched fill would drop it in its first round anyway (it takes exactly the
    # pairs a one-by-one greedy takes). Dropping such pairs first leaves the allocation as it
    # was, and only the customers with a pair that may still fit are ranked: after the LP
    # rounding with 50 store caps, a few thousand of 900,000.
    may_fit = _fits_alone(core, left, unserved)
    keep = may_fit.any(axis=1)
    unserved, may_fit = unserved[keep], may_fit[keep]
    ranked = np.argsort(-red[unserved], axis=1, kind="stable")
    for k in range(red.shape[1]):
        pos = np.flatnonzero(choice[unserved] < 0)
        if pos.size == 0:
            break
        out, pick = unserved[pos], ranked[pos, k]
        ok = may_fit[pos, pick]
        out, pick = out[ok], pick[ok]
        order = np.argsort(-red[out, pick], kind="stable")
        choice = fill(core, choice, out[order], pick[order], left=left)
    return choice


def _fits_alone(core: Core, left: Left, idx: np.ndarray) -> np.ndarray:
    """(len(idx), K) bool: the pair has a positive value and fits on its own in what is
    ``left`` of the budget, its type's cap and every ``<=`` row (the tolerances of
    :func:`_fill_window`). Computed in slices of ``FILL_MAX`` customers: the float
    temporaries stay (FILL_MAX, K) at 10M customers."""
    tol = 1e-9 * max(1.0, core.budget)
    cap_ok = (left.caps >= 1 - 1e-9)[None, :]
    finite = np.isfinite(left.rows)
    lays = layers(core.extra, core.groups, len(core.types), finite) if finite.any() else []
    weighted = np.array([row.cost_weighted for row in core.extra], dtype=bool)
    out = np.empty((idx.size, len(core.types)), dtype=bool)
    for start in range(0, idx.size, FILL_MAX):
        part = idx[start : start + FILL_MAX]
        cost = core.cost[part]
        ok = out[start : start + FILL_MAX]
        np.greater(core.value[part], 0, out=ok)
        ok &= cost <= left.budget + tol
        ok &= cap_ok
        for attr, table in lays:
            rid = table[0] if attr < 0 else table[core.groups[attr][part]]
            on = rid >= 0
            room = left.rows[np.where(on, rid, 0)]
            w = np.where(weighted[np.where(on, rid, 0)], cost, 1.0)
            ok &= ~on | (w <= room + 1e-9)
    return out
