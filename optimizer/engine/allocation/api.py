"""Entry point of the allocation engine: who gets which bonus, and when, within budget.

Objective: maximise the total expected incremental value (``value.py``) of at most one bonus per
customer, subject to the expected-cost budget, per-type caps, segment coverage minima, contact
limits and eligibility; hold out a control group; time each bonus (``timing.py``); explain each
decision (``reasons.py``); report the bound, gap, binding constraints and shadow prices.

Flow: validate frames -> eligibility and contact capacity -> control group (``control.py``) ->
send day and validity window per pair (``timing.py``) -> P(redeem) for that window and the next
visit (``window.py``) -> expected value and cost -> core (``problem.py``) -> exact MILP
(``milp.py``) for small cores or Dantzig-Wolfe decomposition (``dual.py``) for large ones -> drop
non-positive pairs that no coverage minimum needs -> dates, reasons and summaries. The stages
other than the solve live in ``stages.py``; each is timed here.

Time: ``time_limit`` is one :class:`Deadline` for the whole call. The solve stage is cut to end
early enough for its own overrun and the decisions stage (:func:`reserve_after_solve`,
estimated from the value stage's own cost, since all are passes over the same (n, K) arrays);
when what is left cannot pay for even the decomposition's first pass,
``fallback.quick_solution`` returns a greedy allocation and a certified Lagrangian bound at
once. The inputs and value stages cannot be cut: no allocation exists without them, so a limit
shorter than those two (plus the quick answer and the decisions) is overrun by that much.

Constraints: pure and deterministic given ``random_state``; ``week_start`` and ``time_limit`` are
explicit; no clock is read except ``time.perf_counter`` for reported durations and the
deadline's (injectable) clock.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from datetime import date

import numpy as np
import pandas as pd

from optimizer.engine.allocation.deadline import Deadline
from optimizer.engine.allocation.decisions import build_decisions
from optimizer.engine.allocation.dual import solve_dual
from optimizer.engine.allocation.fallback import quick_solution
from optimizer.engine.allocation.infeasibility import explain
from optimizer.engine.allocation.milp import MilpInfeasible, MilpNoIncumbent, solve_milp
from optimizer.engine.allocation.pricing import PricingFactory
from optimizer.engine.allocation.problem import Core
from optimizer.engine.allocation.report import summarise
from optimizer.engine.allocation.solver import Solution
from optimizer.engine.allocation.stages import (
    drop_unneeded,
    read_inputs,
    release_pairs,
    value_pairs,
)
from optimizer.engine.allocation.types import (
    STATUS_OPTIMAL,
    STATUS_TIME_LIMIT,
    AllocationConfig,
    AllocationConstraints,
    AllocationResult,
)

METHODS = ("auto", "milp", "dual")
#: The decisions stage and the result summary cost at most this many times the value stage (both
#: are passes over the same (n, K) arrays; measured at 1M x 6: 0.15 s against 0.8-1.1 s of CPU),
#: and the reasons (one Python string per customer: 6.2-6.7 s there) this many more; the solve
#: stage ends early by as much.
DECISIONS_FACTOR = 0.5
REASONS_FACTOR = 8.0
#: The decomposition ends the pass it is in when its deadline passes (a pricing pass, the master,
#: the recovery's fill): at 1M x 6 that overran its deadline by 1.15x the value stage's wall time
#: (15 s limit, load 8), so the solve ends this many value stages earlier still.
OVERRUN_FACTOR = 1.5
#: Below this many value-stage durations left for the solve, the decomposition's first pass
#: (pricing, master, recovery) would overrun the limit: the quick answer is returned instead.
QUICK_FACTOR = 1.5


def reserve_after_solve(value_seconds: float, *, with_reasons: bool) -> float:
    """Seconds to keep after the solve's deadline: the decomposition's overrun and the stages
    after it, from the value stage's cost."""
    later = DECISIONS_FACTOR + (REASONS_FACTOR if with_reasons else 0.0)
    return value_seconds * (OVERRUN_FACTOR + later)


