"""The recommender engine on hand-made frames: kinds, exclusions, cold start, offer value."""

from __future__ import annotations

import pandas as pd
import pytest

from optimizer.engine.errors import EngineInputError
from optimizer.engine.recommend.evaluate import evaluate_window, ranking_metrics
from optimizer.engine.recommend.model import RecommendConfig, fit_recommender, recommend

AS_OF = 20_000  # days since 1970-01-01

PRODUCTS = pd.DataFrame(
    {
        "product_id": [1, 2, 3, 4, 5],
        "name": ["milk", "bread", "butter", "beer", "jam"],
        "category": ["Dairy", "Bakery", "Dairy", "Alcohol", "Spreads"],
        "margin": [0.5, 0.8, 1.0, 2.0, 1.2],
    }
)


def _history(rows):
    return pd.DataFrame(
        rows, columns=["customer_id", "product_id", "days", "first_day", "last_day"]
    )


# Customers 10-13 buy milk + bread + butter + beer, 13 jam too; 14 buys milk + bread only
# (butter and jam are "try" for 14).
# Customer 14 bought milk every 7 days for 10 weeks, last 14 days ago: due (buy again).
HISTORY = _history(
    [(c, p, 5, AS_OF - 60, AS_OF - 3) for c in (10, 11, 12, 13) for p in (1, 2, 3, 4)]
    + [(13, 5, 2, AS_OF - 20, AS_OF - 10)]
    + [(14, 1, 11, AS_OF - 84, AS_OF - 14), (14, 2, 1, AS_OF - 30, AS_OF - 30)]
)
CUSTOMERS = pd.DataFrame({"customer_id": [10, 11, 12, 13, 14, 15], "segment": [""] * 6})


SMALL = RecommendConfig(top_k=3, min_segment_customers=1)


def _fit(config=SMALL, excluded=("alcohol",)):
    return fit_recommender(
        HISTORY, PRODUCTS, CUSTOMERS, as_of_day=AS_OF, excluded_categories=excluded, config=config
    )


def test_recommend_mixes_buy_again_try_and_never_an_excluded_category():
    config = RecommendConfig(top_k=3, min_segment_customers=1)
    out = recommend(_fit(config), HISTORY, CUSTOMERS.loc[CUSTOMERS.customer_id == 14], config)
    assert out["rank"].tolist() == [1, 2, 3]
    assert out.iloc[0][["product_id", "kind"]].tolist() == [1, "buy_again"]
    assert out.iloc[0]["reason"] == "you often buy milk; last bought 2 weeks ago"
    assert out.iloc[1][["product_id", "kind"]].tolist() == [3, "try"]
    assert 4 not in out["product_id"].tolist()  # beer: excluded although similar customers buy it
    assert out.iloc[2][["product_id", "kind"]].tolist() == [5, "try"]
    assert 2 not in out["product_id"].tolist()  # bread bought once, not a regular, not new


def test_recommend_gives_a_cold_start_customer_popular_items_only():
    config = RecommendConfig(top_k=3, min_segment_customers=1)
    out = recommend(_fit(config), HISTORY, CUSTOMERS.loc[CUSTOMERS.customer_id == 15], config)
    assert set(out["kind"]) == {"popular"}
    assert out["product_id"].tolist()[:3] == [1, 2, 3]
    assert 4 not in out["product_id"].tolist()


def test_offer_value_is_small_for_an_item_bought_every_week_and_for_no_interest():
    weekly = _history([(20, 1, 30, AS_OF - 210, AS_OF - 1), (21, 1, 3, AS_OF - 60, AS_OF - 20)])
    config = RecommendConfig(top_k=1, min_due=0.0, min_segment_customers=1)
    model = fit_recommender(
        weekly,
        PRODUCTS,
        pd.DataFrame({"customer_id": [20, 21], "segment": ["", ""]}),
        as_of_day=AS_OF,
        excluded_categories=(),
        config=config,
    )
    out = recommend(model, weekly, pd.DataFrame({"customer_id": [20, 21], "segment": ""}), config)
    every_week, lapsing = out.iloc[0], out.iloc[1]
    assert every_week["p_anyway"] > 0.98
    assert lapsing["p_anyway"] == pytest.approx(0.5, abs=0.35)
    assert every_week["incremental_value"] < lapsing["incremental_value"] / 5
    # odds x 2: P(offer) = 2o / (1 + 2o)
    p = lapsing["p_anyway"]
    assert lapsing["p_offer"] == pytest.approx(2 * p / (1 - p) / (1 + 2 * p / (1 - p)))


