"""The recovery's greedy fills (``fill.py``) and the coupling rows' group codes: the shortcuts
that make them cheap on coupled cores must not change what they return."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from optimizer.engine.allocation import AllocationConfig, AllocationConstraints, CouplingConstraint
from optimizer.engine.allocation import fill as fill_module
from optimizer.engine.allocation.coupling import build_rows, pair_weights
from optimizer.engine.allocation.fill import fill_positive
from optimizer.engine.allocation.problem import Core
from optimizer.engine.allocation.stages import read_inputs, value_pairs
from optimizer.engine.allocation.synthetic import make_instance

N = 3_000
STORES = 6


def coupled_core(seed: int) -> Core:
    """A core with tight store caps on one type, a cost-weighted supplier row and a minimum."""
    inst = make_instance(N, seed=seed, budget_per_customer=0.2)
    rng = np.random.default_rng(seed)
    customers = inst.customers.copy()
    customers["store"] = pd.Categorical.from_codes(
        rng.integers(0, STORES, N), categories=[f"s{s}" for s in range(STORES)]
    )
    types = inst.bonus_types.copy()
    types["supplier"] = ["acme", "acme", "own", "own", "brew", "acme"]
    stores = tuple(
        CouplingConstraint(
            name=f"store s{s}",
            sense="<=",
            limit=0.01 * N,
            customer_attribute="store",
            customer_value=f"s{s}",
        )
        for s in range(STORES)
    )
    funding = CouplingConstraint(
        name="acme funding",
        sense="<=",
        limit=0.02 * N,
        bonus_attribute="supplier",
        bonus_values=("acme",),
        weight="cost",
    )
    reach = CouplingConstraint(
        name="s0 reach", sense=">=", limit=5, customer_attribute="store", customer_value="s0"
    )
    constraints = AllocationConstraints(
        budget=inst.constraints.budget,
        type_caps={str(types["bonus_type"].iloc[2]): 0.02 * N},
        coupling=(*stores, funding, reach),
    )
    inp = read_inputs(customers, inst.response, types, constraints, random_state=0)
    val = value_pairs(
        inp, constraints, horizon_weeks=inst.horizon_weeks, uplift=None, config=AllocationConfig()
    )
    return val.core


def one_by_one(core: Core, choice: np.ndarray, red: np.ndarray) -> np.ndarray:
    """``fill_positive`` as its docstring states it, one pair at a time in plain Python."""
    choice = choice.copy()
    tol = 1e-9 * max(1.0, core.budget)
    picked = np.flatnonzero(choice >= 0)
    budget = core.budget - float(core.cost[picked, choice[picked]].sum())
    caps = core.caps - np.bincount(choice[picked], minlength=len(core.types))
    upper = np.array([r.sense == "<=" for r in core.extra])
    used = pair_weights(core.extra, core.groups, core.cost, picked, choice[picked]).sum(axis=0)
    rows = np.where(upper, core.extra_limits() - used, np.inf)
    unserved = np.flatnonzero(choice < 0)
    ranked = np.argsort(-red[unserved], axis=1, kind="stable")
    for k in range(red.shape[1]):
        pos = np.flatnonzero(choice[unserved] < 0)
        out, pick = unserved[pos], ranked[pos, k]
        ok = core.value[out, pick] > 0
        out, pick = out[ok], pick[ok]
        order = np.argsort(-red[out, pick], kind="stable")
        for i, b in zip(out[order].tolist(), pick[order].tolist(), strict=True):
            w = pair_weights(core.extra, core.groups, core.cost, np.array([i]), np.array([b]))[0]
            cost = float(core.cost[i, b])
            if cost <= budget + tol and caps[b] >= 1 - 1e-9 and np.all(w <= rows + 1e-9):
                choice[i] = b
                budget -= cost
                caps[b] -= 1
                rows = rows - w
    return choice


@pytest.mark.parametrize(("seed", "window"), [(1, None), (2, None), (3, None), (1, 250)])
def test_fill_positive_takes_the_pairs_of_a_one_by_one_greedy_when_rows_are_tight(
    seed, window, monkeypatch
):
    if window is not None:  # the candidates in several windows and pre-check slices
        monkeypatch.setattr(fill_module, "FILL_MAX", window)
    core = coupled_core(seed)
    rng = np.random.default_rng(seed)
    n, k = core.value.shape
    red = core.value - rng.uniform(0.0, 0.5, size=(n, k))
    # a partial allocation that leaves a little of every limit: stores nearly full
    choice = np.full(n, -1, dtype=np.int64)
    start = fill_positive(core, choice, core.value - 10.0 * rng.uniform(size=(n, k)))
    drop = rng.uniform(size=n) < 0.2
    start[drop] = -1

    got = fill_positive(core, start, red)

    expected = one_by_one(core, start, red)
    assert (got >= 0).sum() > (start >= 0).sum()  # the fill did add pairs
    np.testing.assert_array_equal(got, expected)


def test_build_rows_reads_a_categorical_attribute_as_its_strings():
    table = pd.DataFrame({"bonus_type": ["a", "b"]})
    stores = ["s2", "s1", "s2", "s0", "s1"]
    cons = tuple(
        CouplingConstraint(
            name=f"{s} cap", sense="<=", limit=1, customer_attribute="store", customer_value=s
        )
        for s in ("s0", "s1", "s2", "s9")
    )
    as_text = build_rows(cons, pd.DataFrame({"store": stores}), table)
    as_category = build_rows(
        cons,
        pd.DataFrame({"store": pd.Categorical(stores, categories=["s9", "s0", "s1", "s2"])}),
        table,
    )

    assert [r.group for r in as_category[0]] == [r.group for r in as_text[0]] == [2, 1, 0, -2]
    np.testing.assert_array_equal(as_category[1][0], as_text[1][0])
