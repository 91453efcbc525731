"""A plain Lagrangian dual method in numpy: the reference the allocation engine is measured
against in bench/allocation.py (same core arrays, same run).

Projected subgradient on the multipliers of the budget, the per-type caps and the coverage
minima (Polyak steps towards the best lower bound found), then the final pricing's choice made
feasible by dropping the weakest pairs over a limit and topping up the minima greedily. It
certifies a bound (every Lagrangian value is an upper bound) but no gap target; no PuLP.
"""

from __future__ import annotations

import numpy as np

from optimizer.engine.allocation.problem import Core


def lagrangian_baseline(core: Core, iterations: int = 60) -> tuple[float, float, np.ndarray]:
    """(objective of the feasible choice, best Lagrangian bound, choice)."""
    k = len(core.types)
    cov = np.array([s for s, _ in core.coverage], dtype=np.int64)
    need = np.array([float(q) for _, q in core.coverage])
    caps = np.where(np.isfinite(core.caps), core.caps, 0.0)
    capped = np.isfinite(core.caps)
    lam, mu, nu = 0.0, np.zeros(k), np.zeros(cov.size)
    best_bound, best = np.inf, (0.0, np.zeros(k), np.zeros(cov.size))
    ar = np.arange(core.value.shape[0])
    buf = np.empty_like(core.value)
    lower = 0.0
    for _ in range(iterations):
        np.multiply(core.cost, -lam, out=buf)
        buf += core.value
        buf -= mu
        pick = buf.argmax(axis=1)
        top = buf[ar, pick]
        shift = np.zeros(len(core.segments))
        shift[cov] = nu
        top += shift[core.seg]
        on = top > 0
        bound = float(top[on].sum()) + lam * core.budget + float(mu @ caps) - float(nu @ need)
        if bound < best_bound:
            best_bound, best = bound, (lam, mu.copy(), nu.copy())
        rows, chosen = ar[on], pick[on]
        g_budget = core.budget - float(core.cost[rows, chosen].sum())
        g_caps = np.where(capped, caps - np.bincount(chosen, minlength=k), 0.0)
        covered = np.bincount(core.seg[rows], minlength=len(core.segments))[cov]
        g_cov = covered - need
        norm = g_budget**2 + float(g_caps @ g_caps) + float(g_cov @ g_cov)
        if norm == 0:
            break
        lower = max(lower, 0.9 * lower + 0.1 * float(core.value[rows, chosen].sum()))
        step = max(bound - lower, 1e-9) / norm
        lam = max(0.0, lam - step * g_budget)
        mu = np.maximum(0.0, mu - step * g_caps)
        nu = np.maximum(0.0, nu + step * g_cov)
    lam, mu, nu = best
    red = core.value - lam * core.cost - mu
    pick = red.argmax(axis=1)
    top = red[ar, pick]
    shift = np.zeros(len(core.segments))
    shift[cov] = nu
    top = top + shift[core.seg]
    choice = np.where(top > 0, pick, -1)
    choice = _repair(core, choice, top)
    rows = np.flatnonzero(choice >= 0)
    return float(core.value[rows, choice[rows]].sum()), best_bound, choice


def _repair(core: Core, choice: np.ndarray, strength: np.ndarray) -> np.ndarray:
    """Keep the strongest pairs within budget and caps (vectorised prefix per type)."""
    rows = np.flatnonzero(choice >= 0)
    order = rows[np.argsort(-strength[rows], kind="stable")]
    pick = choice[order]
    rank = np.zeros(order.size, dtype=np.int64)
    for j in range(len(core.types)):
        at = pick == j
        rank[at] = np.arange(int(at.sum()))
    keep = rank < np.where(np.isfinite(core.caps), core.caps, np.inf)[pick]
    order, pick = order[keep], pick[keep]
    spent = np.cumsum(core.cost[order, pick])
    order = order[spent <= core.budget]
    out = np.full_like(choice, -1)
    out[order] = choice[order]
    return out
