"""Cover cuts on the product budgets and the knapsack-aware recovery of the offers
decomposition (no database)."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from optimizer.engine.offers import OfferConstraints, offers_allocate
from optimizer.engine.offers.cuts import CUT_PREFIX, add_cover_cuts
from optimizer.engine.offers.recovery import _knapsack_customers
from optimizer.engine.offers.rows import build_layout, build_rows
from tests.optimizer.engine.test_offers import options
from tests.optimizer.engine.test_offers_decomposition import assert_feasible, random_options


def one_product(weights: list[float], values: list[float] | None = None) -> pd.DataFrame:
    """One customer per option, all on product 1 (expected discount = weight)."""
    values = values or [1.0] * len(weights)
    return options(
        *(
            (c + 1, "offer", 1, "acme", v, w, 0.0)
            for c, (w, v) in enumerate(zip(weights, values, strict=True))
        )
    )


def cut_rows(weights: list[float], budget: float, x: list[float]):
    frame = one_product(weights)
    rows = build_rows(
        frame, OfferConstraints(max_offers=1, budget=100.0, product_budgets={1: budget})
    )
    return add_cover_cuts(rows, np.asarray(x), np.array([1]), 1)


def test_cover_cut_cuts_off_the_fraction_that_fills_a_budget():
    # The LP fills 3.0 with 1.2 + 0.9 + 0.7 and 0.4 of the 0.5 offer: no choice can.
    rows, added = cut_rows([1.2, 0.9, 0.7, 0.5, 2.5], 3.0, [1, 1, 1, 0.4, 0])
    assert added == 1
    assert rows.names[-1] == f"{CUT_PREFIX}product:1:1"
    assert rows.limits[-1] == 3.0
    # The extended cover takes the 2.5 offer too: it is heavier than every offer of the cover.
    assert (rows.index[:, -1] >= 0).tolist() == [True, True, True, True, True]
    x = np.array([1, 1, 1, 0.4, 0])
    assert rows.usage(np.ones(5, dtype=bool))[-1] == 5.0
    assert float((rows.weight[:, -1] * x).sum()) > rows.limits[-1]


def test_cover_cut_is_not_added_when_the_fraction_fits():
    rows, added = cut_rows([1.0, 1.0, 0.5], 3.0, [1, 1, 1])
    assert added == 0
    assert len(rows.names) == 2


@pytest.mark.parametrize("seed", range(25))
def test_cover_cuts_keep_every_choice_the_budget_allows(seed):
    rng = np.random.default_rng(seed)
    weights = list(rng.uniform(0.2, 2.0, 9))
    budget = float(rng.uniform(1.0, 4.0))
    rows, _ = cut_rows(weights, budget, list(rng.uniform(0, 1, 9)))
    for pick in itertools.product([False, True], repeat=9):
        chosen = np.array(pick)
        used = rows.usage(chosen)
        if used[1] <= budget:
            assert (used[2:] <= rows.limits[2:]).all()


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_decomposition_bound_with_cuts_never_below_the_milp_optimum(seed):
    frame = random_options(60, seed, catalogue=6)
    positive = frame.loc[frame["value"] > 0]
    limits = OfferConstraints(
        max_offers=2,
        budget=float(positive["retailer_cost"].sum()) / 2,
        product_budgets={p: 2.5 for p in range(1, 7)},
    )
    milp = offers_allocate(frame, limits, random_state=0, time_limit=30, method="milp")
    dual = offers_allocate(frame, limits, random_state=0, time_limit=30, method="decomposition")
    assert "cover cuts" in dual.method
    assert dual.bound >= milp.objective - 1e-6
    assert dual.bound <= dual.lp_bound + 1e-9
    assert dual.objective == pytest.approx(milp.objective, rel=1e-4)
    assert_feasible(dual, limits)
    assert not any(c["name"].startswith(CUT_PREFIX) for c in dual.constraints)


def test_cuts_tighten_the_bound_below_the_lp_on_budgets_of_a_few_offers():
    frame = random_options(60, 2, catalogue=6)
    positive = frame.loc[frame["value"] > 0]
    limits = OfferConstraints(
        max_offers=2,
        budget=float(positive["retailer_cost"].sum()),
        product_budgets={p: 2.5 for p in range(1, 7)},
    )
    dual = offers_allocate(frame, limits, random_state=0, time_limit=30, method="decomposition")
    assert dual.bound < dual.lp_bound - 1e-3


def test_recovery_opens_the_best_candidates_of_a_budget_worth_a_few_offers():
    frame = one_product([1.0] * 8, values=[8.0, 7.0, 6.0, 5.0, 4.0, 3.0, 2.0, 1.0])
    rows = build_rows(frame, OfferConstraints(max_offers=1, budget=100.0, product_budgets={1: 2.0}))
    layout = build_layout(frame, 1)
    # The budget holds two offers of the mean weight: a knapsack of a few.
    y = np.array([0.0, 6.5])
    reduced = frame["value"].to_numpy() - rows.reduce(y)
    assert _knapsack_customers(layout, rows, y, reduced, per_row=4).tolist() == [0, 1, 2, 3]
    assert _knapsack_customers(layout, rows, y, reduced, per_row=0).size == 0
    # An unpriced row (y = 0) is left to the margins.
    assert _knapsack_customers(layout, rows, np.zeros(2), frame["value"].to_numpy(), 4).size == 0
