"""The customer pipelines' buy-till-you-die features: what BG/NBD says, learned on training rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from optimizer.engine.baseline import baseline_predict, fit_baseline
from optimizer.engine.estimators import BTYD_COLUMNS, BuyTillYouDieFeatures, customer_pipeline
from optimizer.engine.features import features_at
from optimizer.engine.history import day_of, prepare_history
from optimizer.engine.types import ScoringConfig
from tests.optimizer.engine.simulation import simulate


@pytest.fixture(scope="module")
def feats() -> pd.DataFrame:
    pop = simulate(600, seed=5)
    history = prepare_history(pop.baskets, pop.customers)
    return features_at(history, day_of(pop.as_of))


def test_btyd_features_equal_the_baseline_fitted_on_the_same_rows(feats):
    btyd = BuyTillYouDieFeatures(random_state=0).fit(feats)
    out = btyd.transform(feats)
    baseline = fit_baseline(feats, sample_size=50_000, min_customers=30, random_state=0)
    # The same features without Pareto/NBD, which they never read (most of a fit's CPU).
    assert baseline.pareto is not None
    assert btyd.baseline_.pareto is None
    four = baseline_predict(baseline, feats, 4, 52)
    thirteen = baseline_predict(baseline, feats, 13, 52)
    assert four is not None
    assert thirteen is not None
    np.testing.assert_allclose(out["btyd_p_alive"], four["p_alive"])
    np.testing.assert_allclose(out["btyd_visits_4w"], four["expected_visits"])
    np.testing.assert_allclose(out["btyd_no_visit_13w"], thirteen["churn_probability"])
    # Gamma-Gamma value x expected visits is the baseline's spend.
    np.testing.assert_allclose(
        out["btyd_visit_value"] * out["btyd_visits_13w"], thirteen["expected_spend"], rtol=1e-9
    )
    assert list(out.columns[: len(feats.columns)]) == list(feats.columns)


def test_btyd_parameters_are_learned_once_and_reused_on_other_rows(feats):
    fitted = BuyTillYouDieFeatures(random_state=0).fit(feats.iloc[:300])
    later = fitted.transform(feats.iloc[300:])
    again = BuyTillYouDieFeatures(random_state=0).fit(feats.iloc[:300]).transform(feats.iloc[300:])
    pd.testing.assert_frame_equal(later, again)
    never = feats["frequency"].to_numpy() <= 1  # no repeat visit: BG/NBD says alive
    assert (later["btyd_p_alive"].to_numpy()[never[300:]] == 1.0).all()


def test_btyd_features_are_missing_not_invented_when_bgnbd_cannot_be_fitted(feats):
    few = feats.iloc[:10]
    out = BuyTillYouDieFeatures().fit(few).transform(few)
    assert out[list(BTYD_COLUMNS)].isna().all().all()


def test_customer_pipeline_feeds_btyd_columns_to_the_trees(feats):
    y = (feats["recency_days"] > 30).astype(int)
    pipe = customer_pipeline("churn", ("recency_days", "frequency"), ScoringConfig(), 600, 0)
    pipe.fit(feats, y)
    assert pipe.named_steps["model"].n_features_in_ == 2 + len(BTYD_COLUMNS)
