"""Allocation solver: exact optima by brute force, constraints, infeasibility, dual vs MILP."""

from __future__ import annotations

import itertools
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
TYPES = ("a", "b")


def tiny(n: int = 6, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """n customers in two segments, two bonus types with different costs."""
    rng = np.random.default_rng(seed)
    customers = pd.DataFrame(
        {
            "customer_id": np.arange(1, n + 1, dtype=np.int64),
            "segment": pd.array(["x", "y"] * (n // 2) + ["x"] * (n % 2), dtype="str"),
            "churn_probability": rng.uniform(0.05, 0.9, n),
            "expected_visits": rng.uniform(0.2, 8.0, n),
            "expected_spend": rng.uniform(20, 400, n),
            "clv": rng.uniform(50, 1500, n),
            "days_since_last_visit": rng.uniform(0, 60, n).round(),
            "usual_gap_days": rng.uniform(5, 30, n).round(),
            "marketing_consent": np.ones(n, dtype=bool),
        }
    )
    response = pd.DataFrame(
        {
            "customer_id": customers["customer_id"],
            "response_a": rng.uniform(0.05, 0.6, n),
            "response_b": rng.uniform(0.05, 0.6, n),
        }
    )
    types = pd.DataFrame(
        {
            "bonus_type": pd.array(list(TYPES), dtype="str"),
            "cost_when_redeemed": [8.0, 3.0],
            "validity_days": [7, 5],
        }
    )
    return customers, response, types


def run(customers, response, types, constraints, **kw):
    kw.setdefault("method", "milp")
    return allocate(
        customers,
        response,
        types,
        constraints,
        week_start=WEEK,
        horizon_weeks=8,
        random_state=0,
        time_limit=30,
        **kw,
    )


def best_by_enumeration(pairs, ids, segments, constraints: AllocationConstraints) -> float:
    """Best objective over every assignment (None or a type per customer): 3^n combinations."""
    best = 0.0
    need = {
        s: int(np.ceil(share * sum(1 for i in ids if segments[i] == s) - 1e-9))
        for s, share in constraints.segment_coverage.items()
    }
    for combo in itertools.product((None, *TYPES), repeat=len(ids)):
        value = cost = 0.0
        counts: dict[str, int] = {}
        covered: dict[str, int] = {}
        ok = True
        for i, t in zip(ids, combo, strict=True):
            if t is None:
                continue
            if (i, t) not in pairs:
                ok = False
                break
            v, c, s = pairs[(i, t)]
            value += v
            cost += c
            counts[t] = counts.get(t, 0) + 1
            covered[s] = covered.get(s, 0) + 1
        if not ok or cost > constraints.budget + 1e-9:
            continue
        if any(counts.get(t, 0) > cap for t, cap in constraints.type_caps.items()):
            continue
        if any(covered.get(s, 0) < n for s, n in need.items()):
            continue
        best = max(best, value)
    return best


def _all_pairs(customers, response, types):
    """Every eligible pair's value/cost, including non-positive ones (coverage forces them)."""
    out = {}
    for t in TYPES:
        only = types[types["bonus_type"] == t]
        for row in customers.itertuples():
            one = customers[customers["customer_id"] == row.customer_id]
            cons = AllocationConstraints(
                budget=1e9, control_share=0, segment_coverage={row.segment: 1.0}
            )
            res = run(one, response, only, cons)
            d = res.decisions.iloc[0]
            out[(row.customer_id, t)] = (d.expected_value, d.expected_cost, d.segment)
    return out


@pytest.mark.parametrize(
    "constraints",
    [
        AllocationConstraints(budget=2.0, control_share=0),
        AllocationConstraints(budget=3.5, type_caps={"b": 2}, control_share=0),
        AllocationConstraints(
            budget=4.0, type_caps={"a": 1}, segment_coverage={"y": 1.0}, control_share=0
        ),
    ],
)
@pytest.mark.parametrize("method", ["milp", "dual"])
def test_allocate_matches_brute_force_on_tiny_instances(constraints, method):
    customers, response, types = tiny(6, seed=3)
    pairs = _all_pairs(customers, response, types)
    ids = customers["customer_id"].tolist()
    segments = dict(zip(ids, customers["segment"], strict=True))
    expected = best_by_enumeration(pairs, ids, segments, constraints)
    result = run(customers, response, types, constraints, method=method)
    assert result.objective == pytest.approx(expected, rel=1e-6, abs=1e-6)
    assert result.lp_bound >= result.objective - 1e-9
    assert result.total_expected_cost <= constraints.budget + 1e-9


def test_allocate_respects_budget_caps_and_coverage():
    inst = make_instance(3_000, seed=5)
    result = run(inst.customers, inst.response, inst.bonus_types, inst.constraints, method="dual")
    d = result.decisions
    alloc = d[d["status"] == ALLOCATED]
    assert alloc["expected_cost"].sum() <= inst.constraints.budget + 1e-6
    for code, cap in inst.constraints.type_caps.items():
        assert (alloc["bonus_type"] == code).sum() <= cap
    treatable = d[(d["segment"] == "at risk") & d["status"].isin([ALLOCATED, "not_selected"])]
    assert (treatable["status"] == ALLOCATED).sum() >= np.ceil(0.3 * len(treatable) - 1e-9)
    assert (alloc["expected_value"] > 0).all() or "coverage:at risk" in {
        c.name for c in result.binding_constraints()
    }
    names = [c.name for c in result.constraints]
    assert names[0] == "budget"
    assert "coverage:at risk" in names
    assert result.status in ("optimal", "feasible-within-gap")


def test_allocate_gives_nothing_to_customer_at_contact_limit():
    customers, response, types = tiny(4)
    customers["recent_bonuses"] = [3, 0, 0, 0]
    cons = AllocationConstraints(budget=1e6, contact_limit=3, control_share=0)
    d = run(customers, response, types, cons).decisions.set_index("customer_id")
    assert d.loc[1, "status"] == "ineligible"
    assert "contact limit" in d.loc[1, "reason"]


def test_allocate_applies_eligibility_rules():
    customers, response, types = tiny(6)
    customers["clv"] = [100.0, 900.0, 900.0, 900.0, 900.0, 900.0]
    customers["marketing_consent"] = [True, True, False, True, True, True]
    types["allowed_segments"] = pd.array(["y", None], dtype="str")
    types["min_clv"] = [0.0, 500.0]
    types["requires_consent"] = [False, True]
    d = run(customers, response, types, AllocationConstraints(budget=1e6, control_share=0))
    d = d.decisions.set_index("customer_id")
    segs = customers.set_index("customer_id")["segment"]
    for cid, row in d.iterrows():
        if row["bonus_type"] == "a":
            assert segs[cid] == "y"
        if row["bonus_type"] == "b":
            assert cid not in (1, 3)
    assert d.loc[1, "status"] == "ineligible"
    assert d.loc[3, "status"] == "ineligible"


def test_allocate_raises_when_coverage_exceeds_budget():
    customers, response, types = tiny(6)
    cons = AllocationConstraints(budget=0.01, segment_coverage={"x": 1.0}, control_share=0)
    with pytest.raises(InfeasibleAllocation, match="coverage minimum") as err:
        run(customers, response, types, cons)
    assert err.value.constraint == "budget"
    assert "'x'" in str(err.value)


def test_allocate_raises_when_coverage_exceeds_caps():
    customers, response, types = tiny(6)
    cons = AllocationConstraints(
        budget=1e6, type_caps={"a": 1, "b": 1}, segment_coverage={"x": 1.0}, control_share=0
    )
    with pytest.raises(InfeasibleAllocation, match="caps") as err:
        run(customers, response, types, cons, method="dual")
    assert err.value.constraint == "coverage:x"


def test_allocate_raises_when_no_customer_is_eligible():
    customers, response, types = tiny(4)
    customers["recent_bonuses"] = 5
    cons = AllocationConstraints(budget=100, contact_limit=2)
    with pytest.raises(InfeasibleAllocation, match="no eligible customers") as err:
        run(customers, response, types, cons)
    assert err.value.constraint == "eligibility"


def test_dual_agrees_with_milp_on_2k_customers():
    inst = make_instance(2_000, seed=11)
    config = AllocationConfig(optimal_tolerance=1e-5)
    args = (inst.customers, inst.response, inst.bonus_types, inst.constraints)
    exact = run(*args, method="milp", config=config, with_reasons=False)
    dual = run(*args, method="dual", config=config, with_reasons=False)
    assert dual.objective == pytest.approx(exact.objective, rel=1e-3)
    assert dual.lp_bound == pytest.approx(exact.lp_bound, rel=1e-6)
    assert dual.budget_shadow_price == pytest.approx(exact.budget_shadow_price, rel=1e-3)


def test_dual_is_within_gap_of_lp_bound_at_200k():
    inst = make_instance(200_000, seed=2)
    result = allocate(
        inst.customers,
        inst.response,
        inst.bonus_types,
        inst.constraints,
        week_start=WEEK,
        horizon_weeks=inst.horizon_weeks,
        random_state=1,
        time_limit=60,
        with_reasons=False,
    )
    assert result.method.startswith("dantzig-wolfe")
    assert result.gap <= 1e-4
    assert result.status in ("optimal", "feasible-within-gap")
    assert result.total_expected_cost <= inst.constraints.budget * (1 + 1e-9)
    assert result.value_of_10pct_more_budget >= 0


@pytest.mark.parametrize("method", ["milp", "dual"])
def test_allocate_coverage_forces_non_positive_bonus_and_binds(method):
    customers, response, types = tiny(6)
    types["cost_when_redeemed"] = [500.0, 400.0]  # every pair loses money
    free = run(customers, response, types, AllocationConstraints(budget=1e6, control_share=0))
    assert (free.decisions["status"] != ALLOCATED).all()
    cons = AllocationConstraints(budget=1e6, segment_coverage={"y": 1.0}, control_share=0)
    result = run(customers, response, types, cons, method=method)
    d = result.decisions
    assert set(d.loc[d["status"] == ALLOCATED, "segment"]) == {"y"}
    assert (d["segment"] == "y").sum() == (d["status"] == ALLOCATED).sum()
    assert d.loc[d["status"] == ALLOCATED, "reason"].str.contains("coverage minimum").all()
    coverage = {c.name: c for c in result.constraints}["coverage:y"]
    assert coverage.binding
    assert coverage.shadow_price > 0
    assert result.objective < 0


def test_dual_greedy_repair_stays_feasible_when_residual_milp_fails(monkeypatch):
    monkeypatch.setattr("optimizer.engine.allocation.recovery.solve_sub_milp", lambda *a, **k: None)
    # and no feasible LP rounding to fall back on: the greedy repair is the last resort
    monkeypatch.setattr(
        "optimizer.engine.allocation.recovery._feasible_rounding", lambda *a, **k: None
    )
    inst = make_instance(5_000, seed=6)
    result = run(
        inst.customers,
        inst.response,
        inst.bonus_types,
        inst.constraints,
        method="dual",
        with_reasons=False,
    )
    assert result.method == "dantzig-wolfe + greedy repair"
    assert result.total_expected_cost <= inst.constraints.budget + 1e-6
    by_type = result.by_bonus_type["allocated"]
    for code, cap in inst.constraints.type_caps.items():
        assert by_type[code] <= cap
    assert result.gap < 0.01


def test_milp_without_incumbent_falls_back_and_reports_time_limit(monkeypatch):
    from optimizer.engine.allocation.milp import MilpNoIncumbent

    def no_incumbent(*_args, **_kwargs):
        raise MilpNoIncumbent("HiGHS found no integer solution in 1 s (time limit 1 s)")

    monkeypatch.setattr("optimizer.engine.allocation.api.solve_milp", no_incumbent)
    customers, response, types = tiny(6)
    cons = AllocationConstraints(budget=3.0, segment_coverage={"y": 0.5}, control_share=0)
    result = run(customers, response, types, cons, method="milp")
    assert result.status == "time_limit"
    assert result.method.startswith("milp without incumbent")
    assert result.total_expected_cost <= 3.0 + 1e-9
