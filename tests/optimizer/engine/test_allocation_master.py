"""The decomposition's master (a persistent HiGHS model) and its bound with many coupling rows:
hand-checked master LPs, coupled instances against the direct MILP, and valid bounds at any
multipliers."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from optimizer.engine.allocation import (
    AllocationConfig,
    AllocationConstraints,
    CouplingConstraint,
    allocate,
)
from optimizer.engine.allocation.deadline import Deadline
from optimizer.engine.allocation.master import _Columns, _master
from optimizer.engine.allocation.milp import solve_milp, solve_sub_milp
from optimizer.engine.allocation.pricing import LocalPricing
from optimizer.engine.allocation.problem import Core
from optimizer.engine.allocation.solver import is_feasible, objective
from optimizer.engine.allocation.stages import read_inputs, value_pairs
from optimizer.engine.allocation.synthetic import make_instance

WEEK = date(2024, 3, 4)
STORES = 8
MICRO = 4


def one_block_core(budget: float) -> Core:
    """A core with two types and no caps or minimums: only the master's budget row matters."""
    return Core(
        rows=np.arange(1),
        value=np.zeros((1, 2)),
        cost=np.zeros((1, 2)),
        seg=np.zeros(1, dtype=np.int64),
        budget=budget,
        caps=np.full(2, np.inf),
        coverage=(),
        types=("a", "b"),
        segments=("s",),
    )


def add_column(cols: _Columns, value: float, cost: float, count: tuple[float, float]) -> None:
    cols.value.append(value)
    cols.cost.append(cost)
    cols.count.append(np.array(count))
    cols.cover.append(np.zeros(0))
    cols.extra.append(np.zeros(0))
    cols.block.append(0)
    cols.source.append(len(cols.source))


def test_master_mixes_columns_and_prices_the_budget():
    # columns: nothing (0, 0), A (value 10, cost 5), B (6, 2); budget 3:
    # the optimum mixes 1/3 A + 2/3 B = 22/3, and the budget's dual is (10 - 6) / (5 - 2)
    core = one_block_core(3.0)
    cols = _Columns([], [], [], [], [])
    add_column(cols, 0.0, 0.0, (0.0, 0.0))
    add_column(cols, 10.0, 5.0, (1.0, 0.0))
    add_column(cols, 6.0, 2.0, (0.0, 1.0))
    m = _master(cols, core, 3.0, np.zeros(0), 100.0, 10.0)
    assert m["master"] == pytest.approx(22 / 3)
    assert m["lam"] == pytest.approx(4 / 3)
    assert m["theta"] == pytest.approx([0.0, 1 / 3, 2 / 3])


def test_master_keeps_its_model_and_takes_new_columns_and_budgets():
    core = one_block_core(3.0)
    cols = _Columns([], [], [], [], [])
    add_column(cols, 0.0, 0.0, (0.0, 0.0))
    add_column(cols, 10.0, 5.0, (1.0, 0.0))
    _master(cols, core, 3.0, np.zeros(0), 100.0, 10.0)
    model = cols.lp
    add_column(cols, 9.0, 3.0, (0.0, 1.0))
    assert _master(cols, core, 3.0, np.zeros(0), 100.0, 10.0)["master"] == pytest.approx(9.0)
    assert _master(cols, core, 5.0, np.zeros(0), 100.0, 10.0)["master"] == pytest.approx(10.0)
    assert cols.lp is model
    assert model is not None
    assert model.h.getNumCol() == 3


def test_master_reports_the_shortfall_of_an_unreachable_minimum():
    core = Core(
        rows=np.arange(1),
        value=np.zeros((1, 1)),
        cost=np.zeros((1, 1)),
        seg=np.zeros(1, dtype=np.int64),
        budget=1.0,
        caps=np.full(1, np.inf),
        coverage=((0, 3.0),),
        types=("a",),
        segments=("s",),
    )
    cols = _Columns([], [], [], [], [])
    for value, cover in ((0.0, 0.0), (5.0, 2.0)):
        cols.value.append(value)
        cols.cost.append(0.0)
        cols.count.append(np.array([cover]))
        cols.cover.append(np.array([cover]))
        cols.extra.append(np.zeros(0))
        cols.block.append(0)
    m = _master(cols, core, 1.0, np.array([3.0]), 100.0, 10.0)
    assert m["short_cov"] == pytest.approx([1.0])
    assert m["nu"] == pytest.approx([100.0])
    assert m["master"] == pytest.approx(5.0 - 100.0)


