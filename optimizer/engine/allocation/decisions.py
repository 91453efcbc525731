"""The last timed stage of :func:`optimizer.engine.allocation.api.allocate`: one decision per
customer (status, bonus type, expected value and cost, send and expiry dates, reason).

Constraints: pure and deterministic; no clock is read here (``week_start`` is given).
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from optimizer.engine.allocation.reasons import build_reasons
from optimizer.engine.allocation.solver import usage
from optimizer.engine.allocation.stages import Inputs, Valued
from optimizer.engine.allocation.types import (
    ALLOCATED,
    CONTROL,
    INELIGIBLE,
    NOT_SELECTED,
    AllocationConfig,
    AllocationConstraints,
)


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
    chosen_resp = (
        _chosen(val.resp, rows, choice)
        if val.resp_rows is None
        else _chosen_core(val.resp, val.resp_rows, choice_core, n)
    )
    if val.value is not None and val.cost is not None:
        chosen_value, chosen_cost = (_chosen(m, rows, choice) for m in (val.value, val.cost))
    else:  # the core holds every chosen pair (its rows are the only ones a choice is made for)
        chosen_value, chosen_cost = (
            _chosen_core(m, val.core.rows, choice_core, n) for m in (val.core.value, val.core.cost)
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


def _chosen_core(
    matrix: np.ndarray, core_rows: np.ndarray, choice_core: np.ndarray, n: int
) -> np.ndarray:
    """Per customer, the core ``matrix``'s entry for the chosen type (0 where none)."""
    out = np.zeros(n)
    picked = np.flatnonzero(choice_core >= 0)
    out[core_rows[picked]] = matrix[picked, choice_core[picked]]
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
    if (
        val.value is None
        or val.cost is None
        or val.next_visit is None
        or val.window is None
        or val.resp_rows is not None
    ):
        raise ValueError("reasons need every pair's value and cost: value_pairs(keep_pairs=True)")
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
