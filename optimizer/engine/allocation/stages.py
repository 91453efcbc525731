"""The timed stages of :func:`optimizer.engine.allocation.api.allocate`, one function each.

Objective: keep ``allocate`` a short list of its stages (inputs, value, solve, decisions), each of
which reports its own time; the solve stage stays in ``api.py``. Each stage takes the previous
stage's frozen result, so the flow reads top to bottom and every intermediate array has a name.

Constraints: pure and deterministic given ``random_state``; no clock is read here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from optimizer.engine.allocation.control import control_mask
from optimizer.engine.allocation.coupling import Row, build_rows, pair_weights
from optimizer.engine.allocation.coupling import usage as coupling_usage
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
from optimizer.engine.allocation.solver import usage
from optimizer.engine.allocation.timing import next_visit_offset, schedule
from optimizer.engine.allocation.types import (
    ALLOCATED,
    CONTROL,
    INELIGIBLE,
    NOT_SELECTED,
    AllocationConfig,
    AllocationConstraints,
    InfeasibleAllocation,
)
from optimizer.engine.allocation.value import apply_uplift, model_margin
from optimizer.engine.allocation.window import redeem_probability


@dataclass(frozen=True)
class Inputs:
    """The validated inputs as arrays: who may get which type, and who is held out."""

    cust: dict[str, np.ndarray]
    seg: np.ndarray
    segments: tuple[str, ...]
    table: pd.DataFrame
    types: tuple[str, ...]
    labels: tuple[str, ...]
    resp: np.ndarray
    pair_ok: np.ndarray
    eligible: np.ndarray
    control: np.ndarray
    treatable: np.ndarray
    extra: tuple[Row, ...] = ()
    groups: tuple[np.ndarray, ...] = ()


@dataclass(frozen=True)
class Valued:
    """Each pair's timing, P(redeem) for its window, expected cost and value, and the core."""

    next_visit: np.ndarray
    send: np.ndarray
    expires: np.ndarray
    window: np.ndarray
    resp: np.ndarray
    estimators: pd.DataFrame
    cost: np.ndarray
    value: np.ndarray
    core: Core


def read_inputs(
    customers: pd.DataFrame,
    response: pd.DataFrame,
    bonus_types: pd.DataFrame,
    constraints: AllocationConstraints,
    *,
    random_state: int,
) -> Inputs:
    """Validate the frames, apply eligibility and the contact limit, draw the control group.

    Raises:
        InfeasibleAllocation: no customer is eligible for any type.
    """
    cust = customer_arrays(customers)
    seg, segments = segment_codes(customers)
    table = type_table(bonus_types)
    types = tuple(str(t) for t in table["bonus_type"])
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
    extra, groups = build_rows(tuple(constraints.coupling), customers, table)
    return Inputs(
        cust=cust,
        seg=seg,
        segments=segments,
        table=table,
        types=types,
        labels=tuple(str(x) for x in table["label"]),
        resp=resp,
        pair_ok=pair_ok,
        eligible=eligible,
        control=control,
        treatable=eligible & ~control,
        extra=extra,
        groups=groups,
    )


