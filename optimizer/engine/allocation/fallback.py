"""The answer when the time limit leaves no room for the decomposition.

Objective: ``allocate``'s ``time_limit`` covers the whole call. When the input and value stages
have used the budget (what is left is less than the decisions stage needs), the solve stage
returns at once a feasible allocation and a *certified* upper bound instead of running
``dual.py``:

* Bound: the Lagrangian of the budget alone, ``L(lam) = lam * B + sum_i max(0, max_b (v_ib - lam
  * c_ib))``. For every ``lam >= 0`` it bounds the LP relaxation (and so every allocation) from
  above: the caps, the minimums and the coupling rows are relaxed with zero multipliers, which
  only loosens it. ``L`` is convex in ``lam`` with subgradient ``B - spend(lam)``; ``log lam`` is
  bisected on its sign (``MIN_STEPS`` steps, more while the clock allows; one (n, K) pass each)
  and the lowest ``L`` seen (``lam = 0`` included) is the bound.
* Allocation: the minimums are met first, then the strongest pairs by ``v - lam * c`` are added
  while every limit holds, then every positive pair that still fits (the batched greedy of
  ``recovery.py``).

Hand-written because it is a few numpy passes over the core the engine already has; no library
computes a Lagrangian bound or a limit-aware greedy for this structure. The gap it reports is
usually far above the tolerance: the status is ``time_limit`` and the caller says so.

Constraints: pure numpy; reads the clock only through the caller's ``Deadline``.
"""

from __future__ import annotations

import numpy as np

from optimizer.engine.allocation.deadline import Deadline
from optimizer.engine.allocation.fill import fill, fill_positive
from optimizer.engine.allocation.problem import Core
from optimizer.engine.allocation.recovery import top_up
from optimizer.engine.allocation.solver import Solution, check_feasible, is_feasible
from optimizer.engine.allocation.types import STATUS_TIME_LIMIT, InfeasibleAllocation

#: Bisection steps on the budget multiplier, each one pass over the core: at least MIN_STEPS
#: even past the deadline (at 1M x 6 five log-scale steps took the bound from lam = 0's gap of
#: 33% to 9%, for about 0.2 s of CPU), at most MAX_STEPS while the clock allows.
MIN_STEPS = 5
MAX_STEPS = 12
#: The bisection runs on log(lam) over this many decades below the largest value/cost ratio.
DECADES = 6
METHOD = "deadline reached before the solve: budget-only Lagrangian bound + greedy"


def _evaluate(core: Core, lam: float, buf: np.ndarray) -> tuple[float, float]:
    """``(L(lam), spend(lam))``: the Lagrangian value and the cost of its per-row argmax."""
    np.multiply(core.cost, -lam, out=buf)
    buf += core.value
    pick = buf.argmax(axis=1)
    top = np.take_along_axis(buf, pick[:, None], axis=1)[:, 0]
    on = top > 0
    spend = float(core.cost[on, pick[on]].sum())
    return float(top[on].sum()) + lam * core.budget, spend


def budget_bound(core: Core, deadline: Deadline, until: float) -> tuple[float, float]:
    """``(bound, lam)``: the lowest ``L(lam)`` found by bisection before clock ``until``."""
    buf = np.empty_like(core.value)
    best, spend = _evaluate(core, 0.0, buf)
    best_lam = 0.0
    if spend <= core.budget or core.rows.size == 0:
        return best, best_lam  # the budget does not bind: lam = 0 minimises L
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(core.cost > 0, core.value / core.cost, 0.0)
    top = max(float(np.nanmax(ratio, initial=0.0)), 1e-12)  # spend(top) = 0 <= B
    del ratio
    lo, hi = np.log(top) - DECADES * np.log(10.0), np.log(top)
    for step in range(MAX_STEPS):
        if step >= MIN_STEPS and deadline.clock() >= until:
            break
        mid = 0.5 * (lo + hi)
        lam = float(np.exp(mid))
        bound, spend = _evaluate(core, lam, buf)
        if bound < best:
            best, best_lam = bound, lam
        if spend > core.budget:
            lo = mid
        else:
            hi = mid
    return best, best_lam


def quick_solution(core: Core, deadline: Deadline, until: float) -> Solution:
    """A feasible allocation and its certified bound, status ``time_limit`` (module docstring).

    Raises:
        InfeasibleAllocation: a constraint cannot hold on its own (named, as on the solver
            paths), or the greedy found no allocation that meets every minimum (the constraints
            are not proven infeasible; ``constraint="time_limit"``).
    """
    check_feasible(core)
    bound, lam = budget_bound(core, deadline, until)
    red = core.value - lam * core.cost
    choice = np.full(core.rows.shape[0], -1, dtype=np.int64)
    choice = top_up(core, choice, red, np.zeros(choice.shape[0], dtype=bool))
    pick = red.argmax(axis=1)
    strength = np.take_along_axis(red, pick[:, None], axis=1)[:, 0]
    rows = np.flatnonzero((strength > 0) & (choice < 0))
    order = rows[np.argsort(-strength[rows], kind="stable")]
    choice = fill(core, choice, order, pick[order])
    choice = fill_positive(core, choice, red)
    if not is_feasible(core, choice):
        raise InfeasibleAllocation(
            "no feasible allocation was found within the time limit (the constraints were not "
            "proven infeasible): allow more time or loosen the minimums",
            constraint="time_limit",
        )
    return Solution(
        choice=choice,
        lp_bound=bound,
        lp_bound_plus10=bound,  # the +10% what-if needs the solve: reported as +0
        # lam prices the budget alone (the caps' share of the scarcity included): it is not the
        # budget's shadow price, so none is reported
        shadow={},
        status=STATUS_TIME_LIMIT,
        method=METHOD,
        details={"budget_only_multiplier": lam, "plus10": "skipped (no time)"},
    )
