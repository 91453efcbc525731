"""Coupling constraints over (customer, bonus) pairs: store and region caps and minimums by a
customer attribute, supplier funding by a bonus attribute; same gap guarantee as the budget,
and infeasibility naming every constraint of the conflict."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from optimizer.engine.allocation import (
    ALLOCATED,
    AllocationConfig,
    AllocationConstraints,
    CouplingConstraint,
    InfeasibleAllocation,
    allocate,
)
from optimizer.engine.allocation.synthetic import make_instance
from optimizer.engine.types import EngineInputError

WEEK = date(2024, 3, 4)
STORES = 5


def instance(n: int, seed: int = 7):
    inst = make_instance(n, seed=seed)
    customers = inst.customers.copy()
    rng = np.random.default_rng(seed)
    store = rng.integers(0, STORES, n)
    customers["store"] = [f"s{s}" for s in store]
    customers["region"] = np.where(store < 2, "north", "south")
    types = inst.bonus_types.copy()
    types["supplier"] = ["acme", "acme", "own", "own", "brew", "acme"]
    return inst, customers, types


def solve(inst, customers, types, constraints, *, method, **kw):
    return allocate(
        customers,
        inst.response,
        types,
        constraints,
        week_start=WEEK,
        horizon_weeks=inst.horizon_weeks,
        random_state=0,
        time_limit=120,
        method=method,
        with_reasons=False,
        **kw,
    )


def coupled(inst, n: int) -> AllocationConstraints:
    caps = tuple(
        CouplingConstraint(
            name=f"store s{s} free coffee",
            sense="<=",
            limit=0.01 * n,
            customer_attribute="store",
            customer_value=f"s{s}",
            bonus_attribute="bonus_type",
            bonus_values=("free_item",),
        )
        for s in range(STORES)
    )
    supplier = CouplingConstraint(
        name="acme funding",
        sense="<=",
        limit=0.03 * n,
        bonus_attribute="supplier",
        bonus_values=("acme",),
        weight="cost",
    )
    north = CouplingConstraint(
        name="north reach",
        sense=">=",
        limit=0.25 * n,
        customer_attribute="region",
        customer_value="north",
    )
    return AllocationConstraints(
        budget=inst.constraints.budget,
        type_caps=inst.constraints.type_caps,
        segment_coverage=inst.constraints.segment_coverage,
        contact_limit=inst.constraints.contact_limit,
        coupling=(*caps, supplier, north),
    )


def check_rows(result, customers, types, constraints) -> None:
    d = result.decisions.merge(customers[["customer_id", "store", "region"]], on="customer_id")
    d = d[d["status"] == ALLOCATED]
    cost_by_type = types.set_index("bonus_type")["supplier"]
    for con in constraints.coupling:
        rows = d
        if con.customer_attribute:
            rows = rows[rows[con.customer_attribute] == con.customer_value]
        if con.bonus_attribute == "bonus_type":
            rows = rows[rows["bonus_type"].astype(str).isin(con.bonus_values)]
        elif con.bonus_attribute == "supplier":
            supplier = rows["bonus_type"].astype(str).map(cost_by_type)
            rows = rows[supplier.isin(con.bonus_values)]
        used = rows["expected_cost"].sum() if con.weight == "cost" else len(rows)
        report = {c.name: c for c in result.constraints}[con.name]
        assert report.used == pytest.approx(used, rel=1e-9, abs=1e-9)
        if con.sense == "<=":
            assert used <= con.limit * (1 + 1e-9) + 1e-9
        else:
            assert used >= con.limit - 1e-9


def test_coupling_rows_hold_and_dual_agrees_with_milp():
    n = 2_000
    inst, customers, types = instance(n)
    cons = coupled(inst, n)
    config = AllocationConfig(optimal_tolerance=1e-5)
    exact = solve(inst, customers, types, cons, method="milp", config=config)
    dual = solve(inst, customers, types, cons, method="dual", config=config)
    for result in (exact, dual):
        check_rows(result, customers, types, cons)
    assert dual.lp_bound == pytest.approx(exact.lp_bound, rel=1e-6)
    assert dual.objective == pytest.approx(exact.objective, rel=1e-3)
    names = {c.name for c in dual.binding_constraints()}
    assert "north reach" in names or "acme funding" in names
    assert dual.gap <= 1e-4


def test_coupling_rows_keep_the_gap_at_scale():
    n = 60_000
    inst, customers, types = instance(n, seed=8)
    cons = coupled(inst, n)
    result = solve(inst, customers, types, cons, method="dual")
    check_rows(result, customers, types, cons)
    assert result.gap <= 1e-4
    assert not result.gap_exceeds_tolerance


@pytest.mark.parametrize("method", ["dual", "milp"])
def test_coupling_conflict_names_every_constraint(method):
    n = 1_000
    inst, customers, types = instance(n)
    store_caps = tuple(
        CouplingConstraint(
            name=f"store s{s} cap",
            sense="<=",
            limit=20,
            customer_attribute="store",
            customer_value=f"s{s}",
        )
        for s in range(STORES)
    )
    north = CouplingConstraint(
        name="north reach",
        sense=">=",
        limit=60,
        customer_attribute="region",
        customer_value="north",
    )
    cons = AllocationConstraints(budget=1e6, coupling=(*store_caps, north), contact_limit=None)
    with pytest.raises(InfeasibleAllocation) as err:
        solve(inst, customers, types, cons, method=method)
    # the north region is stores s0 and s1: 2 x 20 < 60
    assert set(err.value.constraints) == {"north reach", "store s0 cap", "store s1 cap"}
    assert err.value.constraint == "north reach"


def test_coupling_constraint_naming_a_missing_column_is_rejected():
    inst, customers, types = instance(200)
    bad = CouplingConstraint(
        name="by channel", sense="<=", limit=5, customer_attribute="channel", customer_value="sms"
    )
    cons = AllocationConstraints(budget=100, coupling=(bad,))
    with pytest.raises(EngineInputError, match=r"'by channel'.*'channel'"):
        solve(inst, customers, types, cons, method="dual")


def test_coupling_constraint_validates_its_fields():
    with pytest.raises(ValueError, match="sense"):
        CouplingConstraint(name="x", sense="<", limit=1)
    with pytest.raises(ValueError, match="go together"):
        CouplingConstraint(name="x", sense="<=", limit=1, customer_attribute="store")
    with pytest.raises(ValueError, match="unique"):
        AllocationConstraints(
            budget=1,
            coupling=(
                CouplingConstraint(name="x", sense="<=", limit=1),
                CouplingConstraint(name="x", sense=">=", limit=0),
            ),
        )
