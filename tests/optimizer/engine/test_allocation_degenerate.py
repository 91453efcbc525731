"""Degenerate allocation instances: ties, coarse values, one type, nothing binding, budget 0,
and minimums that conflict with limits. Each either ends within 1e-4 of the LP bound, within
every limit, or raises an error naming every constraint of the conflict."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import numpy as np
import pandas as pd
import pytest

from optimizer.engine.allocation import (
    ALLOCATED,
    AllocationConfig,
    AllocationConstraints,
    InfeasibleAllocation,
    allocate,
)
from optimizer.engine.allocation.synthetic import make_instance

WEEK = date(2024, 3, 4)
#: The scale of the report (8.5% below the optimum at 100k): at a few thousand customers the
#: integer optimum itself may lie more than 1e-4 below the LP bound.
N = 100_000
CUSTOMER_FIELDS = (
    "churn_probability",
    "expected_visits",
    "expected_spend",
    "clv",
    "days_since_last_visit",
    "usual_gap_days",
)


def frames(n: int = N, *, seed: int = 3) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    inst = make_instance(n, seed=seed)
    customers = inst.customers.copy()
    customers["marketing_consent"] = True
    customers["recent_bonuses"] = 0
    return customers, inst.response.copy(), inst.bonus_types


def make_identical(
    customers: pd.DataFrame, response: pd.DataFrame, rows: np.ndarray
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Copy the first customer's features and responses onto ``rows`` (one segment: "new")."""
    customers, response = customers.copy(), response.copy()
    for col in CUSTOMER_FIELDS:
        customers.loc[rows, col] = customers[col].iloc[0]
    customers.loc[rows, "segment"] = "new"
    for col in response.columns[1:]:
        response.loc[rows, col] = response[col].iloc[0]
    return customers, response


def solve(customers, response, types, constraints, *, method="dual", **kw):
    return allocate(
        customers,
        response,
        types,
        constraints,
        week_start=WEEK,
        horizon_weeks=8,
        random_state=0,
        time_limit=120,
        method=method,
        with_reasons=False,
        **kw,
    )


def assert_within_limits(result, constraints: AllocationConstraints) -> None:
    assert result.total_expected_cost <= constraints.budget * (1 + 1e-9) + 1e-9
    for code, cap in constraints.type_caps.items():
        assert result.by_bonus_type.loc[code, "allocated"] <= cap
    for report in result.constraints:
        assert report.slack >= -1e-6 * max(1.0, abs(report.limit)), report


def assert_within_gap(result, constraints: AllocationConstraints) -> None:
    assert_within_limits(result, constraints)
    assert result.gap <= 1e-4, (result.gap, result.method, result.details)
    assert result.status in ("optimal", "feasible-within-gap")
    assert not result.gap_exceeds_tolerance


def test_allocate_is_within_gap_when_all_customers_are_identical():
    customers, response, types = frames()
    customers, response = make_identical(customers, response, np.arange(N))
    cons = AllocationConstraints(
        budget=0.04 * N,
        type_caps={"coupon10": 300, "coupon5": 300},
        segment_coverage={"new": 0.3},
        contact_limit=None,
    )
    result = solve(customers, response, types, cons)
    assert_within_gap(result, cons)
    # budget binds: the repair no longer stops at its first feasible answer with money unspent
    assert result.total_expected_cost >= 0.99 * cons.budget


def test_allocate_is_within_gap_when_half_the_customers_are_identical():
    customers, response, types = frames()
    customers, response = make_identical(customers, response, np.arange(0, N, 2))
    cons = AllocationConstraints(
        budget=0.1 * N,
        type_caps={"coupon10": 400, "coupon5": 400},
        segment_coverage={"new": 0.4, "at risk": 0.3},
        contact_limit=None,
    )
    result = solve(customers, response, types, cons)
    assert_within_gap(result, cons)


def test_allocate_is_within_gap_when_values_are_rounded_to_a_tenth():
    customers, response, types = frames()
    for col in response.columns[1:]:
        response[col] = response[col].round(1)
    for col in CUSTOMER_FIELDS:
        customers[col] = customers[col].round(-1)
    cons = AllocationConstraints(
        budget=0.2 * N,
        type_caps={"coupon10": 800, "coupon5": 800},
        segment_coverage={"at risk": 0.3},
        contact_limit=None,
    )
    result = solve(customers, response, types, cons)
    assert_within_gap(result, cons)


@pytest.mark.parametrize("method", ["dual", "milp"])
def test_allocate_is_within_gap_with_one_bonus_type(method):
    n = N if method == "dual" else 2_000
    customers, response, types = frames(n)
    types = types.iloc[[2]].reset_index(drop=True)
    response = response[["customer_id", "response_points2x"]]
    cons = AllocationConstraints(budget=0.05 * n, segment_coverage={"at risk": 0.2})
    result = solve(customers, response, types, cons, method=method)
    assert_within_gap(result, cons)
    allocated = result.decisions.loc[result.decisions["status"] == ALLOCATED, "bonus_type"]
    assert set(allocated) == {"points2x"}


def test_allocate_gives_every_positive_pair_when_nothing_binds():
    customers, response, types = frames()
    cons = AllocationConstraints(budget=1e9, contact_limit=None)
    result = solve(customers, response, types, cons)
    assert_within_gap(result, cons)
    assert result.gap == pytest.approx(0.0, abs=1e-9)
    assert not any(c.binding for c in result.constraints)


def test_allocate_with_budget_zero_gives_only_free_bonuses():
    customers, response, types = frames(2_000)
    cons = AllocationConstraints(budget=0.0)
    result = solve(customers, response, types, cons)
    assert_within_gap(result, cons)
    assert result.total_expected_cost == 0.0
    assert (result.decisions["expected_cost"] == 0).all()


def test_allocate_names_every_constraint_when_two_minimums_conflict_with_the_budget():
    customers, response, types = frames(5_000)
    cons = AllocationConstraints(
        budget=30.0,
        segment_coverage={"at risk": 0.5, "loyal": 0.5},
        contact_limit=None,
    )
    for method in ("dual", "milp"):
        with pytest.raises(InfeasibleAllocation) as err:
            solve(customers, response, types, cons, method=method)
        assert set(err.value.constraints) == {"coverage:at risk", "coverage:loyal", "budget"}
        for name in err.value.constraints:
            assert repr(name) in str(err.value)


def test_allocate_flags_a_gap_above_the_tolerance():
    customers, response, types = frames(3_000)
    cons = AllocationConstraints(budget=70.0, type_caps={"coupon10": 30})
    config = AllocationConfig(gap_tolerance=1e-12, optimal_tolerance=1e-12)
    result = solve(customers, response, types, cons, method="dual", config=config)
    assert result.gap > 1e-12  # rounding the LP rarely meets its bound to the cent
    assert result.gap_exceeds_tolerance
    assert result.status == "feasible"  # never "within gap" when it is not
    relaxed = solve(customers, response, types, cons, method="dual")
    assert relaxed.gap_exceeds_tolerance == (relaxed.gap > relaxed.gap_tolerance)
    assert replace(relaxed.constraints[0]).name == "budget"
