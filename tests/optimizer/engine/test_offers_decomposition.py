"""The offers decomposition (column generation + recovery) against the direct MILP, on random
instances small enough for the MILP to be exact (no database)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from optimizer.engine.offers import OfferConstraints, offers_allocate
from optimizer.engine.offers.pricing import price
from optimizer.engine.offers.rows import build_layout, build_rows
from tests.optimizer.engine.test_offers import options

SUPPLIERS = ["acme", "bolt", "cask", "dune"]


def random_options(customers: int, seed: int, products: int = 4, catalogue: int = 12):
    """One generic (sometimes two) and ``products`` product options per customer."""
    rng = np.random.default_rng(seed)
    rows = []
    for c in range(1, customers + 1):
        for code in ["coupon"] + (["points"] if c % 3 == 0 else []):
            rows.append((c, code, None, "", rng.gamma(2.0, 0.6), rng.uniform(0.3, 1.5), 0.0))
        for p in rng.choice(catalogue, size=products, replace=False):
            share = rng.choice([0.0, 0.5])
            discount = rng.uniform(0.2, 2.0)
            rows.append(
                (
                    c,
                    "offer",
                    int(p) + 1,
                    SUPPLIERS[p % 4],
                    rng.normal(0.4, 0.6),
                    discount * (1 - share),
                    discount * share,
                )
            )
    return options(*rows)


def tight_limits(frame: pd.DataFrame, max_offers: int = 2) -> OfferConstraints:
    positive = frame.loc[frame["value"] > 0]
    return OfferConstraints(
        max_offers=max_offers,
        budget=float(positive["retailer_cost"].sum()) / 3,
        product_budgets={1: 2.0, 2: 3.0, 3: 0.0},
        supplier_budgets={"acme": 1.5, "cask": 2.5},
        option_caps={"points": 3},
    )


def run(frame, limits, method):
    return offers_allocate(frame, limits, random_state=0, time_limit=30, method=method)


def assert_feasible(result, limits: OfferConstraints) -> None:
    mine = result.chosen.loc[result.chosen["status"] == "allocated"]
    assert mine.groupby("customer_id").size().max() <= limits.max_offers
    generic = mine.loc[mine["kind"] == "generic"]
    assert not generic["customer_id"].duplicated().any()
    assert mine["retailer_cost"].sum() <= limits.budget + 1e-9
    discount = mine["retailer_cost"] + mine["supplier_cost"]
    for product, cap in limits.product_budgets.items():
        assert discount[mine["product_id"] == product].sum() <= cap + 1e-9
    for supplier, cap in limits.supplier_budgets.items():
        assert mine.loc[mine["supplier"] == supplier, "supplier_cost"].sum() <= cap + 1e-9
    for code, cap in limits.option_caps.items():
        assert (mine["option"] == code).sum() <= cap


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_decomposition_agrees_with_the_milp_within_1e4(seed):
    frame = random_options(40, seed)
    limits = tight_limits(frame)
    milp = run(frame, limits, "milp")
    dual = run(frame, limits, "decomposition")
    assert milp.method.startswith("milp")
    assert dual.method.startswith("decomposition")
    assert dual.objective == pytest.approx(milp.objective, rel=1e-4)
    assert dual.bound >= milp.objective - 1e-6
    assert_feasible(dual, limits)


def test_decomposition_keeps_every_limit_when_most_customers_are_fixed():
    # 600 customers, at most 200 + 20 per master row left to the residual MILP: the others keep
    # their pricing choice, repaired where a near-optimal multiplier overshoots a row.
    frame = random_options(600, 7)
    limits = tight_limits(frame, max_offers=3)
    result = run(frame, limits, "decomposition")
    assert_feasible(result, limits)
    assert result.objective <= result.bound + 1e-6
    assert result.gap <= 5e-3


def test_any_nonnegative_multipliers_bound_the_milp_optimum():
    frame = random_options(30, 11)
    limits = tight_limits(frame)
    optimum = run(frame, limits, "milp").objective
    treat = frame.loc[frame["value"] > 0].reset_index(drop=True)
    rows, layout = build_rows(treat, limits), build_layout(treat, limits.max_offers)
    rng = np.random.default_rng(0)
    for _ in range(20):
        y = rng.exponential(0.5, len(rows.names)) * rng.integers(0, 2, len(rows.names))
        priced = price(layout, treat["value"].to_numpy() - rows.reduce(y))
        assert priced.value.sum() + y @ rows.limits >= optimum - 1e-6


def test_pricing_takes_the_top_n_with_one_generic():
    frame = random_options(1, 0, products=4).assign(value=[5.0, 4.0, 3.0, 2.0, -1.0])
    frame.loc[1, ["option", "kind", "product_id"]] = ["points", "generic", pd.NA]
    treat = frame.reset_index(drop=True)
    layout = build_layout(treat, 3)
    priced = price(layout, treat["value"].to_numpy("float64"))
    assert priced.pick.tolist() == [True, False, True, True, False]
    assert priced.value.tolist() == [10.0]


def test_decomposition_on_identical_customers_matches_the_milp():
    one = random_options(1, 5)
    frame = pd.concat([one.assign(customer_id=c) for c in range(1, 51)], ignore_index=True)
    limits = tight_limits(frame)
    milp = run(frame, limits, "milp")
    dual = run(frame, limits, "decomposition")
    assert dual.objective == pytest.approx(milp.objective, rel=1e-4)
    assert_feasible(dual, limits)


def test_decomposition_chooses_nothing_on_a_zero_budget():
    frame = random_options(20, 3)
    result = run(frame, OfferConstraints(max_offers=2, budget=0.0), "decomposition")
    assert result.objective == 0.0
    assert (result.chosen["status"] != "allocated").all()
    assert result.gap == 0.0


def test_decomposition_chooses_nothing_when_nothing_is_positive():
    frame = random_options(20, 3).assign(value=-1.0)
    result = run(frame, OfferConstraints(max_offers=2, budget=10.0), "decomposition")
    assert result.chosen.empty
    assert result.method == "nothing to choose"


def test_decomposition_keeps_required_options():
    frame = random_options(30, 4)
    generic = frame.index[frame["option"] == "coupon"][:5]
    frame.loc[generic, ["value", "required"]] = [-0.5, True]
    result = run(frame, tight_limits(frame), "decomposition")
    mine = result.chosen.loc[result.chosen["status"] == "allocated"]
    kept = set(zip(mine["customer_id"], mine["option"], strict=True))
    assert {(int(frame.loc[i, "customer_id"]), "coupon") for i in generic} <= kept


def test_auto_uses_the_decomposition_above_the_pair_threshold(monkeypatch):
    frame = random_options(30, 6)
    limits = tight_limits(frame)
    assert run(frame, limits, "auto").method.startswith("milp")
    monkeypatch.setattr("optimizer.engine.offers.api.AUTO_MILP_MAX_PAIRS", 10)
    assert run(frame, limits, "auto").method.startswith("decomposition")


def test_offers_allocate_refuses_an_unknown_method():
    with pytest.raises(ValueError, match="method must be one of"):
        run(random_options(2, 0), OfferConstraints(max_offers=1, budget=1.0), "simplex")