def test_ranking_metrics_by_hand():
    lists = pd.DataFrame(
        {"customer_id": [1, 1, 2, 2], "product_id": [7, 8, 7, 9], "rank": [1, 2] * 2}
    )
    relevant = pd.DataFrame({"customer_id": [1, 2, 2], "product_id": [8, 5, 6]})
    got = ranking_metrics(lists, relevant, k=2)
    assert got["precision"] == pytest.approx(1 / 4)
    assert got["recall"] == pytest.approx((1 / 1 + 0) / 2)
    # customer 1: DCG 1/log2(3), IDCG 1; customer 2: 0; the mean of both
    assert got["ndcg"] == pytest.approx((1 / 1.5849625 + 0) / 2, abs=1e-4)


def test_evaluate_holdout_has_three_lists_and_the_buy_again_baseline_finds_regulars():
    holdout = pd.DataFrame({"customer_id": [14, 10], "product_id": [1, 5]})
    result = evaluate_window(
        HISTORY,
        holdout,
        PRODUCTS,
        CUSTOMERS,
        split_day=AS_OF,
        excluded_categories=("Alcohol",),
        config=RecommendConfig(top_k=3, min_segment_customers=1),
    ).report
    assert set(result["table"]) == {"model", "popularity", "buy_again"}
    assert result["customers"] == 2
    assert result["table"]["buy_again"]["recall"] == pytest.approx(0.5)
    assert {row["kind"] for row in result["calibration"]} >= {"buy_again"}


def test_fit_names_a_missing_column_and_refuses_history_after_the_cut_off():
    with pytest.raises(EngineInputError, match="margin"):
        fit_recommender(
            HISTORY,
            PRODUCTS.drop(columns="margin"),
            CUSTOMERS,
            as_of_day=AS_OF,
            excluded_categories=(),
            config=RecommendConfig(),
        )
    with pytest.raises(EngineInputError, match="cut-off"):
        fit_recommender(
            HISTORY,
            PRODUCTS,
            CUSTOMERS,
            as_of_day=AS_OF - 5,
            excluded_categories=(),
            config=RecommendConfig(),
        )


def test_evaluate_holdout_samples_the_evaluated_customers_but_says_how_many_bought():
    holdout = pd.DataFrame({"customer_id": [14, 10], "product_id": [1, 5]})
    result = evaluate_window(
        HISTORY,
        holdout,
        PRODUCTS,
        CUSTOMERS,
        split_day=AS_OF,
        excluded_categories=(),
        config=SMALL,
        max_customers=1,
    ).report
    assert (result["customers"], result["holdout_buyers"]) == (1, 2)
    assert result["table"]["model"]["customers"] == 1


def test_recommend_with_no_history_at_all_gives_an_empty_frame():
    empty = HISTORY.iloc[0:0]
    model = fit_recommender(
        empty, PRODUCTS, CUSTOMERS, as_of_day=AS_OF, excluded_categories=(), config=SMALL
    )
    out = recommend(model, empty, CUSTOMERS, SMALL)
    assert out.empty
    assert list(out.columns)[:2] == ["customer_id", "product_id"]


def test_buy_again_ranks_the_most_frequent_item_first_even_when_not_yet_due():
    # 30: milk on 20 days, weekly, bought yesterday (not due); butter on 3 days, due now;
    # jam on 12 days but lapsed (last bought 200 days ago, every 7 days before): it fades.
    history = _history(
        [
            (30, 1, 20, AS_OF - 134, AS_OF - 1),
            (30, 3, 3, AS_OF - 60, AS_OF - 30),
            (30, 5, 12, AS_OF - 277, AS_OF - 200),
        ]
    )
    customers = pd.DataFrame({"customer_id": [30], "segment": [""]})
    config = RecommendConfig(top_k=3, min_segment_customers=1)
    model = fit_recommender(
        history, PRODUCTS, customers, as_of_day=AS_OF, excluded_categories=(), config=config
    )
    out = recommend(model, history, customers, config)
    assert out["product_id"].tolist() == [1, 3, 5]
    assert set(out["kind"]) == {"buy_again"}


def test_buy_again_breaks_a_frequency_tie_by_the_most_recent_purchase():
    history = _history([(31, 2, 4, AS_OF - 40, AS_OF - 20), (31, 3, 4, AS_OF - 40, AS_OF - 5)])
    customers = pd.DataFrame({"customer_id": [31], "segment": [""]})
    config = RecommendConfig(top_k=2, min_segment_customers=1)
    model = fit_recommender(
        history, PRODUCTS, customers, as_of_day=AS_OF, excluded_categories=(), config=config
    )
    assert recommend(model, history, customers, config)["product_id"].tolist() == [3, 2]
