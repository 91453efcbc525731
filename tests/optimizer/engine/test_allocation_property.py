"""Property: budget and caps are never exceeded, whatever the small random instance."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from optimizer.engine.allocation import (
    ALLOCATED,
    AllocationConstraints,
    InfeasibleAllocation,
    allocate,
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    n=st.integers(1, 12),
    seed=st.integers(0, 10_000),
    budget=st.floats(0.0, 20.0),
    cap_a=st.integers(0, 5),
    method=st.sampled_from(["milp", "dual"]),
)
def test_allocate_never_exceeds_budget_or_caps(n, seed, budget, cap_a, method):
    rng = np.random.default_rng(seed)
    customers = pd.DataFrame(
        {
            "customer_id": rng.permutation(n).astype(np.int64),
            "segment": pd.array(rng.choice(["x", "y"], n), dtype="str"),
            "churn_probability": rng.random(n),
            "expected_visits": rng.uniform(0, 10, n),
            "expected_spend": rng.uniform(0, 500, n),
            "clv": rng.uniform(0, 2000, n),
            "days_since_last_visit": rng.uniform(0, 90, n),
            "usual_gap_days": rng.uniform(1, 40, n),
            "marketing_consent": rng.random(n) < 0.7,
        }
    )
    response = pd.DataFrame(
        {
            "customer_id": np.repeat(customers["customer_id"].to_numpy(), 2),
            "bonus_type": pd.array(["a", "b"] * n, dtype="str"),
            "response_probability": rng.random(2 * n),
        }
    )
    types = pd.DataFrame(
        {
            "bonus_type": pd.array(["a", "b"], dtype="str"),
            "cost_when_redeemed": rng.uniform(0, 10, 2),
            "validity_days": [3, 7],
            "requires_consent": [False, True],
        }
    )
    cons = AllocationConstraints(budget=budget, type_caps={"a": cap_a}, control_share=0.2)
    failure = None
    try:
        result = allocate(
            customers,
            response,
            types,
            cons,
            week_start=date(2024, 1, 1),
            horizon_weeks=4,
            random_state=seed,
            time_limit=10,
            method=method,
        )
    except InfeasibleAllocation as err:
        failure = err.constraint
    if failure is not None:
        assert failure == "eligibility"  # the only acceptable failure: nobody eligible
        return
    d = result.decisions
    alloc = d[d["status"] == ALLOCATED]
    assert alloc["expected_cost"].sum() <= budget + 1e-7
    assert (alloc["bonus_type"] == "a").sum() <= cap_a
    assert result.objective <= result.lp_bound + 1e-7
    assert (alloc["expected_value"] > 0).all()
