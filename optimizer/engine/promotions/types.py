"""Frozen value types of the weekly-promotion engine: configuration, results and the domain error.

Objective: one place for the plain structures that cross the engine/glue boundary, so that the
Django side can build a config from settings or a form, and turn a result's frames into
``PromotionProposal`` rows, without knowing the modules that produce them.

Constraints: stdlib, numpy and pandas only; no behaviour beyond tiny helpers. Results that hold
frames use ``eq=False`` (identity equality) because frame comparison has no single truth value.
Money is float in the engine's currency (the glue quantizes to ``Decimal`` on the way back).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

import pandas as pd

from optimizer.engine.types import EngineInputError

__all__ = [
    "BacktestResult",
    "EngineInputError",
    "ForecastConfig",
    "ForecastResult",
    "InfeasiblePromotion",
    "SelectionConfig",
    "SelectionResult",
    "WeeklyProposal",
]


class InfeasiblePromotion(ValueError):
    """The staff settings cannot all hold; ``constraint`` names the one that breaks.

    ``constraint`` is one of ``"k"``, ``"category_cap"``, ``"budget"``, ``"stock"``, ``"ban"``,
    ``"pin"`` (a pinned product that is unknown or has no forecast) or ``"solver"``.
    """

    def __init__(self, constraint: str, message: str) -> None:
        super().__init__(message)
        self.constraint = constraint


@dataclass(frozen=True)
class ForecastConfig:
    """Knobs of the demand forecast and the backtest; every default is explained where used."""

    #: Country of the built-in holiday calendar (``calendar.COUNTRIES``); ``None``: no holidays
    #: unless ``holiday_dates`` lists some.
    holiday_country: str | None = "US"
    #: Extra (or replacement, with ``holiday_country=None``) holidays: ``(date, name)`` pairs.
    holiday_dates: tuple[tuple[date, str], ...] = ()
    #: A product-week counts as promoted when display or mailer share reaches this (0 = any).
    promoted_min_share: float = 0.0
    #: The "promoted" scenario of the forecast: share of stores with display / mailer. ``None``
    #: (default): the retailer's typical promotion, the median shares over the promoted
    #: product-weeks of the history (so the scenario is one the model has seen); set a number
    #: to plan another kind of promotion (1.0 / 1.0: display and mailer in every store).
    promo_display_share: float | None = None
    promo_mailer_share: float | None = None
    #: Discount depth (share of the regular price) of a promotion when neither the products
    #: frame (``promo_depth``) nor the product's or category's past promoted weeks give one.
    default_promo_depth: float = 0.20
    #: Train on the last N weeks before the forecast week, at most ``max_train_rows`` rows (all
    #: promoted rows first, then a seeded sample of the others).
    train_weeks: int = 104
    max_train_rows: int = 200_000
    #: A competitor price older than this many weeks is ignored (gap unknown, NaN).
    competitor_max_age_weeks: int = 8
    #: Trailing windows (weeks) of the lag features.
    short_window: int = 4
    long_window: int = 13
    #: Gradient-boosting settings (Poisson loss, see ``forecast.py``).
    max_iter: int = 150
    learning_rate: float = 0.1
    max_leaf_nodes: int = 31
    min_samples_leaf: int = 20
    l2_regularization: float = 1.0
    #: Threads for OpenMP inside scikit-learn (1: the worker cluster runs one task per core).
    n_threads: int = 1
    #: A forecast of more than this many times the product's highest full week in the history
    #: is flagged ``out_of_range`` (shown on the proposal; a promotion can beat the record,
    #: but not by this much without someone checking).
    range_flag_factor: float = 2.0
    #: Backtest: replay the last N weeks (a year: holidays and the year start included),
    #: refit the model every ``retrain_every`` weeks (13 fits a year).
    backtest_weeks: int = 52
    retrain_every: int = 4


@dataclass(frozen=True)
class SelectionConfig:
    """Knobs of the weekly selection (the MILP in ``selection.py``)."""

    #: Promote at most K products (fewer when fewer are worthwhile or allowed).
    k: int = 20
    #: At most this many promoted products per category (``None``: no cap).
    max_per_category: int | None = 3
    #: Money budget for the expected discount cost of the promoted units (``None``: no budget).
    discount_budget: float | None = None
    #: A product promoted in any of the last N weeks before the week is excluded unless pinned.
    recent_weeks: int = 4
    #: Categories never promoted (non-merchandise: gift cards, phone cards, ...), compared
    #: case-insensitively; a pinned product in one is an error.
    excluded_categories: tuple[str, ...] = ()
    #: Categories of which at least one product must be promoted.
    pinned_categories: tuple[str, ...] = ()
    #: Stock must cover ``promoted_units * (1 + stock_safety)``.
    stock_safety: float = 0.2
    #: Products without an inventory row: ``"exclude"`` (never risk a stock-out) or ``"allow"``.
    missing_inventory: Literal["exclude", "allow"] = "exclude"
    #: Overstock preference: stock above ``target_cover_weeks`` weeks of baseline demand is
    #: "excess"; each incremental unit that clears excess earns ``overstock_value * unit_cost``.
    target_cover_weeks: float = 2.0
    overstock_value: float = 0.10
    #: Value (money) of each target-segment customer reached (``reach`` column); 0 = report only.
    reach_value: float = 0.0
    #: Only products whose objective value exceeds this are worth promoting (unless pinned).
    min_objective: float = 0.0
    #: Currency symbol used in the reasons.
    currency_symbol: str = "€"
    #: Relative MIP gap accepted (the time limit is an argument of the entry points).
    mip_gap: float = 1e-6


@dataclass(frozen=True, eq=False)
class ForecastResult:
    """Output of :func:`forecast_week`: one row per candidate product (see ``forecast.py``)."""

    week_start: date
    forecasts: pd.DataFrame
    metrics: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, eq=False)
class SelectionResult:
    """Output of :func:`select_promotions` (columns of the frames in ``selection.py``)."""

    week_start: date
    selected: pd.DataFrame
    excluded: pd.DataFrame
    k: int
    n_selected: int
    objective: float
    solver: str
    solver_status: str
    #: Empty when K products were chosen; otherwise why fewer were.
    message: str
    counts: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, eq=False)
class WeeklyProposal:
    """Output of :func:`propose_week`: the forecast and the selection made from it."""

    week_start: date
    forecast: ForecastResult
    selection: SelectionResult
    #: The chosen products' forecast against what they ever sold (``range_check`` in
    #: ``forecast.py``): ``forecast_units``, ``observed_max_units``, ``out_of_range`` ...
    checks: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, eq=False)
class BacktestResult:
    """Output of :func:`backtest`: error on promoted product-weeks, model vs naive baseline.

    WAPE = sum|forecast - actual| / sum actual; bias = sum(forecast - actual) / sum actual
    (positive: over-forecast). ``weeks`` has one row per replayed week (columns in
    ``backtest.py``); the overall figures pool every promoted product-week.
    """

    weeks: pd.DataFrame
    model_wape: float
    model_bias: float
    naive_wape: float
    naive_bias: float
    n_weeks: int
    n_product_weeks: int
    actual_units: float
    retrain_every: int
    metrics: dict[str, Any] = field(default_factory=dict)
