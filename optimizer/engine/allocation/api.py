"""Entry point of the allocation engine: who gets which bonus, and when, within budget.

Objective: maximise the total expected incremental value (``value.py``) of at most one bonus per
customer, subject to the expected-cost budget, per-type caps, segment coverage minima, contact
limits and eligibility; hold out a control group; time each bonus (``timing.py``); explain each
decision (``reasons.py``); report the bound, gap, binding constraints and shadow prices.

Flow: validate frames -> eligibility and contact capacity -> control group (``control.py``) ->
send day and validity window per pair (``timing.py``) -> P(redeem) for that window and the next
visit (``window.py``) -> expected value and cost -> core (``problem.py``) -> exact MILP
(``milp.py``) for small cores or Dantzig-Wolfe decomposition (``dual.py``) for large ones -> drop
non-positive pairs that no coverage minimum needs -> dates, reasons and summaries.

Constraints: pure and deterministic given ``random_state``; ``week_start`` and ``time_limit`` are
explicit; no clock is read except ``time.perf_counter`` for reported durations.
"""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import date

import numpy as np
import pandas as pd

from optimizer.engine.allocation.control import control_mask
from optimizer.engine.allocation.dual import solve_dual
from optimizer.engine.allocation.milp import MilpNoIncumbent, solve_milp
from optimizer.engine.allocation.problem import (
    Core,
    build_core,
    customer_arrays,
    pair_eligibility,
    response_matrix,
    segment_codes,
    type_table,
)
from optimizer.engine.allocation.reasons import build_reasons
from optimizer.engine.allocation.report import summarise
from optimizer.engine.allocation.solver import Solution, usage
from optimizer.engine.allocation.timing import next_visit_offset, pair_schedule
from optimizer.engine.allocation.types import (
    ALLOCATED,
    CONTROL,
    INELIGIBLE,
    NOT_SELECTED,
    STATUS_OPTIMAL,
    STATUS_TIME_LIMIT,
    AllocationConfig,
    AllocationConstraints,
    AllocationResult,
    InfeasibleAllocation,
)
from optimizer.engine.allocation.value import apply_uplift, model_margin
from optimizer.engine.allocation.window import redeem_probability

