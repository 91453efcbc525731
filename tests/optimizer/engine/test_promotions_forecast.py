"""The forecast learns a planted promotion lift and copes with sparse or missing inputs."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from optimizer.engine.promotions import (
    FORECAST_COLUMNS,
    EngineInputError,
    ForecastConfig,
    forecast_week,
)

START = date(2022, 1, 3)
N_WEEKS = 78
FORECAST_WEEK = START + timedelta(weeks=N_WEEKS)
#: Planted full-mailer lift per category.
CATEGORY_LIFT = {"bakery": 1.5, "dairy": 2.0, "drinks": 3.0, "snacks": 4.0}
FAST = ForecastConfig(max_iter=80, holiday_country=None, backtest_weeks=8, retrain_every=4)


def synthetic_tenant(
    n_products: int = 48, n_weeks: int = N_WEEKS, seed: int = 0
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A weekly panel with a known lift structure, and its products frame.

    Units ~ Poisson(level * season(week) * lift), level log-normal per product (about 4 to
    100 units), season ``1 + 0.3 sin(2 pi week / 52)``, lift ``1 + (L_c - 1) * mailer_share``
    in promoted weeks (15 %, mailer share 0.6-1.0, 25 % off; otherwise 5 % off).
    """
    rng = np.random.default_rng(seed)
    categories = list(CATEGORY_LIFT)
    cat = [categories[i % len(categories)] for i in range(n_products)]
    level = np.exp(rng.normal(3.0, 0.8, n_products))
    price = np.round(rng.uniform(1.0, 6.0, n_products), 2)
    rows = []
    for p in range(n_products):
        for w in range(n_weeks):
            promoted = rng.random() < 0.15
            share = rng.uniform(0.6, 1.0) if promoted else 0.0
            lift = 1.0 + (CATEGORY_LIFT[cat[p]] - 1.0) * share
            season = 1.0 + 0.3 * np.sin(2 * np.pi * w / 52)
            units = float(rng.poisson(level[p] * season * lift))
            depth = 0.25 if promoted else 0.05
            rows.append(
                {
                    "product_id": 100 + p,
                    "week_start": START + timedelta(weeks=w),
                    "units": units,
                    "revenue": units * price[p] * (1 - depth),
                    "discount": units * price[p] * depth,
                    "display_share": 0.0,
                    "mailer_share": share,
                }
            )
    panel = pd.DataFrame(rows)
    panel = panel[(panel["units"] > 0) | (panel["mailer_share"] > 0)].reset_index(drop=True)
    products = pd.DataFrame(
        {
            "product_id": 100 + np.arange(n_products),
            "sku": [f"SKU{p}" for p in range(n_products)],
            "category": cat,
            "unit_cost": price * 0.6,
            "price": price,
        }
    )
    return panel, products


@pytest.fixture(scope="module")
def tenant() -> tuple[pd.DataFrame, pd.DataFrame]:
    return synthetic_tenant()


@pytest.fixture(scope="module")
def forecast(tenant):
    panel, products = tenant
    config = ForecastConfig(
        max_iter=80, holiday_country=None, promo_display_share=0.0, promo_mailer_share=0.9
    )
    return forecast_week(
        panel=panel, products=products, week_start=FORECAST_WEEK, config=config, random_state=0
    )


def test_forecast_week_has_one_row_per_product_with_documented_columns(forecast, tenant):
    frame = forecast.forecasts
    assert list(frame.columns) == list(FORECAST_COLUMNS)
    assert frame["product_id"].tolist() == tenant[1]["product_id"].tolist()
    assert (frame["promoted_units"] >= frame["baseline_units"]).all()
    assert forecast.metrics["model"] == "poisson_hgb"
    assert forecast.metrics["train_rows"] > 1000


def test_forecast_week_learns_the_planted_lift_per_category(forecast):
    frame = forecast.forecasts
    median_lift = frame.groupby("category")["lift"].median()
    errors = []
    for category, full_lift in CATEGORY_LIFT.items():
        planted = 1.0 + (full_lift - 1.0) * 0.9
        # pooled trees shrink towards the mean lift: the weakest category is over-estimated
        assert median_lift[category] == pytest.approx(planted, rel=0.25), category
        errors.append(abs(median_lift[category] / planted - 1))
    assert np.mean(errors) < 0.15
    assert median_lift.is_monotonic_increasing  # bakery < dairy < drinks < snacks


def test_forecast_week_baseline_follows_level_and_season(forecast):
    frame = forecast.forecasts
    ratio = frame["baseline_units"].sum() / frame["level"].sum()
    # the 13-week level averages a season of ~1.19 (weeks 13-25 of the sine); week 26: 1.0
    assert 0.7 < ratio < 1.1
    assert frame["seasonal_index"].median() == pytest.approx(ratio, rel=0.2)


