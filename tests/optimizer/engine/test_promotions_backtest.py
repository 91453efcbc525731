"""Rolling-origin backtest: WAPE and bias by hand, and the model against the naive rule."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from optimizer.engine.promotions import EngineInputError, ForecastConfig, backtest, wape_bias
from optimizer.engine.promotions.backtest import naive_forecast
from tests.optimizer.engine.test_promotions_forecast import START, synthetic_tenant

FAST = ForecastConfig(max_iter=80, holiday_country=None, backtest_weeks=8, retrain_every=4)


def test_wape_bias_by_hand():
    wape, bias = wape_bias(np.array([10.0, 20.0, 0.0]), np.array([12.0, 15.0, 3.0]))
    assert wape == pytest.approx(10 / 30)
    assert bias == pytest.approx(0.0)
    wape, bias = wape_bias(np.array([10.0]), np.array([5.0]))
    assert (wape, bias) == (pytest.approx(0.5), pytest.approx(-0.5))
    assert np.isnan(wape_bias(np.array([0.0]), np.array([1.0]))[0])


def test_naive_forecast_falls_back_to_category_then_overall_median():
    week = pd.DataFrame(
        {
            "category": ["a", "a", "a", "b", "c"],
            "last_lift": [2.0, 4.0, np.nan, np.nan, 5.0],
            "level": [10.0, 10.0, 10.0, 10.0, np.nan],
        }
    )
    # a: own lifts, then the category median 3; b: no lift in b -> median of all (4); c: no level
    assert naive_forecast(week, week).tolist() == [20.0, 40.0, 30.0, 40.0, 0.0]


def _tiny_panel() -> pd.DataFrame:
    units = [10.0, 10.0, 30.0, 10.0, 10.0, 25.0]
    mailer = [0.0, 0.0, 1.0, 0.0, 0.0, 1.0]
    return pd.DataFrame(
        {
            "product_id": 1,
            "week_start": [START + timedelta(weeks=w) for w in range(6)],
            "units": units,
            "revenue": [2.0 * u for u in units],
            "discount": 0.0,
            "mailer_share": mailer,
        }
    )


def test_backtest_hand_made_case_matches_the_naive_rule():
    products = pd.DataFrame(
        {"product_id": [1], "sku": ["A"], "category": ["x"], "unit_cost": [1.0], "price": [2.0]}
    )
    config = ForecastConfig(holiday_country=None, backtest_weeks=3, retrain_every=2)
    result = backtest(panel=_tiny_panel(), products=products, config=config)
    assert result.n_weeks == 3
    assert result.weeks["n_promoted"].tolist() == [0, 0, 1]
    assert result.weeks["refit"].tolist() == [True, False, True]
    last = result.weeks.iloc[-1]
    # level = mean of the 4 non-promoted weeks = 10, last lift 30 / 10 = 3 -> 30 vs 25 sold
    assert last["naive_units"] == pytest.approx(30.0)
    assert last["model_units"] == pytest.approx(30.0)  # too little data: level x last lift
    assert (result.naive_wape, result.naive_bias) == (pytest.approx(0.2), pytest.approx(0.2))
    assert result.model_wape == pytest.approx(0.2)
    assert result.n_product_weeks == 1
    assert result.actual_units == 25.0


def test_backtest_model_beats_naive_on_a_known_lift_structure():
    panel, products = synthetic_tenant(seed=4)
    result = backtest(panel=panel, products=products, config=FAST, random_state=0)
    assert result.n_weeks == 8
    assert result.weeks["refit"].tolist() == [True, False, False, False] * 2
    assert result.n_product_weeks == int(result.weeks["n_promoted"].sum()) > 30
    assert result.model_wape < result.naive_wape
    assert abs(result.model_bias) < 0.15
    pooled = result.weeks["actual_units"].sum()
    assert pooled == pytest.approx(result.actual_units)


def test_backtest_last_week_limits_the_replay_and_rejects_bad_input():
    panel, products = synthetic_tenant(n_products=8, n_weeks=20, seed=5)
    result = backtest(
        panel=panel,
        products=products,
        config=ForecastConfig(holiday_country=None, backtest_weeks=2, max_iter=20),
        last_week=START + timedelta(weeks=10),
    )
    assert result.weeks["week_start"].dt.date.tolist() == [
        START + timedelta(weeks=9),
        START + timedelta(weeks=10),
    ]
    with pytest.raises(EngineInputError, match="Monday"):
        backtest(panel=panel, products=products, last_week=date(2022, 3, 2))
    with pytest.raises(EngineInputError, match="empty"):
        backtest(panel=panel.iloc[:0], products=products)