METHODS = ("auto", "milp", "dual")


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
        time_limit: solver wall-time limit in seconds.
        uplift: optional control-group results per (segment, bonus_type), see
            :func:`optimizer.engine.allocation.value.apply_uplift`.
        config: knobs (defaults: ``AllocationConfig()``).
        method: "auto" (MILP up to ``config.exact_max_pairs`` pairs), "milp" or "dual".
        with_reasons: build the ``reason`` column (skip for speed at chain scale).

    Returns:
        :class:`AllocationResult` (``decisions`` in input order).

    Raises:
        InfeasibleAllocation: no eligible customer, or a constraint that cannot hold (named).
        EngineInputError: a frame misses a column or holds values out of range.
        ValueError: ``method`` or ``horizon_weeks`` is invalid.
    """
    t0 = time.perf_counter()
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if horizon_weeks <= 0:
        raise ValueError(f"horizon_weeks must be positive, got {horizon_weeks}")
    config = config or AllocationConfig()
    timings: dict[str, float] = {}
    cust = customer_arrays(customers)
    seg, segments = segment_codes(customers)
    table = type_table(bonus_types)
    types = tuple(str(t) for t in table["bonus_type"])
    labels = tuple(str(x) for x in table["label"])
    resp = response_matrix(response, cust["customer_id"], types)
    pair_ok = pair_eligibility(table, cust, seg, segments, resp)
    contact_ok = (
        cust["recent_bonuses"] < constraints.contact_limit
        if constraints.contact_limit is not None
        else np.ones(seg.shape[0], dtype=bool)
    )
    pair_ok &= contact_ok[:, None]
    eligible: np.ndarray = np.any(pair_ok, axis=1)
    if not eligible.any():
        raise InfeasibleAllocation(
            f"no eligible customers: none of the {seg.shape[0]} customers passes the contact "
            "limit and the eligibility rules (segments, minimum CLV, consent) of any bonus type",
            constraint="eligibility",
        )
    control = control_mask(
        cust["customer_id"], seg, eligible, share=constraints.control_share, seed=random_state
    )
    treatable = eligible & ~control
    timings["inputs"] = time.perf_counter() - t0

    t = time.perf_counter()
    next_visit = next_visit_offset(
        cust["days_since_last_visit"],
        cust["usual_gap_days"],
        cust["expected_visits"],
        horizon_weeks,
    )
    send, expires = pair_schedule(
        next_visit=next_visit,
        churn=cust["churn_probability"],
        validity_days=table["validity_days"].to_numpy(dtype=np.int64),
        urgent_churn=config.urgent_churn,
        urgent_validity_days=config.urgent_validity_days,
        lead_days=config.lead_days,
    )
    window = expires - send[:, None] + 1
    if config.window_adjustment:
        resp = redeem_probability(
            resp,
            table["reference_visit_probability"].to_numpy(dtype=np.float64),
            window,
            (next_visit - send)[:, None],
        )
    margin = model_margin(
        churn=cust["churn_probability"],
        visits=cust["expected_visits"],
        spend=cust["expected_spend"],
        clv=cust["clv"],
        response=np.where(pair_ok, resp, np.nan),
        horizon_weeks=horizon_weeks,
        config=config,
    )
    margin, estimators = apply_uplift(
        margin,
        segment_codes=seg,
        segments=segments,
        types=types,
        uplift=uplift,
        prior_strength=config.uplift_prior_strength,
    )
    unit_cost = table["cost_when_redeemed"].to_numpy(dtype=np.float64)
    # A points bonus is credited when issued: its cost is certain, not conditional on a visit.
    charge = np.where(
        table["charged_on_issue"].to_numpy(dtype=bool)[None, :], 1.0, np.nan_to_num(resp)
    )
    cost = np.where(pair_ok, charge * unit_cost, 0.0)
    value = np.where(pair_ok, margin - cost, np.nan)
    del margin
    core = build_core(
        np.where(pair_ok, value, -np.inf),
        cost,
        pair_ok,
        treatable,
        seg,
        segments,
        types,
        constraints,
    )
    timings["value"] = time.perf_counter() - t

    t = time.perf_counter()
    n_pairs = int(np.isfinite(core.value).sum())
    use_milp = method == "milp" or (method == "auto" and n_pairs <= config.exact_max_pairs)
    if core.rows.size == 0 and not core.coverage:
        solution = Solution(
            choice=np.zeros(0, dtype=np.int64),
            lp_bound=0.0,
            lp_bound_plus10=0.0,
            shadow={"budget": 0.0},
            status=STATUS_OPTIMAL,
            method="trivial (no positive pair)",
        )
    elif use_milp:
        try:
            solution = solve_milp(core, time_limit=time_limit, config=config)
        except MilpNoIncumbent as err:
            fallback = solve_dual(core, time_limit=time_limit, config=config)
            solution = replace(
                fallback,
                status=STATUS_TIME_LIMIT,
                method=f"milp without incumbent ({err}); fell back to {fallback.method}",
            )
    else:
        solution = solve_dual(core, time_limit=time_limit, config=config)
    timings["solve"] = time.perf_counter() - t

    t = time.perf_counter()
    choice_core = _drop_unneeded(core, solution.choice.copy())
    choice = np.full(seg.shape[0], -1, dtype=np.int64)
    choice[core.rows] = choice_core
    allocated = choice >= 0
    rows = np.flatnonzero(allocated)
    status = np.full(seg.shape[0], NOT_SELECTED, dtype=object)
    status[~eligible] = INELIGIBLE
    status[control] = CONTROL
    status[allocated] = ALLOCATED
    chosen_value = np.zeros(seg.shape[0])
    chosen_value[rows] = value[rows, choice[rows]]
    chosen_cost = np.zeros(seg.shape[0])
    chosen_cost[rows] = cost[rows, choice[rows]]
    chosen_resp = np.zeros(seg.shape[0])
    chosen_resp[rows] = resp[rows, choice[rows]]
    est_table = estimators["estimator"].to_numpy(dtype=object).reshape(len(segments), len(types))
    estimator = np.full(seg.shape[0], "", dtype=object)
    estimator[rows] = est_table[seg[rows], choice[rows]]
    start = np.datetime64(week_start, "D")
    send_on = np.full(seg.shape[0], np.datetime64("NaT"), dtype="datetime64[s]")
    expires_on = send_on.copy()
    send_on[rows] = start + send[rows]
    expires_on[rows] = start + expires[rows, choice[rows]]
    segment_names = np.array(segments, dtype=object)[seg] if segments else np.zeros(0, object)
    status_codes = np.full(seg.shape[0], 3, dtype=np.int8)
    status_codes[~eligible] = 2
    status_codes[control] = 1
    status_codes[allocated] = 0
    decisions = pd.DataFrame(
        {
            "customer_id": cust["customer_id"],
            "segment": pd.Categorical.from_codes(seg, categories=list(segments)),
            "status": pd.Categorical.from_codes(
                status_codes, categories=[ALLOCATED, CONTROL, INELIGIBLE, NOT_SELECTED]
            ),
            "bonus_type": pd.Categorical.from_codes(
                np.where(allocated, choice, -1), categories=list(types)
            ),
            "expected_value": chosen_value,
            "expected_cost": chosen_cost,
            "response_probability": chosen_resp,
            "estimator": pd.Categorical(estimator),
            "send_on": send_on,
            "expires_on": expires_on,
        }
    )
    if with_reasons:
        use = usage(core, choice_core)
        decisions["reason"] = pd.array(
            build_reasons(
                status=status,
                segment=segment_names,
                churn=cust["churn_probability"],
                days_since=cust["days_since_last_visit"],
                next_visit=next_visit,
                urgent_churn=config.urgent_churn,
                value=value,
                choice=choice,
                labels=labels,
                estimator=estimator,
                recent=cust["recent_bonuses"],
                contact_limit=constraints.contact_limit,
                window_weeks=constraints.contact_window_weeks,
                forced=allocated & (chosen_value <= 0),
                cost=cost,
                types=types,
                budget_left=core.budget - use["cost"],
                cap_left=core.caps - use["count"],
                redeem=resp,
                window=window,
            ),
            dtype="str",
        )
    else:
        decisions["reason"] = pd.Categorical.from_codes(
            np.zeros(seg.shape[0], dtype=np.int8), categories=[""]
        )
    timings["decisions"] = time.perf_counter() - t
    return summarise(
        decisions=decisions,
        core=core,
        choice=choice_core,
        solution=solution,
        segments=segments,
        types=types,
        seg=seg,
        eligible=eligible,
        control=control,
        treatable=treatable,
        estimators=estimators,
        timings=timings,
        started=t0,
        gap_tolerance=config.gap_tolerance,
    )


def _drop_unneeded(core: Core, choice: np.ndarray) -> np.ndarray:
    """Remove allocations with value <= 0 that no coverage minimum needs."""
    rows = np.flatnonzero(choice >= 0)
    weak = rows[core.value[rows, choice[rows]] <= 0]
    if weak.size == 0:
        return choice
    need = dict(core.coverage)
    covered = np.bincount(core.seg[rows], minlength=len(core.segments))
    for i in weak[np.argsort(core.value[weak, choice[weak]], kind="stable")].tolist():
        s = int(core.seg[i])
        if covered[s] > need.get(s, 0):
            choice[i] = -1
            covered[s] -= 1
    return choice
