"""Champions per output on synthetic retailers of both shapes, chosen without the holdout."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from optimizer.engine.baseline import baseline_predict, pareto_predict
from optimizer.engine.bootstrap import bootstrap_metrics, weighted_auc
from optimizer.engine.champion import choose_response_champion, pick
from optimizer.engine.features import features_at
from optimizer.engine.history import day_of, prepare_history
from optimizer.engine.scoring import run_scoring, score_customers
from optimizer.engine.synthetic_retailers import SyntheticRetailer, synthetic_retailer
from optimizer.engine.types import ScoringResult
from optimizer.engine.validation import RecencyRule, rule_frame

HORIZON = 12
SHAPES = ("grocer", "mail_order")


def _score(r: SyntheticRetailer, horizon: int = HORIZON) -> ScoringResult:
    return run_scoring(
        baskets=r.baskets,
        customers=r.customers,
        offers=r.offers,
        as_of=r.as_of,
        horizon_weeks=horizon,
        random_state=0,
    )


@pytest.fixture(scope="module", params=SHAPES)
def scored(request: pytest.FixtureRequest) -> tuple[SyntheticRetailer, ScoringResult]:
    retailer = synthetic_retailer(request.param, n_customers=2_500, horizon_weeks=HORIZON, seed=3)
    return retailer, _score(retailer)


def test_champion_is_at_least_as_good_as_bgnbd_and_pareto_on_the_holdout(
    scored: tuple[SyntheticRetailer, ScoringResult],
) -> None:
    _, result = scored
    champions = result.metrics["champions"]
    assert set(champions) == {"churn", "visits", "spend", "response"}
    for output in ("churn", "visits", "spend"):
        entry = champions[output]
        holdout = entry["holdout"]
        assert entry["holdout_status"] == "ok"
        assert {"model", "bgnbd", "pareto_nbd", "rule"} <= set(holdout)
        best = holdout[entry["champion"]]["value"]
        for rival in ("bgnbd", "pareto_nbd"):
            low, high = holdout[rival]["low"], holdout[rival]["high"]
            assert low <= holdout[rival]["value"] <= high
            if entry["metric"] == "auc":
                assert best >= low, (output, entry["champion"], rival, holdout)
            else:
                assert best <= high, (output, entry["champion"], rival, holdout)


def test_report_says_why_and_gives_paired_differences(
    scored: tuple[SyntheticRetailer, ScoringResult],
) -> None:
    _, result = scored
    for output, entry in result.metrics["champions"].items():
        assert entry["reason"].startswith("best validation")
        assert entry["champion"] in entry["validation"]
        assert result.metrics["status"][output].endswith(entry["reason"])
        for name, block in entry["holdout"].items():
            if name != entry["champion"]:
                assert block["diff_low"] <= block["diff"] <= block["diff_high"]
    assert "validation" in result.metrics["windows"]


def test_response_holdout_is_one_figure_per_contender(
    scored: tuple[SyntheticRetailer, ScoringResult],
) -> None:
    """The champion table and the response holdout metrics score the same predictions: the
    model as served (blended with the prior) and the rule, on the same offers."""
    _, result = scored
    champion = result.metrics["champions"]["response"]["holdout"]
    holdout = result.metrics["holdout"]["response"]
    assert champion["rule"]["value"] == pytest.approx(holdout["prior"]["auc"], abs=1e-4)
    assert champion["model"]["value"] == pytest.approx(holdout["model"]["auc"], abs=1e-4)


def test_served_scores_are_the_champions(scored: tuple[SyntheticRetailer, ScoringResult]) -> None:
    retailer, result = scored
    model = result.model
    assert model.champions is not None
    history = prepare_history(retailer.baskets, retailer.customers, offers=retailer.offers)
    feats = features_at(history, day_of(retailer.as_of))
    scores = score_customers(model, feats, with_reasons=False)
    sources = {
        "bgnbd": baseline_predict(model.baseline, feats, HORIZON, 52),
        "pareto_nbd": pareto_predict(model.baseline, feats, HORIZON, 52),
        "rule": rule_frame(RecencyRule(*model.champions.recency_rule), feats, HORIZON),
    }
    for target, column in (
        ("churn", "churn_probability"),
        ("visits", "expected_visits"),
        ("spend", "expected_spend"),
    ):
        chosen = model.champions.chosen[target]
        if chosen == "model":
            continue
        source = sources[chosen]
        assert source is not None
        expected = np.clip(source[column].to_numpy(), 0.0, 1.0 if target == "churn" else None)
        np.testing.assert_allclose(scores[column].to_numpy(), expected, rtol=1e-9)


def test_changing_the_holdout_data_does_not_change_the_choice() -> None:
    retailer = synthetic_retailer("grocer", n_customers=1_500, horizon_weeks=HORIZON, seed=5)
    before = _score(retailer)
    start = pd.Timestamp(retailer.as_of - timedelta(weeks=HORIZON))
    end = pd.Timestamp(retailer.as_of)
    baskets = retailer.baskets.copy()
    inside = (baskets["date"] >= start) & (baskets["date"] < end)
    rng = np.random.default_rng(0)
    baskets.loc[inside, "amount"] = baskets.loc[inside, "amount"] * rng.uniform(0, 3, inside.sum())
    baskets = baskets[~(inside & (rng.random(len(baskets)) < 0.4))]
    offers = retailer.offers.copy()
    late = offers["sent_on"] >= start
    offers.loc[late, "redeemed_on"] = offers.loc[late, "sent_on"]  # every holdout offer redeemed
    after = _score(
        SyntheticRetailer(baskets, retailer.customers, offers, retailer.truth, retailer.as_of)
    )
    for output in ("churn", "visits", "spend", "response"):
        b, a = before.metrics["champions"][output], after.metrics["champions"][output]
        assert a["champion"] == b["champion"]
        assert a["validation"] == b["validation"]
        assert a["holdout"] != b["holdout"]  # the holdout did change


def test_short_history_with_a_long_horizon_gets_the_better_probabilistic_model() -> None:
    retailer = synthetic_retailer(
        "mail_order", n_customers=3_000, history_weeks=60, horizon_weeks=39, seed=7
    )
    result = _score(retailer, horizon=39)
    for output in ("churn", "visits", "spend"):
        entry = result.metrics["champions"][output]
        assert entry["champion"] in {"bgnbd", "pareto_nbd"}
        assert entry["reason"].startswith("no validation window")
        assert "log-likelihood" in entry["reason"]
        assert "not served unvalidated" in result.metrics["status"][output]


def test_weighted_auc_equals_sklearn_and_repeats_rows_by_weight() -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 300)
    p = np.round(rng.random(300), 2)  # ties on purpose
    assert weighted_auc(y, p, np.ones(300)) == pytest.approx(roc_auc_score(y, p))
    w = rng.integers(0, 4, 300)
    repeated = np.repeat(np.arange(300), w)
    assert weighted_auc(y, p, w.astype(float)) == pytest.approx(
        roc_auc_score(y[repeated], p[repeated])
    )
    assert weighted_auc(np.ones(5), p[:5], np.ones(5)) is None


def test_bootstrap_is_seeded_and_pairs_the_difference() -> None:
    rng = np.random.default_rng(1)
    y = rng.poisson(3.0, 2_000).astype(float)
    good = y + rng.normal(0, 1, y.size)
    bad = good + 0.3  # the same errors shifted: clearly worse, paired difference tight
    one = bootstrap_metrics(y, {"good": good, "bad": bad}, kind="mae", reference="good", seed=4)
    two = bootstrap_metrics(y, {"good": good, "bad": bad}, kind="mae", reference="good", seed=4)
    assert one == two
    assert one["good"]["low"] < one["good"]["value"] < one["good"]["high"]
    assert one["bad"]["diff_low"] > 0  # significantly worse, although the marginals overlap
    assert one["bad"]["low"] < one["good"]["high"]
    with pytest.raises(ValueError, match="kind"):
        bootstrap_metrics(y, {"good": good}, kind="rmse")


def test_bootstrap_resamples_whole_customers() -> None:
    # 200 customers with 5 identical offers each: the evidence is 200 customers, not 1,000
    # offers, so the customer bootstrap is about sqrt(5) times wider than a row bootstrap.
    rng = np.random.default_rng(2)
    y = np.repeat(rng.integers(0, 2, 200), 5).astype(float)
    p = np.repeat(rng.random(200), 5) + 0.3 * y
    groups = np.repeat(np.arange(200), 5)
    by_customer = bootstrap_metrics(y, {"m": p}, kind="auc", groups=groups, seed=0)["m"]
    by_row = bootstrap_metrics(y, {"m": p}, kind="auc", seed=0)["m"]
    assert by_customer["value"] == by_row["value"]
    width = by_customer["high"] - by_customer["low"]
    assert width > 1.6 * (by_row["high"] - by_row["low"])


def test_a_tie_keeps_the_first_contender_and_unscored_ones_are_skipped() -> None:
    scores = {"model": 0.8, "pareto_nbd": 0.8, "bgnbd": None, "rule": 0.7}
    assert pick("churn", scores, ("model", "pareto_nbd", "bgnbd", "rule")) == "model"
    assert pick("churn", scores, ("pareto_nbd", "bgnbd", "rule")) == "pareto_nbd"
    assert pick("visits", {"model": 2.0, "rule": 1.5}, ("model", "rule")) == "rule"
    assert pick("visits", {"bgnbd": None}, ("bgnbd",)) is None


def test_response_prior_serves_when_it_wins_validation_or_nothing_validates() -> None:
    y = np.array([0, 1, 0, 1, 1, 0], dtype=np.int8)
    good, bad = np.array([0.1, 0.9, 0.2, 0.8, 0.7, 0.3]), np.array([0.9, 0.1, 0.8, 0.2, 0.3, 0.7])
    groups = np.arange(6)
    won = choose_response_champion(
        (y, groups, {"model": bad, "rule": good}), model_servable=True, window_text="w"
    )
    assert won["champion"] == "rule"
    assert won["validation"] == {"model": 0.0, "rule": 1.0}
    lost = choose_response_champion(
        (y, groups, {"model": good, "rule": bad}), model_servable=True, window_text="w"
    )
    assert lost["champion"] == "model"
    unvalidated = choose_response_champion(
        "no offers sent and resolved in the window", model_servable=True, window_text="w"
    )
    assert unvalidated["champion"] == "rule"
    assert "no validation of the response model" in unvalidated["reason"]