def allocate(
    customers: pd.DataFrame,
    response: pd.DataFrame,
    bonus_types: pd.DataFrame,
    constraints: AllocationConstraints,
    *,
    week_start: date,
    horizon_weeks: int,
    random_state: int,
    time_limit: float,
    uplift: pd.DataFrame | None = None,
    config: AllocationConfig | None = None,
    method: str = "auto",
    with_reasons: bool = True,
    clock: Callable[[], float] | None = None,
    pricing: PricingFactory | None = None,
) -> AllocationResult:
    """Allocate at most one bonus per customer for the campaign week starting ``week_start``.

    Args:
        customers: one row per customer. ``customer_id`` (int64, unique), ``segment`` (str),
            ``churn_probability``, ``expected_visits``, ``expected_spend`` (over the horizon),
            ``clv``, ``days_since_last_visit`` (at ``week_start``), ``usual_gap_days`` (NaN if
            unknown) (all float64), ``marketing_consent`` (bool), optional ``recent_bonuses``
            (int: bonuses received in the last ``constraints.contact_window_weeks``; default 0).
        response: redemption probability per (customer, type), long: ``customer_id`` (int64),
            ``bonus_type`` (str), ``response_probability`` (float64 in [0, 1]); or wide as scoring
            outputs it: ``customer_id`` and ``response_<bonus_type>`` columns. A missing pair is
            ineligible.
        bonus_types: one row per type. ``bonus_type`` (str code), ``cost_when_redeemed`` (float64,
            money; points valued by the caller), ``validity_days`` (int >= 1); optional ``label``
            (str, for reasons), ``allowed_segments`` (``None``/NaN/"" for all, a list, or a
            "|"-separated str), ``min_clv`` (float, default 0), ``requires_consent`` (bool,
            default False), ``reference_visit_probability`` (float in (0, 1], the scoring run's
            ``v_b``, default 1; see ``window.py``), ``charged_on_issue`` (bool, default False:
            the cost is paid when issued, e.g. points, so it does not wait for a redemption).
        constraints: budget, caps, coverage, contact limit, control share.
        week_start: first day of the campaign week (send dates and expiries lie in the 7 days).
        horizon_weeks: the horizon of ``expected_visits`` / ``expected_spend``.
        random_state: seed of the control group.
        time_limit: wall-clock budget of the whole call in seconds (inputs, values, solve and
            decisions): when it runs out the best allocation found so far is returned with its
            bound, status ``time_limit``.
        uplift: optional control-group results per (segment, bonus_type), see
            :func:`optimizer.engine.allocation.value.apply_uplift`.
        config: knobs (defaults: ``AllocationConfig()``).
        method: "auto" (MILP up to ``config.exact_max_pairs`` pairs), "milp" or "dual".
        with_reasons: build the ``reason`` column (skip for speed at chain scale).
        clock: the monotonic clock the time limit is measured on (tests inject a fake one;
            default ``time.perf_counter``).
        pricing: builds the decomposition's pricing of the core (default: in this process; see
            ``pricing.py`` for pricing fanned out over customer-range chunks). Unused by the MILP.

    Returns:
        :class:`AllocationResult` (``decisions`` in input order).

    Raises:
        InfeasibleAllocation: no eligible customer, or a constraint that cannot hold (named).
        EngineInputError: a frame misses a column or holds values out of range.
        ValueError: ``method`` or ``horizon_weeks`` is invalid.
    """
    t0 = time.perf_counter()
    deadline = Deadline(float(time_limit), clock or time.perf_counter)
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if horizon_weeks <= 0:
        raise ValueError(f"horizon_weeks must be positive, got {horizon_weeks}")
    config = config or AllocationConfig()
    timings: dict[str, float] = {}
    inp = read_inputs(customers, response, bonus_types, constraints, random_state=random_state)
    timings["inputs"] = time.perf_counter() - t0

    t, tick = time.perf_counter(), deadline.clock()
    val = value_pairs(
        inp,
        constraints,
        horizon_weeks=horizon_weeks,
        uplift=uplift,
        config=config,
        keep_pairs=with_reasons,
    )
    if not with_reasons:
        inp, val = release_pairs(inp, val)
    core = val.core
    timings["value"] = time.perf_counter() - t
    stage = deadline.clock() - tick

    t = time.perf_counter()
    solve_by = deadline.at - reserve_after_solve(stage, with_reasons=with_reasons)
    if solve_by - deadline.clock() < QUICK_FACTOR * stage:
        # no time left for the decomposition's first pass: the quick answer and its bound
        solution = quick_solution(core, deadline, solve_by)
    else:
        solution = _solve(
            core, method=method, deadline=deadline.until(solve_by), config=config, pricing=pricing
        )
    timings["solve"] = time.perf_counter() - t

    t = time.perf_counter()
    choice_core = drop_unneeded(core, solution.choice.copy())
    choice = np.full(inp.seg.shape[0], -1, dtype=np.int64)
    choice[core.rows] = choice_core
    decisions = build_decisions(
        inp,
        val,
        choice,
        choice_core,
        constraints,
        week_start=week_start,
        config=config,
        with_reasons=with_reasons,
    )
    timings["decisions"] = time.perf_counter() - t
    return summarise(
        decisions=decisions,
        core=core,
        choice=choice_core,
        solution=solution,
        segments=inp.segments,
        types=inp.types,
        seg=inp.seg,
        eligible=inp.eligible,
        control=inp.control,
        treatable=inp.treatable,
        estimators=val.estimators,
        timings=timings,
        started=t0,
        gap_tolerance=config.gap_tolerance,
    )


def _solve(
    core: Core,
    *,
    method: str,
    deadline: Deadline,
    config: AllocationConfig,
    pricing: PricingFactory | None = None,
) -> Solution:
    """Solve the core: exact MILP for small cores (or ``method="milp"``), else decomposition.

    A MILP that finds no incumbent within the time limit falls back to the decomposition (with
    what is left of the same deadline) and says so in the solution's method and status; a MILP
    whose relaxation is infeasible is explained by the decomposition (every constraint of the
    conflict named).
    """
    n_pairs = int(np.isfinite(core.value).sum())
    use_milp = method == "milp" or (method == "auto" and n_pairs <= config.exact_max_pairs)
    if core.rows.size == 0 and not core.coverage:
        return Solution(
            choice=np.zeros(0, dtype=np.int64),
            lp_bound=0.0,
            lp_bound_plus10=0.0,
            shadow={"budget": 0.0},
            status=STATUS_OPTIMAL,
            method="trivial (no positive pair)",
        )
    if not use_milp:
        return solve_dual(core, deadline=deadline, config=config, pricing=pricing)
    try:
        return solve_milp(core, deadline=deadline, config=config)
    except MilpInfeasible:
        raise explain(core, deadline=deadline) from None
    except MilpNoIncumbent as err:
        fallback = solve_dual(core, deadline=deadline, config=config, pricing=pricing)
        return replace(
            fallback,
            status=STATUS_TIME_LIMIT,
            method=f"milp without incumbent ({err}); fell back to {fallback.method}",
        )
