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

import numpy as np

from optimizer.engine.allocation.coupling import first_overflow, layer_pairs, layers
from optimizer.engine.allocation.problem import Core
from optimizer.engine.allocation.solver import usage

#: The greedy fill considers at most this many candidates (best first) per call.
FILL_MAX = 500_000
FILL_ROUNDS = 200


def slack(core: Core, choice: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """What ``choice`` leaves of the budget, the caps and the ``<=`` rows (inf for ``>=``)."""
    use = usage(core, choice)
    limits = core.extra_limits()
    upper = np.array([r.sense == "<=" for r in core.extra], dtype=bool)
    left = np.where(upper, limits - use["extra"], np.inf)
    return core.budget - use["cost"], core.caps - use["count"], left


def fill(
    core: Core,
    choice: np.ndarray,
    idx: np.ndarray,
    pick: np.ndarray,
    *,
    stop_at: float = np.inf,
    weight: np.ndarray | None = None,
) -> np.ndarray:
    """Add the candidate pairs ``(idx[m], pick[m])`` in the given order while every limit holds.

    Batched greedy: each round accepts the longest prefix that fits jointly, then drops every
    remaining candidate that no longer fits on its own. ``weight``/``stop_at``: stop once the
    accepted candidates' total weight reaches ``stop_at`` (topping up a minimum).
    """
    choice = choice.copy()
    free = choice[idx] < 0
    idx, pick = idx[free][:FILL_MAX], pick[free][:FILL_MAX]
    w_min = weight[free][:FILL_MAX] if weight is not None else np.ones(idx.size)
    budget_left, caps_left, rows_left = slack(core, choice)
    lays = layers(core.extra, core.groups, len(core.types), np.isfinite(rows_left))
    got = 0.0
    tol = 1e-9 * max(1.0, core.budget)
    for _ in range(FILL_ROUNDS):
        if idx.size == 0 or got >= stop_at:
            break
        cost = core.cost[idx, pick]
        in_rows = [layer_pairs(lay, core.extra, core.groups, core.cost, idx, pick) for lay in lays]
        onehot = np.zeros((idx.size, len(core.types)))
        onehot[np.arange(idx.size), pick] = 1.0
        fits = np.cumsum(cost) <= budget_left + tol
        fits &= (np.cumsum(onehot, axis=0) <= caps_left + 1e-9).all(axis=1)
        cut = int(np.argmin(fits)) if not fits.all() else idx.size
        for rid, w in in_rows:
            cut = min(cut, first_overflow(rid, w, rows_left))
        if np.isfinite(stop_at):
            need_more = np.cumsum(w_min) < stop_at - got
            cut = min(cut, int(np.argmin(need_more)) + 1 if not need_more.all() else idx.size)
        choice[idx[:cut]] = pick[:cut]
        got += float(w_min[:cut].sum())
        budget_left -= float(cost[:cut].sum())
        caps_left = caps_left - onehot[:cut].sum(axis=0)
        rest = slice(cut, None)
        ok = (cost[rest] <= budget_left + tol) & (caps_left[pick[rest]] >= 1 - 1e-9)
        for rid, w in in_rows:
            taken = rid[:cut] >= 0
            rows_left = rows_left - np.bincount(
                rid[:cut][taken], weights=w[:cut][taken], minlength=rows_left.size
            )
        for rid, w in in_rows:
            r = rid[rest]
            ok &= (r < 0) | (w[rest] <= rows_left[np.maximum(r, 0)] + 1e-9)
        idx, pick, w_min = idx[rest][ok], pick[rest][ok], w_min[rest][ok]
    return choice


def fill_positive(core: Core, choice: np.ndarray, red: np.ndarray) -> np.ndarray:
    """Final fill: unserved customers get a positive-value option while every limit holds.

    Pass ``k`` offers each unserved customer its ``k``-th best option by reduced value ``red``
    (value net of the multipliers' prices, so scarce budget and caps go where they earn most),
    best first; a customer whose best option's cap is spent gets their next one in the next pass.
    """
    ranked = np.argsort(-red, axis=1, kind="stable")
    for k in range(red.shape[1]):
        out = np.flatnonzero(choice < 0)
        if out.size == 0:
            break
        pick = ranked[out, k]
        ok = core.value[out, pick] > 0
        out, pick = out[ok], pick[ok]
        order = np.argsort(-red[out, pick], kind="stable")
        choice = fill(core, choice, out[order], pick[order])
    return choice
