"""Weekly promotions: forecast next week's promotion lift per product and choose what to promote.

Public entry points (pure: frames and frozen dataclasses in, frozen dataclasses out):

* :func:`forecast_week` - baseline and promoted units, lift and money per product;
* :func:`select_promotions` - the MILP choice of up to K products from a forecast;
* :func:`propose_week` - both in one call;
* :func:`backtest` - rolling-origin error of the lift model against a naive rule;
* :func:`weekly_panel` - aggregate transaction lines and promotion history to the panel.

See ``docs/promotions.md`` for the model, the features, the constraints and the backtest.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

import pandas as pd

from optimizer.engine.promotions.backtest import backtest, wape_bias
from optimizer.engine.promotions.calendar import holiday_table, holidays
from optimizer.engine.promotions.forecast import FORECAST_COLUMNS, forecast_week, range_check
from optimizer.engine.promotions.panel import weekly_panel
from optimizer.engine.promotions.selection import SELECTED_COLUMNS, select_promotions
from optimizer.engine.promotions.types import (
    BacktestResult,
    EngineInputError,
    ForecastConfig,
    ForecastResult,
    InfeasiblePromotion,
    SelectionConfig,
    SelectionResult,
    WeeklyProposal,
)

__all__ = [
    "FORECAST_COLUMNS",
    "SELECTED_COLUMNS",
    "BacktestResult",
    "EngineInputError",
    "ForecastConfig",
    "ForecastResult",
    "InfeasiblePromotion",
    "SelectionConfig",
    "SelectionResult",
    "WeeklyProposal",
    "backtest",
    "forecast_week",
    "holiday_table",
    "holidays",
    "propose_week",
    "range_check",
    "select_promotions",
    "wape_bias",
    "weekly_panel",
]


def propose_week(
    *,
    panel: pd.DataFrame,
    products: pd.DataFrame,
    week_start: date,
    inventory: pd.DataFrame | None = None,
    competitor_prices: pd.DataFrame | None = None,
    reach: pd.DataFrame | None = None,
    pinned: Iterable[int] = (),
    banned: Iterable[int] = (),
    recent_promotions: pd.DataFrame | None = None,
    forecast_config: ForecastConfig | None = None,
    selection_config: SelectionConfig | None = None,
    random_state: int = 0,
    time_limit: float = 20.0,
) -> WeeklyProposal:
    """Forecast the week and choose the promoted products (:func:`forecast_week` then
    :func:`select_promotions`; arguments, returns and raises as there)."""
    forecast = forecast_week(
        panel=panel,
        products=products,
        week_start=week_start,
        inventory=inventory,
        competitor_prices=competitor_prices,
        reach=reach,
        config=forecast_config,
        random_state=random_state,
    )
    selection = select_promotions(
        forecasts=forecast.forecasts,
        week_start=week_start,
        config=selection_config,
        pinned=pinned,
        banned=banned,
        recent_promotions=recent_promotions,
        time_limit=time_limit,
    )
    factor = (forecast_config or ForecastConfig()).range_flag_factor
    checks = range_check(selection.selected, panel, factor)
    return WeeklyProposal(
        week_start=week_start, forecast=forecast, selection=selection, checks=checks
    )
