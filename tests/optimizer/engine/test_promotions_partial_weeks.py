"""Partial weeks never teach a seasonal effect; forecasts far above the observed range are flagged.

The demo's layout: the data starts on a Sunday (the week of Monday 2016-12-26 has one trading
day), ends on Sunday 2017-12-31, and the proposal is for Monday 2018-01-01 (ISO week 1, like
the data's second week). Demand is stationary, so a sound forecast of that week is about each
product's usual level, whatever the first partial week held.
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from optimizer.engine.promotions import ForecastConfig, backtest, forecast_week
from optimizer.engine.promotions.features import pool_week_of_year

FIRST_WEEK = date(2016, 12, 26)
N_WEEKS = 53
FORECAST_WEEK = FIRST_WEEK + timedelta(weeks=N_WEEKS)
CONFIG = ForecastConfig(max_iter=80, holiday_country=None)


def stationary_tenant(first_week_factor: float, seed: int = 1) -> tuple[pd.DataFrame, ...]:
    """Poisson(level) units every week, 15 % of weeks on mailer (x2); the first week, which
    has one trading day, holds ``first_week_factor`` times a normal week's units. The week
    before it has each product on a mailer but no sales yet (a promotion announced before
    the data starts), so the partial week is not the product's first row."""
    rng = np.random.default_rng(seed)
    n_products = 40
    level = np.exp(rng.normal(3.0, 0.6, n_products))
    price = np.round(rng.uniform(1.0, 6.0, n_products), 2)
    rows = []
    for p in range(n_products):
        for w in range(N_WEEKS):
            promoted = w > 0 and rng.random() < 0.15
            mean = level[p] * (2.0 if promoted else 1.0) * (first_week_factor if w == 0 else 1.0)
            units = float(rng.poisson(mean))
            rows.append(
                {
                    "product_id": p + 1,
                    "week_start": FIRST_WEEK + timedelta(weeks=w),
                    "units": units,
                    "revenue": units * price[p] * 0.9,
                    "discount": units * price[p] * 0.1,
                    "mailer_share": 1.0 if promoted else 0.0,
                    "trading_days": 1 if w == 0 else 7,
                }
            )
    panel = pd.DataFrame(rows)
    announced = panel[panel["week_start"] == FIRST_WEEK].assign(
        week_start=FIRST_WEEK - timedelta(weeks=1),
        units=0.0,
        revenue=0.0,
        discount=0.0,
        mailer_share=1.0,
        trading_days=0,
    )
    panel = pd.concat([announced, panel], ignore_index=True)
    products = pd.DataFrame(
        {
            "product_id": np.arange(1, n_products + 1),
            "sku": [f"S{p}" for p in range(n_products)],
            "category": [f"cat{p % 4}" for p in range(n_products)],
            "unit_cost": price * 0.6,
            "price": price,
        }
    )
    return panel, products, level


@pytest.mark.parametrize("first_week_factor", [1 / 7, 25.0])
def test_forecast_week_ignores_partial_first_week(first_week_factor):
    panel, products, level = stationary_tenant(first_week_factor)
    result = forecast_week(panel=panel, products=products, week_start=FORECAST_WEEK, config=CONFIG)
    f = result.forecasts
    # The whole assortment's baseline stays near its usual weekly total (not x5, not /5).
    assert f["baseline_units"].sum() == pytest.approx(level.sum(), rel=0.25)
    full = panel[panel["trading_days"] == 7]
    observed_max = full.groupby("product_id")["units"].max()
    assert (f["baseline_units"] <= 1.5 * observed_max.reindex(f["product_id"]).to_numpy()).all()
    assert not f["out_of_range"].any()


def test_forecast_week_flags_forecast_far_above_observed_range():
    panel, products, _ = stationary_tenant(1.0)
    # One product sold 1 unit a week for a year, then 60 in the last week: its level jumps,
    # so the forecast lands far above every week it ever sold but the last one.
    quiet = panel["product_id"] == 1
    panel.loc[quiet, "units"] = 1.0
    panel.loc[quiet, "mailer_share"] = 0.0
    last = panel["week_start"] == FORECAST_WEEK - timedelta(weeks=1)
    panel.loc[quiet & last, "units"] = 60.0
    config = ForecastConfig(max_iter=80, holiday_country=None, range_flag_factor=1.0)
    f = forecast_week(panel=panel, products=products, week_start=FORECAST_WEEK, config=config)
    row = f.forecasts.set_index("product_id").loc[1]
    assert row["observed_max_units"] == 60.0
    flagged = f.forecasts[f.forecasts["out_of_range"]]
    assert set(flagged["product_id"]) <= set(f.forecasts["product_id"])
    assert f.metrics["out_of_range"] == len(flagged)
    # With the default factor nothing in a stationary tenant is "far outside".
    plain = forecast_week(panel=panel, products=products, week_start=FORECAST_WEEK, config=CONFIG)
    assert plain.forecasts.loc[plain.forecasts["product_id"] != 1, "out_of_range"].sum() == 0


def test_pool_week_of_year_needs_two_years_of_full_weeks():
    weeks = pd.Series(pd.to_datetime([date(2017, 1, 2), date(2018, 1, 1), date(2017, 6, 5)]))
    frame = pd.DataFrame({"week_start": weeks})
    iso = weeks.dt.isocalendar()
    frame["iso_week"] = iso.week.astype("int64").to_numpy()
    frame["iso_year"] = iso.year.astype("int64").to_numpy()
    # ISO week 1 seen in 2017 and 2018, week 23 once.
    pooled = pool_week_of_year(frame, evidence=frame.iloc[:3])
    assert pooled.tolist()[:2] == [1.0, 1.0]
    assert np.isnan(pooled.tolist()[2])
    one_year = pool_week_of_year(frame, evidence=frame.iloc[[0, 2]])
    assert np.isnan(one_year).all()


def test_backtest_names_holiday_year_start_and_partial_weeks():
    panel, products, _ = stationary_tenant(1.0)
    christmas = pd.to_datetime(panel["week_start"]) == pd.Timestamp(2017, 12, 25)
    panel.loc[christmas, "trading_days"] = 6  # closed on Christmas Day
    config = ForecastConfig(max_iter=30, backtest_weeks=3, retrain_every=4)
    late = backtest(panel=panel, products=products, config=config)
    assert late.weeks["event"].tolist() == ["", "Christmas Eve", "Christmas (partial week)"]
    # The partial week is still scored, on what was sold.
    assert late.weeks["n_promoted"].iloc[-1] > 0
    early = backtest(panel=panel, products=products, config=config, last_week=date(2017, 1, 9))
    assert early.weeks["event"].tolist() == ["New Year's Eve (partial week)", "year start", ""]
    assert ForecastConfig().backtest_weeks == 52
