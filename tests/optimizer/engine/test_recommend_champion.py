"""Which list a recommendation run serves (chosen before the holdout) and the calibration of
P(buy anyway), on hand-made frames."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from optimizer.engine.recommend.champion import Window, evaluate_and_choose, fit_calibration, pick
from optimizer.engine.recommend.lists import calibrate, candidate_lists, serve
from optimizer.engine.recommend.model import (
    Calibration,
    RecommendConfig,
    fit_recommender,
    with_offer_value,
)
from tests.optimizer.engine.test_recommend import AS_OF, CUSTOMERS, HISTORY, PRODUCTS

CONFIG = RecommendConfig(top_k=3, min_segment_customers=1)
VALIDATION_SPLIT = AS_OF - 28
# Before the validation split: the same customers and items, 28 days earlier.
EARLY = HISTORY.assign(first_day=HISTORY.first_day - 28, last_day=HISTORY.last_day - 28)


def _purchases(rows):
    return pd.DataFrame(rows, columns=["customer_id", "product_id"])


def _choose(holdout_purchases, validation_purchases):
    return evaluate_and_choose(
        Window(EARLY, validation_purchases, VALIDATION_SPLIT),
        Window(HISTORY, holdout_purchases, AS_OF),
        PRODUCTS,
        CUSTOMERS,
        excluded_categories=("Alcohol",),
        config=CONFIG,
        min_offers=1,
    )


def test_pick_takes_the_best_ndcg_and_the_simpler_list_on_a_tie():
    table = {"model": {"ndcg": 0.4}, "popularity": {"ndcg": 0.1}, "buy_again": {"ndcg": 0.39}}
    assert pick(table) == "model"
    table["buy_again"]["ndcg"] = 0.4
    assert pick(table) == "buy_again"


def test_the_served_list_is_chosen_on_the_validation_window_and_the_holdout_cannot_change_it():
    # Validation: only the cold-start customer 15 buys (milk): the popularity list (and the
    # recommender's popular fill) hit it, the buy-again list has nothing for them.
    validation = _purchases([(15, 1)])
    # Holdout A: customer 14 tries butter and jam, the recommender's "try" items: it wins there.
    first = _choose(_purchases([(14, 3), (14, 5)]), validation)
    # Holdout B: rewritten, only a new item for one customer.
    second = _choose(_purchases([(12, 5)]), validation)
    assert first.served == second.served == "popularity"
    assert first.report["champion"] == second.report["champion"]
    assert "validation window" in first.report["champion"]["reason"]
    table_a, table_b = first.report["holdout"]["table"], second.report["holdout"]["table"]
    assert table_a["model"]["ndcg"] > table_a["popularity"]["ndcg"]
    assert table_a != table_b
    assert first.report["holdout"]["calibration_list"] == "popularity"


def test_without_a_validation_window_the_recommender_is_served_and_says_so():
    choice = evaluate_and_choose(
        None,
        Window(HISTORY, _purchases([(14, 1)]), AS_OF),
        PRODUCTS,
        CUSTOMERS,
        excluded_categories=(),
        config=CONFIG,
    )
    assert choice.served == "model"
    assert choice.calibration == {}
    assert "untested" in choice.report["champion"]["reason"]


def test_fit_calibration_maps_predictions_to_observed_rates_per_kind():
    # buy_again: predicted 0.2 -> 1 in 10 bought, predicted 0.8 -> 4 in 10 bought.
    rows = [(c, 1, "buy_again", 0.2) for c in range(10)]
    rows += [(c, 2, "buy_again", 0.8) for c in range(10)]
    rows += [(c, 3, "try", 0.05) for c in range(3)]  # too few offers: not calibrated
    candidates = pd.DataFrame(rows, columns=["customer_id", "product_id", "kind", "p_anyway"])
    relevant = _purchases([(0, 1)] + [(c, 2) for c in range(4)] + [(0, 3)])
    maps = fit_calibration(candidates, relevant, min_offers=5)
    assert set(maps) == {"buy_again"}
    assert maps["buy_again"].apply(np.array([0.2, 0.8])) == pytest.approx([0.1, 0.4])


def test_serve_makes_the_chosen_list_with_calibrated_probabilities_and_values():
    model = fit_recommender(
        HISTORY, PRODUCTS, CUSTOMERS, as_of_day=AS_OF, excluded_categories=(), config=CONFIG
    )
    halve = Calibration(x=(0.0, 1.0), y=(0.0, 0.5))
    served = dataclasses.replace(model, served="buy_again", calibration={"buy_again": halve})
    customers = CUSTOMERS.loc[CUSTOMERS.customer_id.isin([13, 14])]
    raw = candidate_lists(model, HISTORY, customers, CONFIG, "buy_again")
    out = serve(served, HISTORY, customers, CONFIG)
    assert set(out["kind"]) == {"buy_again"}
    assert out["product_id"].tolist() == raw["product_id"].tolist()
    assert out.loc[out.customer_id == 14, "product_id"].tolist() == [1, 2]  # milk, then bread
    assert out["p_anyway"].to_numpy() == pytest.approx(raw["p_anyway"].to_numpy() / 2)
    items = pd.Index(model.item_ids).get_indexer(out["product_id"])
    expected = with_offer_value(model, out.assign(item=items), out["p_anyway"].to_numpy(), CONFIG)
    assert out["incremental_value"].to_numpy() == pytest.approx(
        expected["incremental_value"].to_numpy()
    )
    assert out.iloc[0]["reason"].startswith("you bought milk on 5 days")
    assert (
        out.loc[out.customer_id == 14, "reason"]
        .tolist()[1]
        .startswith("you bought bread on 1 day;")
    )
    # An uncalibrated model serves the raw list.
    assert calibrate(model, raw, CONFIG) is raw
