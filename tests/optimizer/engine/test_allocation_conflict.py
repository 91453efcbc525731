"""Infeasibility names every constraint of the conflict: the minimum that cannot be met and every
limit that stops it (caps, budget, coupling rows), on both solver paths."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from optimizer.engine.allocation import (
    AllocationConstraints,
    CouplingConstraint,
    InfeasibleAllocation,
    allocate,
)
from optimizer.engine.allocation.synthetic import make_instance

WEEK = date(2024, 3, 4)
#: The cheap types of the synthetic instance: "at risk" covered by them alone costs ~7 here.
CHEAP = ("points2x", "free_item", "points3x")


@pytest.fixture(scope="module")
def inst():
    return make_instance(1_000, seed=3, coverage=0.0, contact_limit=None, control_share=0.0)


def conflict(
    inst, cons: AllocationConstraints, method: str, customers=None
) -> InfeasibleAllocation:
    with pytest.raises(InfeasibleAllocation) as err:
        allocate(
            inst.customers if customers is None else customers,
            inst.response,
            inst.bonus_types,
            cons,
            week_start=WEEK,
            horizon_weeks=inst.horizon_weeks,
            random_state=0,
            time_limit=60,
            method=method,
            with_reasons=False,
        )
    return err.value


@pytest.mark.parametrize("method", ["dual", "milp"])
def test_caps_and_budget_that_leave_coverage_short_are_all_named(inst, method):
    # each check alone passes (the cheapest coverage costs ~7 < 9, the caps leave room for
    # everyone through the uncapped coupons), but with the cheap types capped at 20 the
    # coverage needs coupons the budget cannot pay for
    cons = AllocationConstraints(
        budget=9.0,
        segment_coverage={"at risk": 0.8},
        type_caps=dict.fromkeys(CHEAP, 20),
        contact_limit=None,
    )
    err = conflict(inst, cons, method)
    assert err.constraint == "coverage:at risk"
    assert set(err.constraints) == {"coverage:at risk", "budget", *(f"cap:{t}" for t in CHEAP)}


@pytest.mark.parametrize("method", ["dual", "milp"])
def test_caps_without_room_for_the_coverage_are_named_with_it(inst, method):
    capped = ("coupon10", "coupon5", *CHEAP)
    cons = AllocationConstraints(
        budget=1e6,
        segment_coverage={"at risk": 0.8},
        type_caps=dict.fromkeys(capped, 15),
        contact_limit=None,
    )
    err = conflict(inst, cons, method)
    assert err.constraint == "coverage:at risk"
    assert set(err.constraints) == {"coverage:at risk", *(f"cap:{t}" for t in capped)}
    assert "room for at most 75" in str(err)


@pytest.mark.parametrize("method", ["dual", "milp"])
def test_store_caps_and_budget_that_leave_a_region_short_are_all_named(inst, method):
    customers = inst.customers.copy()
    store = np.random.default_rng(3).integers(0, 5, len(customers))
    customers["store"] = [f"s{s}" for s in store]
    customers["region"] = np.where(store < 2, "north", "south")
    caps = tuple(
        CouplingConstraint(
            name=f"s{s} cheap cap",
            sense="<=",
            limit=40,
            customer_attribute="store",
            customer_value=f"s{s}",
            bonus_attribute="bonus_type",
            bonus_values=CHEAP,
        )
        for s in range(5)
    )
    north = CouplingConstraint(
        name="north reach",
        sense=">=",
        limit=300,
        customer_attribute="region",
        customer_value="north",
    )
    cons = AllocationConstraints(budget=30.0, coupling=(*caps, north), contact_limit=None)
    err = conflict(inst, cons, method, customers)
    # north is stores s0 and s1; south's caps and a larger budget would each lift the conflict
    assert set(err.constraints) == {"north reach", "budget", "s0 cheap cap", "s1 cheap cap"}
    assert err.constraint == "north reach"
