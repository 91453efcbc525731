"""End to end: honest holdout, models beat the recency rule, no leakage, chunks, odd tenants."""

from __future__ import annotations

import json
from datetime import date

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from optimizer.engine.features import compute_features
from optimizer.engine.scoring import OUTPUT_KPIS, run_scoring, score_customers
from tests.optimizer.engine.conftest import FAST, frame
from tests.optimizer.engine.simulation import BONUS_TYPES


def _numeric_has_nan(scores: pd.DataFrame) -> bool:
    return bool(scores.select_dtypes("number").isna().any().any())


def test_run_scoring_returns_every_column_for_every_customer(scored, population):
    s = scored.scores
    assert len(s) == len(population.customers)
    expected = ["customer_id", "churn_probability", "expected_visits", "expected_spend", "clv"]
    expected += [f"response_{code}" for code in sorted(BONUS_TYPES)]
    expected += ["segment", *OUTPUT_KPIS]
    assert set(expected) <= set(s.columns)
    assert "reason" in s.columns
    assert (s["reason"].str.len() > 0).all()
    assert not _numeric_has_nan(s)
    assert s["churn_probability"].between(0, 1).all()
    assert (s["clv"] >= s["expected_spend"] - 1e-9).all()


def test_holdout_is_a_later_window_than_training(scored):
    windows = scored.metrics["windows"]
    assert windows["train"]["labels"][1] == windows["holdout"]["features_at"]
    assert windows["holdout"]["labels"][1] == scored.metrics["as_of"] == "2025-06-02"


def test_models_beat_the_recency_rule_on_the_holdout(scored):
    h = scored.metrics["holdout"]
    assert h["status"] == "ok"
    assert h["churn"]["model"]["auc"] > h["churn"]["rule"]["auc"]
    assert h["churn"]["model"]["brier"] < h["churn"]["rule"]["brier"]
    assert h["visits"]["model"]["mae"] < h["visits"]["rule"]["mae"]
    assert h["visits"]["model"]["spearman"] > h["visits"]["rule"]["spearman"]
    assert h["spend"]["model"]["mae"] < h["spend"]["rule"]["mae"]
    assert h["response"]["model"]["auc"] > h["response"]["prior"]["auc"]
    assert "bgnbd" in h["churn"]


def test_metrics_are_plain_json(scored):
    json.dumps(scored.metrics, allow_nan=False)


def test_final_scores_track_the_simulated_truth(scored, population):
    truth = population.truth.set_index("customer_id").loc[scored.scores["customer_id"]]
    came_back = (truth["future_visits"] == 0).to_numpy()
    model_auc = roc_auc_score(came_back, scored.scores["churn_probability"])
    recency_auc = roc_auc_score(came_back, scored.scores["recency_days"])
    assert model_auc > recency_auc > 0.75


def test_no_leakage_from_data_on_or_after_as_of(scored, population):
    as_of = pd.Timestamp(population.as_of)
    truncated = run_scoring(
        baskets=population.baskets[population.baskets["date"] < as_of],
        customers=population.customers,
        offers=population.offers[population.offers["sent_on"] < as_of].assign(
            redeemed_on=lambda o: o["redeemed_on"].where(o["redeemed_on"] < as_of)
        ),
        category_days=population.category_days[population.category_days["date"] < as_of],
        as_of=population.as_of,
        random_state=0,
        config=FAST,
    )
    pd.testing.assert_frame_equal(truncated.scores, scored.scores)
    assert truncated.metrics == scored.metrics


def test_score_customers_by_chunk_equals_scoring_everyone(scored, population):
    model = scored.model
    ids = population.customers["customer_id"].to_numpy()
    parts = []
    for chunk in np.array_split(ids, 3):
        feats = compute_features(
            population.baskets[population.baskets["customer_id"].isin(chunk)],
            population.customers[population.customers["customer_id"].isin(chunk)],
            population.as_of,
            offers=population.offers[population.offers["customer_id"].isin(chunk)],
            category_days=population.category_days[
                population.category_days["customer_id"].isin(chunk)
            ],
            bonus_types=model.bonus_types,
        )
        parts.append(score_customers(model, feats))
    pd.testing.assert_frame_equal(pd.concat(parts, ignore_index=True), scored.scores)