def _timing(
    inp: Inputs, *, horizon_weeks: int, config: AllocationConfig
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(next_visit, send, expires, window, resp)``: when each pair is sent and expires, and
    P(redeem) adjusted to that window (when ``config.window_adjustment``)."""
    cust, table = inp.cust, inp.table
    next_visit = next_visit_offset(
        cust["days_since_last_visit"],
        cust["usual_gap_days"],
        cust["expected_visits"],
        horizon_weeks,
    )
    # ``schedule`` broadcasts: per customer (n, 1) against per type (1, K) gives the (n, K)
    # expiries without repeating every customer K times (``timing.pair_schedule``'s 6M copies).
    send2, expires = schedule(
        next_visit=next_visit[:, None],
        churn=cust["churn_probability"][:, None],
        validity_days=table["validity_days"].to_numpy(dtype=np.int64)[None, :],
        urgent_churn=config.urgent_churn,
        urgent_validity_days=config.urgent_validity_days,
        lead_days=config.lead_days,
    )
    send = send2[:, 0]
    # offsets and windows are days within one week: int8 keeps two (n, K) arrays at 1/8 size
    expires = expires.astype(np.int8)
    window = (expires - send2.astype(np.int8) + 1).astype(np.int8)
    resp = inp.resp
    if config.window_adjustment:
        resp = redeem_probability(
            resp,
            table["reference_visit_probability"].to_numpy(dtype=np.float64),
            window,
            (next_visit - send)[:, None],
        )
    return next_visit, send, expires, window, resp


def value_pairs(
    inp: Inputs,
    constraints: AllocationConstraints,
    *,
    horizon_weeks: int,
    uplift: pd.DataFrame | None,
    config: AllocationConfig,
) -> Valued:
    """Time every pair, then price it: expected margin (with uplift) minus expected cost."""
    next_visit, send, expires, window, resp = _timing(
        inp, horizon_weeks=horizon_weeks, config=config
    )
    cust, pair_ok = inp.cust, inp.pair_ok
    # (n, K) float64 arrays dominate the memory at chain scale: each one below is built once and
    # then updated in place (1M x 6 = 48 MB each, 10M x 6 = 480 MB).
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
        segment_codes=inp.seg,
        segments=inp.segments,
        types=inp.types,
        uplift=uplift,
        prior_strength=config.uplift_prior_strength,
    )
    unit_cost = inp.table["cost_when_redeemed"].to_numpy(dtype=np.float64)
    cost = np.nan_to_num(resp)
    cost *= unit_cost[None, :]
    # A points bonus is credited when issued: its cost is certain, not conditional on a visit.
    on_issue = inp.table["charged_on_issue"].to_numpy(dtype=bool)
    cost[:, on_issue] = unit_cost[on_issue][None, :]
    ineligible = ~pair_ok
    cost[ineligible] = 0.0
    value = margin  # margin is not used again: the value is computed in its array
    value -= cost
    value[ineligible] = np.nan
    del margin, ineligible
    core = build_core(
        value,
        cost,
        pair_ok,
        inp.treatable,
        inp.seg,
        inp.segments,
        inp.types,
        constraints,
        inp.extra,
        inp.groups,
    )
    return Valued(
        next_visit=next_visit,
        send=send,
        expires=expires,
        window=window,
        resp=resp,
        estimators=estimators,
        cost=cost,
        value=value,
        core=core,
    )


def drop_unneeded(core: Core, choice: np.ndarray) -> np.ndarray:
    """Remove allocations with value <= 0 that no minimum (coverage or ``>=`` row) needs."""
    rows = np.flatnonzero(choice >= 0)
    weak = rows[core.value[rows, choice[rows]] <= 0]
    if weak.size == 0:
        return choice
    need = dict(core.coverage)
    covered = np.bincount(core.seg[rows], minlength=len(core.segments))
    weak = weak[np.argsort(core.value[weak, choice[weak]], kind="stable")]
    minimum = np.array([r.sense == ">=" for r in core.extra], dtype=bool)
    used = coupling_usage(core.extra, core.groups, core.cost, choice)
    weights = pair_weights(core.extra, core.groups, core.cost, weak, choice[weak])
    limits = core.extra_limits()
    for m, i in enumerate(weak.tolist()):
        s = int(core.seg[i])
        after = used - weights[m]
        if covered[s] > need.get(s, 0) and np.all(after[minimum] >= limits[minimum] - 1e-9):
            choice[i] = -1
            covered[s] -= 1
            used = after
    return choice


def build_decisions(
    inp: Inputs,
    val: Valued,
    choice: np.ndarray,
    choice_core: np.ndarray,
    constraints: AllocationConstraints,
    *,
    week_start: date,
    config: AllocationConfig,
    with_reasons: bool,
) -> pd.DataFrame:
    """One row per customer (input order): status, chosen type, value, cost, dates, reason.
    ``choice``: the chosen type per customer (-1: none); ``choice_core``: the same per core row.
    """
    n, seg, segments, types = inp.seg.shape[0], inp.seg, inp.segments, inp.types
    allocated = choice >= 0
    rows = np.flatnonzero(allocated)
    chosen_value, chosen_cost, chosen_resp = (
        _chosen(matrix, rows, choice) for matrix in (val.value, val.cost, val.resp)
    )
    # the estimator per (segment, type) as category codes: no per-customer Python strings
    est_codes, est_names = pd.factorize(
        np.r_[np.array([""], dtype=object), val.estimators["estimator"].to_numpy(dtype=object)]
    )
    estimator_codes = np.zeros(n, dtype=np.int64)
    estimator_codes[rows] = est_codes[1 + seg[rows] * len(types) + choice[rows]]
    start = np.datetime64(week_start, "D")
    send_on = np.full(n, np.datetime64("NaT"), dtype="datetime64[s]")
    expires_on = send_on.copy()
    send_on[rows] = start + val.send[rows]
    expires_on[rows] = start + val.expires[rows, choice[rows]]
    status_codes = np.full(n, 3, dtype=np.int8)
    status_codes[~inp.eligible] = 2
    status_codes[inp.control] = 1
    status_codes[allocated] = 0
    decisions = pd.DataFrame(
        {
            "customer_id": inp.cust["customer_id"],
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
            "estimator": pd.Categorical.from_codes(
                estimator_codes, categories=list(est_names)
            ).remove_unused_categories(),
            "send_on": send_on,
            "expires_on": expires_on,
        }
    )
    if with_reasons:
        decisions["reason"] = pd.array(
            _reasons(
                inp,
                val,
                choice,
                choice_core,
                constraints,
                chosen_value,
                np.asarray(est_names, dtype=object)[estimator_codes],
                config,
            ),
            dtype="str",
        )
    else:
        decisions["reason"] = pd.Categorical.from_codes(np.zeros(n, dtype=np.int8), categories=[""])
    return decisions


def _chosen(matrix: np.ndarray, rows: np.ndarray, choice: np.ndarray) -> np.ndarray:
    """Per customer, ``matrix``'s entry for the chosen type (0 where nothing was chosen)."""
    out = np.zeros(choice.shape[0])
    out[rows] = matrix[rows, choice[rows]]
    return out


def _reasons(
    inp: Inputs,
    val: Valued,
    choice: np.ndarray,
    choice_core: np.ndarray,
    constraints: AllocationConstraints,
    chosen_value: np.ndarray,
    estimator: np.ndarray,
    config: AllocationConfig,
) -> list[str]:
    """The ``reason`` of every decision (see ``reasons.py``)."""
    n, seg, segments = inp.seg.shape[0], inp.seg, inp.segments
    allocated = choice >= 0
    status = np.full(n, NOT_SELECTED, dtype=object)
    status[~inp.eligible] = INELIGIBLE
    status[inp.control] = CONTROL
    status[allocated] = ALLOCATED
    segment_names = np.array(segments, dtype=object)[seg] if segments else np.zeros(0, object)
    use = usage(val.core, choice_core)
    return build_reasons(
        status=status,
        segment=segment_names,
        churn=inp.cust["churn_probability"],
        days_since=inp.cust["days_since_last_visit"],
        next_visit=val.next_visit,
        urgent_churn=config.urgent_churn,
        value=val.value,
        choice=choice,
        labels=inp.labels,
        estimator=estimator,
        recent=inp.cust["recent_bonuses"],
        contact_limit=constraints.contact_limit,
        window_weeks=constraints.contact_window_weeks,
        forced=allocated & (chosen_value <= 0),
        cost=val.cost,
        types=inp.types,
        budget_left=val.core.budget - use["cost"],
        cap_left=val.core.caps - use["count"],
        redeem=val.resp,
        window=val.window,
    )