def test_forecast_week_money_columns_are_consistent(forecast):
    row = forecast.forecasts.iloc[0]
    promo_price = row["price"] * (1 - row["promo_depth"])
    base_price = row["price"] * (1 - row["base_depth"])
    assert row["promo_depth"] == pytest.approx(0.25)
    assert row["base_depth"] == pytest.approx(0.05)
    assert row["incremental_margin"] == pytest.approx(
        row["promoted_units"] * (promo_price - row["unit_cost"])
        - row["baseline_units"] * (base_price - row["unit_cost"])
    )
    assert row["discount_cost"] == pytest.approx(row["promoted_units"] * row["price"] * 0.25)
    assert row["incremental_units"] == pytest.approx(row["promoted_units"] - row["baseline_units"])


def test_forecast_week_falls_back_on_sparse_and_missing_data():
    panel, products = synthetic_tenant(n_products=12, n_weeks=30, seed=1)
    products = pd.concat(
        [
            products,
            pd.DataFrame(
                {
                    "product_id": [900, 901],
                    "sku": ["NEW", "SPARSE"],
                    "category": ["dairy", "snacks"],
                    "unit_cost": [1.0, 1.0],
                    "price": [2.0, 2.0],
                }
            ),
        ],
        ignore_index=True,
    )
    sparse = pd.DataFrame(
        {
            "product_id": [901, 901],
            "week_start": [START + timedelta(weeks=27), START + timedelta(weeks=29)],
            "units": [5.0, 3.0],
            "revenue": [10.0, 6.0],
            "discount": [0.0, 0.0],
        }
    )
    panel = pd.concat([panel, sparse], ignore_index=True)
    inventory = pd.DataFrame(
        {"product_id": [100, 100], "on_hand": [50.0, 70.0], "date": ["2022-07-01", "2022-07-20"]}
    )
    competitors = pd.DataFrame(
        {"product_id": [100], "date": [START + timedelta(weeks=28)], "price": [2.5]}
    )
    result = forecast_week(
        panel=panel,
        products=products,
        week_start=START + timedelta(weeks=30),
        inventory=inventory,
        competitor_prices=competitors,
        config=FAST,
    ).forecasts.set_index("product_id")
    new, few = result.loc[900], result.loc[901]
    assert "no sales history" in new["fallback"]
    assert "category promo depth" in new["fallback"]
    assert new["baseline_units"] > 0
    assert new["history_weeks"] == 0
    assert few["history_weeks"] == 3
    assert few["baseline_units"] < 10
    assert result.loc[100, "on_hand"] == 70.0  # the latest date only
    assert result.loc[100, "competitor_gap"] == pytest.approx(result.loc[100, "price"] / 2.5 - 1)
    assert np.isnan(result.loc[101, "on_hand"])
    assert np.isnan(result.loc[101, "stock_cover"])
    assert result["reach"].eq(0).all()
    assert result.notna()["baseline_units"].all()


def test_forecast_week_rejects_bad_inputs(tenant):
    panel, products = tenant
    with pytest.raises(EngineInputError, match="Monday"):
        forecast_week(panel=panel, products=products, week_start=date(2023, 7, 5))
    with pytest.raises(EngineInputError, match="units"):
        forecast_week(
            panel=panel.drop(columns="units"), products=products, week_start=FORECAST_WEEK
        )
    with pytest.raises(EngineInputError, match="price"):
        forecast_week(
            panel=panel, products=products.drop(columns="price"), week_start=FORECAST_WEEK
        )


def test_forecast_week_without_enough_history_uses_level_rule():
    panel = pd.DataFrame(
        {
            "product_id": [1, 1, 1],
            "week_start": [START, START + timedelta(weeks=1), START + timedelta(weeks=2)],
            "units": [4.0, 12.0, 4.0],
            "revenue": [8.0, 20.0, 8.0],
            "discount": [0.0, 4.0, 0.0],
            "mailer_share": [0.0, 1.0, 0.0],
        }
    )
    products = pd.DataFrame(
        {"product_id": [1], "sku": ["A"], "category": ["x"], "unit_cost": [1.0], "price": [2.0]}
    )
    result = forecast_week(
        panel=panel, products=products, week_start=START + timedelta(weeks=3), config=FAST
    )
    assert result.metrics["model"] == "level_times_last_lift"
    row = result.forecasts.iloc[0]
    assert row["baseline_units"] == pytest.approx(4.0)
    assert row["promoted_units"] == pytest.approx(12.0)
    assert row["lift"] == pytest.approx(3.0)


def test_typical_promotion_is_the_median_of_promoted_weeks():
    from optimizer.engine.promotions.forecast import typical_promotion

    history = pd.DataFrame(
        {"display_share": [0.0, 0.2, 0.4, 0.0, 0.0], "mailer_share": [0.0, 1.0, 1.0, 0.5, 0.0]}
    )
    assert typical_promotion(history) == (0.2, 1.0)
    assert typical_promotion(history.iloc[[0, 4]]) == (0.0, 1.0)  # never promoted: the mailer
