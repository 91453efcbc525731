"""The timed stages of :func:`optimizer.engine.allocation.api.allocate`, one function each.

Objective: keep ``allocate`` a short list of its stages (inputs, value, solve, decisions), each of
which reports its own time; the solve stage stays in ``api.py``, the decisions stage is
``decisions.py``. Each stage takes the previous
stage's frozen result, so the flow reads top to bottom and every intermediate array has a name.

Constraints: pure and deterministic given ``random_state``; no clock is read here.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

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
from optimizer.engine.allocation.timing import next_visit_offset, schedule
from optimizer.engine.allocation.types import (
    AllocationConfig,
    AllocationConstraints,
    InfeasibleAllocation,
)
from optimizer.engine.allocation.value import apply_uplift, margin_per_visit
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
    """Each pair's timing, P(redeem) for its window, expected cost and value, and the core.

    ``cost`` and ``value`` cover every customer when ``value_pairs`` kept them (the reasons
    read them); else they are None and the core holds them for its rows (all a decision needs).
    ``resp`` is per customer, or (``resp_rows`` set, see :func:`release_pairs`) per core row.
    """

    next_visit: np.ndarray | None
    send: np.ndarray
    expires: np.ndarray
    window: np.ndarray | None
    resp: np.ndarray
    estimators: pd.DataFrame
    cost: np.ndarray | None
    value: np.ndarray | None
    core: Core
    resp_rows: np.ndarray | None = None


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


#: Customers per slice of the value stage: its per-pair temporaries (the window's
#: ``exp``, the masked response, the products) then live for one slice of (CHUNK, K), 48 MB at
#: K = 6, instead of (n, K) each (480 MB at 10M x 6); 1M is one slice.
CHUNK = 1_000_000


def _chunks(n: int, size: int = CHUNK) -> list[tuple[int, int]]:
    return [(a, min(a + size, n)) for a in range(0, n, size)] or [(0, 0)]


def value_pairs(
    inp: Inputs,
    constraints: AllocationConstraints,
    *,
    horizon_weeks: int,
    uplift: pd.DataFrame | None,
    config: AllocationConfig,
    keep_pairs: bool = True,
) -> Valued:
    """Time every pair, then price it: expected margin (with uplift) minus expected cost.

    ``keep_pairs=False`` (no reasons to build) lets the core take the value and cost arrays
    over instead of copying its rows out of them (``build_core(in_place=True)``).

    The (n, K) arrays (P(redeem), cost, value: float64, 480 MB each at 10M x 6) are allocated
    once and filled in customer-range slices of :data:`CHUNK`; P(redeem) overwrites
    ``inp.resp`` (the raw response is not read after this stage). float64 stays: the values
    are summed over millions of customers in the bound and the objective, where float32's
    7 digits would cost more than the 1e-4 gap allows.
    """
    cust, pair_ok, table = inp.cust, inp.pair_ok, inp.table
    n, k = pair_ok.shape
    next_visit = next_visit_offset(
        cust["days_since_last_visit"],
        cust["usual_gap_days"],
        cust["expected_visits"],
        horizon_weeks,
    )
    per_visit = margin_per_visit(
        churn=cust["churn_probability"],
        visits=cust["expected_visits"],
        spend=cust["expected_spend"],
        clv=cust["clv"],
        horizon_weeks=horizon_weeks,
        config=config,
    )
    validity = table["validity_days"].to_numpy(dtype=np.int64)[None, :]
    reference = table["reference_visit_probability"].to_numpy(dtype=np.float64)
    unit_cost = table["cost_when_redeemed"].to_numpy(dtype=np.float64)
    # A points bonus is credited when issued: its cost is certain, not conditional on a visit.
    on_issue = table["charged_on_issue"].to_numpy(dtype=bool)
    resp = inp.resp
    send = np.empty(n, dtype=np.int8)
    # offsets and windows are days within one week: int8 keeps two (n, K) arrays at 1/8 size
    expires = np.empty((n, k), dtype=np.int8)
    window = np.empty((n, k), dtype=np.int8)
    cost = np.empty((n, k))
    value = np.empty((n, k))  # the margin first, then (after the uplift) minus the cost
    for a, b in _chunks(n):
        # ``schedule`` broadcasts per customer (m, 1) against per type (1, K)
        send2, ex = schedule(
            next_visit=next_visit[a:b, None],
            churn=cust["churn_probability"][a:b, None],
            validity_days=validity,
            urgent_churn=config.urgent_churn,
            urgent_validity_days=config.urgent_validity_days,
            lead_days=config.lead_days,
        )
        send[a:b] = send2[:, 0]
        expires[a:b] = ex
        window[a:b] = ex - send2 + 1
        ok = pair_ok[a:b]
        r = resp[a:b]
        if config.window_adjustment:
            r[...] = redeem_probability(
                r, reference, window[a:b], (next_visit[a:b] - send[a:b])[:, None]
            )
        c = cost[a:b]
        np.multiply(np.nan_to_num(r), unit_cost[None, :], out=c)
        c[:, on_issue] = unit_cost[on_issue][None, :]
        c[~ok] = 0.0
        m = value[a:b]
        np.multiply(r, per_visit[a:b, None], out=m)
        m[~ok] = np.nan
    value, estimators = apply_uplift(
        value,
        segment_codes=inp.seg,
        segments=inp.segments,
        types=inp.types,
        uplift=uplift,
        prior_strength=config.uplift_prior_strength,
        in_place=True,
    )
    value -= cost  # NaN (ineligible) stays NaN
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
        in_place=not keep_pairs,
    )
    return Valued(
        next_visit=next_visit,
        send=send,
        expires=expires,
        window=window,
        resp=resp,
        estimators=estimators,
        cost=cost if keep_pairs else None,
        value=value if keep_pairs else None,
        core=core,
    )


def release_pairs(inp: Inputs, val: Valued) -> tuple[Inputs, Valued]:
    """Without reasons, after the value stage: let go of what only the reasons read.

    P(redeem) is kept for the core's rows only, as float32 (a reported probability; 7 digits),
    and the per-customer floats other than the id, the next visit and the windows are dropped:
    at 10M x 6 that is 0.32 GB of (n, K) and 0.64 GB of per-customer arrays fewer alive during
    the solve. The caller must hold
    no other reference to ``inp`` or ``val`` for the memory to be freed.
    """
    rows = val.core.rows
    resp = np.empty((rows.shape[0], val.resp.shape[1]), dtype=np.float32)
    for a, b in _chunks(rows.shape[0]):
        resp[a:b] = val.resp[rows[a:b]]
    slim_inp = replace(inp, cust={"customer_id": inp.cust["customer_id"]}, resp=resp)
    return slim_inp, replace(val, resp=resp, resp_rows=rows, next_visit=None, window=None)


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
