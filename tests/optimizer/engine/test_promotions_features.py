"""Calendar, panel and lag features of the promotion engine on hand-made series."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from optimizer.engine.promotions import EngineInputError, ForecastConfig, weekly_panel
from optimizer.engine.promotions.calendar import easter_sunday, holidays, week_features
from optimizer.engine.promotions.features import FEATURES, observed_scenario
from optimizer.engine.promotions.forecast import build_frame
from optimizer.engine.promotions.panel import week_date, week_number

PACKAGE = Path(__file__).resolve().parents[3] / "optimizer" / "engine" / "promotions"
ALLOWED = {"numpy", "pandas", "sklearn", "pulp", "threadpoolctl", "optimizer", "__future__"}

WEEKS = [date(2024, 1, 1), date(2024, 1, 8), date(2024, 1, 15), date(2024, 1, 22), date(2024, 2, 5)]
TARGET = date(2024, 2, 12)


def test_calendar_holidays_known_dates():
    assert easter_sunday(2024) == date(2024, 3, 31)
    assert easter_sunday(2025) == date(2025, 4, 20)
    us = holidays("US", 2017)
    assert us[date(2017, 11, 23)] == "Thanksgiving"
    assert us[date(2017, 5, 29)] == "Memorial Day"
    assert us[date(2017, 9, 4)] == "Labor Day"
    assert holidays("DE", 2024)[date(2024, 3, 29)] == "Good Friday"
    with pytest.raises(ValueError, match="no built-in holiday calendar"):
        holidays("XX", 2024)


def test_week_features_flags_holiday_and_pre_holiday_weeks():
    weeks = pd.Series(pd.to_datetime(["2024-12-16", "2024-12-23", "2024-12-30", "2024-12-23"]))
    out = week_features(weeks, {date(2024, 12, 25): "Christmas"})
    assert out["week_of_year"].tolist() == [51, 52, 1, 52]
    assert out["holiday_week"].tolist() == [0, 1, 0, 1]
    assert out["pre_holiday_week"].tolist() == [1, 0, 0, 0]
    assert out["holiday_name"].tolist() == ["", "Christmas", "", "Christmas"]


def _panel() -> pd.DataFrame:
    # Product 1: 10, 10, 30 (promoted, 20% off), 10, [week of 01-29 missing = 0], 12.
    units = [10.0, 10.0, 30.0, 10.0, 12.0]
    depth = [0.0, 0.0, 0.2, 0.0, 0.0]
    return pd.DataFrame(
        {
            "product_id": [1] * 5 + [2],
            "week_start": pd.to_datetime([*WEEKS, date(2024, 1, 15)]),
            "units": [*units, 4.0],
            "revenue": [u * 22.0 * (1 - d) for u, d in zip(units, depth, strict=True)] + [20.0],
            "discount": [u * 22.0 * d for u, d in zip(units, depth, strict=True)] + [0.0],
            "display_share": [0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
            "mailer_share": [0.0, 0.0, 1.0, 0.0, 0.0, 0.0],
        }
    )


def _products() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "product_id": [1, 2, 3],
            "sku": ["A", "B", "C"],
            "category": ["dairy", "dairy", ""],
            "unit_cost": [15.0, 3.0, 1.0],
            "price": [22.0, 5.0, 2.0],
        }
    )


@pytest.fixture
def frame() -> pd.DataFrame:
    competitors = pd.DataFrame(
        {
            "product_id": [1, 1],
            "date": pd.to_datetime(["2024-01-10", "2024-01-11"]),
            "price": [20.0, 20.0],
        }
    )
    out = build_frame(
        _panel(),
        _products(),
        competitors,
        ForecastConfig(),
        end_week=week_number(TARGET),
        with_targets=True,
    )
    out["week"] = [week_date(w) for w in out["wk"]]
    return out


def test_frame_fills_missing_weeks_and_adds_target_rows(frame):
    one = frame[frame["product_id"] == 1]
    assert one["week"].tolist()[:6] == [*WEEKS[:4], date(2024, 1, 29), date(2024, 2, 5)]
    assert one["units"].tolist()[:6] == [10.0, 10.0, 30.0, 10.0, 0.0, 12.0]
    assert one["is_target"].tolist() == [False] * 6 + [True]
    # product 3 was never sold: one target row with no history
    three = frame[frame["product_id"] == 3]
    assert len(three) == 1
    assert bool(three["is_target"].iloc[0])
    assert np.isnan(three["level"].iloc[0])
    assert three["category"].iloc[0] == "uncategorised"
    assert set(FEATURES) - {"discount_depth", "price_gap"} <= set(frame.columns)


def test_frame_promotion_flag_level_and_last_lift(frame):
    one = frame[frame["product_id"] == 1].reset_index(drop=True)
    assert one["promoted"].tolist()[:6] == [False, False, True, False, False, False]
    assert one.loc[2, "depth"] == pytest.approx(0.2)
    assert one.loc[3, "level"] == pytest.approx(10.0)  # non-promoted weeks only
    assert one.loc[3, "lag_units_1"] == pytest.approx(30.0)
    assert one.loc[3, "mean_units_4"] == pytest.approx(50.0 / 3)
    assert one.loc[3, "last_lift"] == pytest.approx(3.0)
    assert one.loc[3, "weeks_since_promo"] == 1
    assert one.loc[6, "weeks_since_promo"] == 4
    assert one.loc[6, "past_lift"] == pytest.approx(30.0 / (42.0 / 5))
    assert one.loc[6, "hist_promo_depth"] == pytest.approx(0.2)
    assert np.isnan(one.loc[0, "lag_units_1"])
    assert np.isnan(one.loc[0, "last_lift"])


def test_frame_trend_and_seasonality_columns(frame):
    one = frame[frame["product_id"] == 1].reset_index(drop=True)
    assert one["trend"].tolist() == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
    assert one["iso_week"].tolist() == [1, 2, 3, 4, 5, 6, 7]
    assert one["month"].tolist() == [1, 1, 1, 1, 2, 2, 2]
    # One year of history: no week of the year has two years of evidence, the month pools it.
    assert one["week_of_year"].isna().all()
    assert one.loc[0, "holiday_name"] == "New Year"
    assert one.loc[5, "holiday_name"] == "Super Bowl"  # 2nd Sunday of Feb 2024 = 02-11
    assert one.loc[6, "holiday_name"] == "Valentine's Day"  # the target week gets its own
    assert one["holiday_week"].tolist() == [1, 0, 0, 0, 0, 1, 1]
    assert one["pre_holiday_week"].tolist() == [0, 0, 0, 0, 1, 1, 0]


def test_frame_competitor_price_known_only_after_observation(frame):
    one = frame[frame["product_id"] == 1].reset_index(drop=True)
    # observed in the week of 01-08: unknown that week, known from 01-15 for 8 weeks
    assert np.isnan(one.loc[0, "competitor_price"])
    assert np.isnan(one.loc[1, "competitor_price"])
    assert one.loc[2, "competitor_price"] == pytest.approx(20.0)
    assert one.loc[6, "competitor_price"] == pytest.approx(20.0)
    two = frame[frame["product_id"] == 2]
    assert two["competitor_price"].isna().all()


def test_observed_scenario_price_gap_uses_the_paid_price(frame):
    seen = observed_scenario(frame[~frame["is_target"]])
    one = seen[seen["product_id"] == 1].reset_index(drop=True)
    assert one.loc[2, "discount_depth"] == pytest.approx(0.2)
    assert one.loc[2, "price_gap"] == pytest.approx(22 * 0.8 / 20 - 1)
    assert one.loc[3, "price_gap"] == pytest.approx(22 / 20 - 1)
    # a week without sales gets the assumed (past non-promoted) depth, not NaN
    assert one.loc[4, "discount_depth"] == pytest.approx(0.0)
    assert np.isnan(one.loc[0, "price_gap"])


def test_weekly_panel_aggregates_lines_and_promotions():
    lines = pd.DataFrame(
        {
            "product_id": [1, 1, 1, 2, 1],
            "day": pd.to_datetime(
                ["2024-01-01", "2024-01-07", "2024-01-08", "2024-01-03", "2024-01-02"]
            ),
            "quantity": [2.0, 1.0, 3.0, 1.0, -1.0],
            "amount": [4.0, 2.0, 5.0, 9.0, -2.0],
            "discount": [0.0, 0.5, 1.0, 0.0, 0.0],
            "customer_id": [7, 8, 7, 7, 7],
        }
    )
    promotions = pd.DataFrame(
        {
            "product_id": [1, 3],
            "week_start": [date(2024, 1, 8), date(2024, 1, 8)],
            "display_stores": [2, 4],
            "mailer_stores": [4, 0],
        }
    )
    out = weekly_panel(lines, promotions, store_count=4)
    got = out.set_index(["product_id", "week_start"])
    first = got.loc[(1, pd.Timestamp("2024-01-01"))]
    assert first["units"] == 3.0
    assert first["revenue"] == 6.0
    assert first["discount"] == 0.5
    assert first["buyers"] == 2.0
    assert first["mailer_share"] == 0.0
    second = got.loc[(1, pd.Timestamp("2024-01-08"))]
    assert (second["units"], second["display_share"], second["mailer_share"]) == (3.0, 0.5, 1.0)
    assert got.loc[(3, pd.Timestamp("2024-01-08"))]["units"] == 0.0
    with pytest.raises(EngineInputError, match="store_count"):
        weekly_panel(lines, promotions)
