"""The competitor-price feature: learned when it drives demand, and reported where it acts.

Synthetic tenant: each product's competitor price moves in 4-week spells between 25 % below and
25 % above our price; weekly units are Poisson(level * exp(-ELASTICITY * gap)) with ``gap`` =
our price / the competitor's price seen the week before - 1 (the feature's own definition),
doubled in the 20 % of weeks on a mailer (no discount).
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from optimizer.engine.promotions import ForecastConfig, backtest, forecast_week

START = date(2021, 1, 4)
N_WEEKS = 80
WEEK = START + timedelta(weeks=N_WEEKS)
ELASTICITY = 3.0
CONFIG = ForecastConfig(
    max_iter=80, holiday_country=None, competitor_max_age_weeks=4, backtest_weeks=8
)


def competitor_tenant(seed: int = 3) -> tuple[pd.DataFrame, ...]:
    rng = np.random.default_rng(seed)
    n_products = 30
    level = np.exp(rng.normal(3.0, 0.5, n_products))
    price = np.round(rng.uniform(1.0, 5.0, n_products), 2)
    rows, comp = [], []
    for p in range(n_products):
        ratio = prev = 1.0
        for w in range(N_WEEKS):
            if w % 4 == 0:
                ratio = rng.uniform(0.8, 1.25)  # competitor price / ours
            day = START + timedelta(weeks=w)
            comp.append({"product_id": p + 1, "date": day, "price": price[p] * ratio})
            if w > 0:
                gap = 1.0 / prev - 1.0  # our price / the competitor's seen last week - 1
                promoted = rng.random() < 0.2  # on mailer: x2
                mean = level[p] * np.exp(-ELASTICITY * gap) * (2.0 if promoted else 1.0)
                units = float(rng.poisson(mean))
                rows.append(
                    {
                        "product_id": p + 1,
                        "week_start": day,
                        "units": units,
                        "revenue": units * price[p],
                        "discount": 0.0,
                        "mailer_share": 1.0 if promoted else 0.0,
                    }
                )
            prev = ratio
    products = pd.DataFrame(
        {
            "product_id": np.arange(1, n_products + 1),
            "sku": [f"C{p}" for p in range(n_products)],
            "category": "grocery",
            "unit_cost": price * 0.7,
            "price": price,
        }
    )
    return pd.DataFrame(rows), products, pd.DataFrame(comp), level


def _last_week_prices(comp: pd.DataFrame, products: pd.DataFrame, ratio: float) -> pd.DataFrame:
    last = WEEK - timedelta(weeks=1)
    out = comp[pd.to_datetime(comp["date"]) < pd.Timestamp(last)].copy()
    mine = products.assign(date=last, price=products["price"] * ratio)
    return pd.concat([out, mine[["product_id", "date", "price"]]], ignore_index=True)


@pytest.fixture(scope="module")
def tenant():
    return competitor_tenant()


def _forecast(tenant, ratio: float, promo_depth: float | None = None) -> pd.DataFrame:
    panel, products, comp, _ = tenant
    if promo_depth is not None:  # planned depth; else the default 20 % off
        products = products.assign(promo_depth=promo_depth)
    prices = _last_week_prices(comp, products, ratio)
    return forecast_week(
        panel=panel, products=products, week_start=WEEK, competitor_prices=prices, config=CONFIG
    ).forecasts


def test_forecast_week_learns_that_a_dearer_competitor_raises_demand(tenant):
    level = tenant[3]
    dear = _forecast(tenant, 1.25)  # we are 20 % cheaper: x exp(0.6) = 1.82
    cheap = _forecast(tenant, 0.8)  # we are 25 % dearer: x exp(-0.75) = 0.47
    truth = np.exp(ELASTICITY * (1 - 1 / 1.25)), np.exp(-ELASTICITY * (1 / 0.8 - 1))
    assert dear["baseline_units"].sum() == pytest.approx(level.sum() * truth[0], rel=0.3)
    assert cheap["baseline_units"].sum() == pytest.approx(level.sum() * truth[1], rel=0.3)
    moved = dear["baseline_units"].sum() / cheap["baseline_units"].sum()
    assert 0.6 * truth[0] / truth[1] < moved < 1.4 * truth[0] / truth[1]


def test_forecast_week_reports_the_competitor_effect_against_parity(tenant):
    # Without a planned discount the promoted price is the shelf price (a 20 % discount would
    # bring the dearer price exactly to the competitor's: parity, no effect to show).
    dear, cheap = _forecast(tenant, 1.25, 0.0), _forecast(tenant, 0.8, 0.0)
    assert (dear["competitor_effect"] > 0).mean() > 0.8
    assert (cheap["competitor_effect"] < 0).mean() > 0.8
    level = tenant[3]
    # At parity (gap 0) the promoted forecast is the products' own level times the mailer's x2.
    assert dear["promoted_units_parity"].sum() == pytest.approx(2 * level.sum(), rel=0.3)


def test_backtest_shows_what_the_competitor_feature_contributes(tenant):
    panel, products, comp, _ = tenant
    result = backtest(panel=panel, products=products, competitor_prices=comp, config=CONFIG)
    weeks = result.weeks
    assert {"parity_units", "parity_wape", "event"} <= set(weeks.columns)
    competitor = result.metrics["competitor"]
    # Forecasting as if prices were at parity throws the feature away: clearly worse.
    assert competitor["parity_wape"] > result.model_wape + 0.05