def coupled(n: int, seed: int):
    """Store caps on every store and micro-segment minimums (the bench's (a2), small)."""
    inst = make_instance(n, seed=seed, budget_per_customer=0.2)
    customers = inst.customers.copy()
    rng = np.random.default_rng(seed)
    customers["store"] = [f"st{s}" for s in rng.integers(0, STORES, n)]
    customers["micro"] = [f"m{s}" for s in rng.integers(0, MICRO, n)]
    caps = tuple(
        CouplingConstraint(
            name=f"st{s} cap",
            sense="<=",
            limit=0.03 * n,
            customer_attribute="store",
            customer_value=f"st{s}",
        )
        for s in range(STORES)
    )
    minimums = tuple(
        CouplingConstraint(
            name=f"m{s} minimum",
            sense=">=",
            limit=0.04 * n,
            customer_attribute="micro",
            customer_value=f"m{s}",
        )
        for s in range(MICRO)
    )
    c = inst.constraints
    cons = AllocationConstraints(
        budget=c.budget,
        type_caps=c.type_caps,
        segment_coverage=c.segment_coverage,
        contact_limit=c.contact_limit,
        coupling=caps + minimums,
    )
    return inst, customers, cons


def solve(inst, customers, cons, method: str):
    return allocate(
        customers,
        inst.response,
        inst.bonus_types,
        cons,
        week_start=WEEK,
        horizon_weeks=inst.horizon_weeks,
        random_state=0,
        time_limit=120,
        method=method,
        with_reasons=False,
        config=AllocationConfig(optimal_tolerance=1e-5),
    )


@pytest.mark.parametrize("seed", [11, 12])
def test_store_caps_and_segment_minimums_match_the_direct_milp(seed):
    inst, customers, cons = coupled(1_500, seed)
    exact = solve(inst, customers, cons, "milp")
    dual = solve(inst, customers, cons, "dual")
    assert dual.lp_bound == pytest.approx(exact.lp_bound, rel=1e-6)
    assert dual.gap <= 1e-4
    assert (dual.lp_bound - dual.objective) / dual.lp_bound <= 1e-4
    assert dual.objective <= exact.lp_bound * (1 + 1e-9)
    used = {c.name: c for c in dual.constraints}
    assert any(used[f"st{s} cap"].binding for s in range(STORES))
    for s in range(MICRO):
        assert used[f"m{s} minimum"].used >= 0.04 * 1_500 - 1e-9


def test_lagrangian_bound_is_valid_at_any_nonnegative_multipliers():
    inst, customers, cons = coupled(1_500, 11)
    exact = solve(inst, customers, cons, "milp")
    inp = read_inputs(customers, inst.response, inst.bonus_types, cons, random_state=0)
    core = value_pairs(
        inp, cons, horizon_weeks=inst.horizon_weeks, uplift=None, config=AllocationConfig()
    ).core
    pricer = LocalPricing(core)
    rng = np.random.default_rng(0)
    minimum = np.array([r.sense == ">=" for r in core.extra])
    for _ in range(20):
        lam = float(rng.exponential(1.0))
        mu = rng.exponential(0.5, len(core.types))
        nu = rng.exponential(0.5, len(core.coverage))
        sigma = rng.exponential(0.5, len(core.extra)) * np.where(minimum, -1.0, 1.0)
        bound, _ = pricer.price(lam, mu, nu, sigma, core.budget)
        assert bound >= exact.lp_bound * (1 - 1e-9)


@pytest.mark.parametrize("seed", [11, 12])
def test_sub_milp_built_as_arrays_matches_the_pulp_model(seed):
    # the repair's residual MILP is handed to HiGHS as arrays: same optimum as the PuLP model
    # of the same core (budget, caps, coverage, store caps and micro-segment minimums)
    inst, customers, cons = coupled(300, seed)
    inp = read_inputs(customers, inst.response, inst.bonus_types, cons, random_state=0)
    core = value_pairs(
        inp, cons, horizon_weeks=inst.horizon_weeks, uplift=None, config=AllocationConfig()
    ).core
    exact = solve_milp(
        core, deadline=Deadline(120.0), config=AllocationConfig(optimal_tolerance=1e-9)
    )
    choice = solve_sub_milp(core, time_limit=120.0, gap_abs=1e-9)
    assert choice is not None
    assert is_feasible(core, choice)
    assert objective(core, choice) == pytest.approx(objective(core, exact.choice), rel=1e-7)
