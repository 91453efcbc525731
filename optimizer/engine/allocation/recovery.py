"""Primal recovery of the decomposition: from optimal multipliers to a feasible allocation.

Objective: at the (near-)optimal Lagrange multipliers every customer has a preferred option and a
*lead* over the runner-up ("nothing" included). Customers with a clear lead are fixed (in every LP
optimum they take that option, by complementary slackness); the ``free_customers`` with the
smallest lead, plus whichever fixed customers must be released so that the fixed part fits the
budget and caps, form a small residual MILP (PuLP + HiGHS) over what is left of budget, caps and
coverage. If that fails, the free set grows 4x (twice), and a greedy repair is the last resort.

Constraints: the returned allocation is always checked with ``is_feasible`` by the caller; the
residual MILP stops at an absolute gap of 5% of the certified gap tolerance.
"""

from __future__ import annotations

import time

import numpy as np

from optimizer.engine.allocation.milp import solve_sub_milp
from optimizer.engine.allocation.problem import Core
from optimizer.engine.allocation.solver import is_feasible, usage
from optimizer.engine.allocation.types import AllocationConfig


def _margins(red: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per customer: preferred option (-1 = nothing) and its lead over the runner-up."""
    best = red.argmax(axis=1)
    top = red[np.arange(red.shape[0]), best]
    masked = red.copy()
    masked[np.arange(red.shape[0]), best] = -np.inf
    second = np.maximum(masked.max(axis=1), 0.0)
    choice = np.where(top > 0, best, -1)
    lead = np.where(top > 0, top - second, -top)
    return choice, lead


def _greedy(core: Core, choice: np.ndarray, red: np.ndarray) -> np.ndarray:
    """Repair to feasibility: drop the weakest over caps/budget, then cover, then fill."""
    choice = choice.copy()
    rows = np.flatnonzero(choice >= 0)
    strength = red[rows, choice[rows]]
    order = rows[np.argsort(-strength, kind="stable")]
    count = np.zeros(len(core.types))
    cover = np.zeros(len(core.segments))
    spent = 0.0
    keep = np.zeros(choice.shape[0], dtype=bool)
    for i in order.tolist():
        j = choice[i]
        c = core.cost[i, j]
        if count[j] + 1 <= core.caps[j] and spent + c <= core.budget:
            keep[i] = True
            count[j] += 1
            spent += c
            cover[core.seg[i]] += 1
    choice[~keep] = -1
    for s, req in core.coverage:
        members = np.flatnonzero((core.seg == s) & (choice < 0))
        ranked = members[np.argsort(-red[members].max(axis=1), kind="stable")]
        for i in ranked.tolist():
            if cover[s] >= req:
                break
            opts = np.flatnonzero(np.isfinite(core.value[i]) & (count + 1 <= core.caps))
            if opts.size == 0:
                continue
            j = int(opts[np.argmin(core.cost[i, opts])])
            if spent + core.cost[i, j] <= core.budget:
                choice[i] = j
                count[j] += 1
                spent += core.cost[i, j]
                cover[s] += 1
    free = np.flatnonzero(choice < 0)
    vals = np.where(np.isfinite(core.value[free]), core.value[free], -np.inf)
    best = vals.argmax(axis=1) if free.size else free
    gain = vals[np.arange(free.size), best] if free.size else vals
    for k in np.argsort(-gain, kind="stable").tolist():
        if gain[k] <= 0:
            break
        i, j = int(free[k]), int(best[k])
        if count[j] + 1 <= core.caps[j] and spent + core.cost[i, j] <= core.budget:
            choice[i] = j
            count[j] += 1
            spent += core.cost[i, j]
    return choice


def _release(core: Core, choice: np.ndarray, lead: np.ndarray, free: np.ndarray) -> np.ndarray:
    """Add to ``free`` the weakest fixed customers until the fixed part fits budget and caps.

    With multipliers that are optimal only to the column-generation tolerance, the confidently
    fixed customers may overuse a resource by a little; releasing the ones with the smallest lead
    on exactly that resource restores a feasible residual without growing the free set blindly.
    """
    is_free = np.zeros(choice.shape[0], dtype=bool)
    is_free[free] = True
    fixed = np.where(is_free, -1, choice)
    use = usage(core, fixed)
    over = use["cost"] - core.budget
    if over > 0:
        cand = np.flatnonzero(fixed >= 0)
        cand = cand[np.argsort(lead[cand], kind="stable")]
        spent = np.cumsum(core.cost[cand, fixed[cand]])
        take = int(np.searchsorted(spent, over)) + 1
        is_free[cand[:take]] = True
        fixed[cand[:take]] = -1
    for j in np.flatnonzero(np.isfinite(core.caps)):
        extra = int(np.count_nonzero(fixed == j) - core.caps[j])
        if extra > 0:
            cand = np.flatnonzero(fixed == j)
            cand = cand[np.argsort(lead[cand], kind="stable")][:extra]
            is_free[cand] = True
            fixed[cand] = -1
    return np.flatnonzero(is_free)


def recover(
    core: Core, red: np.ndarray, bound: float, config: AllocationConfig, deadline: float
) -> tuple[np.ndarray, str, int]:
    """Feasible allocation from the reduced values at (near-)optimal multipliers.

    Returns (choice, how, number of free customers in the residual MILP).
    """
    choice, lead = _margins(red)
    n = choice.shape[0]
    size = min(config.free_customers, n)
    for _ in range(3):
        free = np.argpartition(lead, size - 1)[:size] if size < n else np.arange(n)
        free = _release(core, choice, lead, free)
        fixed = choice.copy()
        fixed[free] = -1
        use = usage(core, fixed)
        cov = tuple((s, int(max(0.0, req - use["covered"][s]))) for s, req in core.coverage)
        sub = solve_sub_milp(
            core.value[free],
            core.cost[free],
            core.seg[free],
            budget=max(core.budget - use["cost"], 0.0),
            caps=np.maximum(core.caps - use["count"], 0.0),
            coverage=cov,
            time_limit=max(deadline - time.perf_counter(), 1.0),
            gap_abs=0.05 * config.gap_tolerance * max(abs(bound), 1.0),
        )
        if sub is not None:
            fixed[free] = sub
            if is_feasible(core, fixed):
                return fixed, "fix-and-solve sub-MILP", int(free.size)
        if size >= n:
            break
        size = min(4 * size, n)
    return _greedy(core, choice, red), "greedy repair", 0