def test_scoring_model_round_trips_through_joblib(scored, population, tmp_path):
    path = tmp_path / "model.joblib"
    joblib.dump(scored.model, path)
    feats = compute_features(
        population.baskets,
        population.customers,
        population.as_of,
        offers=population.offers,
        category_days=population.category_days,
    )
    pd.testing.assert_frame_equal(score_customers(joblib.load(path), feats), scored.scores)


def _empty_baskets() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": np.zeros(0, np.int64),
            "date": np.zeros(0, "datetime64[s]"),
            "amount": np.zeros(0),
            "discount": np.zeros(0),
        }
    )


def _one_purchase_each(n: int) -> dict[str, pd.DataFrame]:
    ids = list(range(1, n + 1))
    days = pd.date_range("2024-01-01", periods=n, freq="D")
    return {
        "baskets": pd.DataFrame(
            {"customer_id": ids, "date": days, "amount": 10.0, "discount": 0.0}
        ),
        "customers": pd.DataFrame({"customer_id": ids, "enrolled_on": days}),
    }


def _single_product_regulars(n: int) -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(0)
    rows = [(c, d) for c in range(n) for d in np.unique(rng.integers(0, 500, 12))]
    baskets = pd.DataFrame(rows, columns=["customer_id", "day"])
    baskets["date"] = pd.Timestamp("2023-01-01") + pd.to_timedelta(baskets.pop("day"), unit="D")
    baskets["amount"], baskets["discount"] = 2.5, 0.0
    customers = pd.DataFrame({"customer_id": range(n), "enrolled_on": pd.Timestamp("2023-01-01")})
    return {"baskets": baskets, "customers": customers}


ODD_TENANTS = {
    "one customer, one purchase": lambda: _one_purchase_each(1),
    "only customers without transactions": lambda: {
        "baskets": _empty_baskets(),
        "customers": frame(customer_id=[1, 2], enrolled_on=["2024-01-01", "2024-05-01"]),
    },
    "no customers at all": lambda: {
        "baskets": _empty_baskets(),
        "customers": pd.DataFrame(
            {"customer_id": np.zeros(0, np.int64), "enrolled_on": np.zeros(0, "datetime64[s]")}
        ),
    },
    "everyone bought once": lambda: _one_purchase_each(150),
    "one product, no offers, no categories": lambda: _single_product_regulars(300),
}


@pytest.mark.parametrize("tenant", list(ODD_TENANTS))
def test_run_scoring_survives_odd_tenants(tenant):
    inputs = ODD_TENANTS[tenant]()
    result = run_scoring(
        **inputs,
        offers=None,
        as_of=date(2024, 6, 1),
        bonus_types=["welcome"],
        random_state=1,
        config=FAST,
    )
    scores = result.scores
    assert len(scores) == inputs["customers"]["customer_id"].nunique()
    assert not _numeric_has_nan(scores)
    assert "response_welcome" in scores.columns
    assert set(result.metrics["status"]) == {"churn", "visits", "spend", "response"}
    json.dumps(result.metrics, allow_nan=False)
    if len(scores) < 100:
        assert "need 100" in result.metrics["holdout"]["status"]
        assert (
            "rule" in result.metrics["status"]["churn"]
            or "BG/NBD" in result.metrics["status"]["churn"]
        )


def test_empty_offers_frame_means_prior_responses():
    inputs = _single_product_regulars(200)
    offers = frame(customer_id=[], bonus_type=[], sent_on=[], valid_until=[], redeemed_on=[])
    result = run_scoring(
        **inputs, offers=offers, as_of=date(2024, 6, 1), bonus_types=["x"], config=FAST
    )
    assert result.metrics["status"]["response"].startswith("prior")
    assert result.scores["response_x"].round(6).eq(FAST.default_response_rate).all()


def test_run_scoring_rejects_a_non_positive_horizon():
    with pytest.raises(ValueError, match="horizon_weeks"):
        run_scoring(**_one_purchase_each(3), as_of=date(2024, 6, 1), horizon_weeks=0)
