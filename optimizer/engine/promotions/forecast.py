"""Forecast of next week's baseline and promoted units per candidate product, with economics.

Objective: for the week starting ``week_start`` and every product of the products frame, the
expected units without a promotion (baseline scenario: no display, no mailer, the product's
usual discount depth) and with one (promoted scenario: ``promo_display_share`` /
``promo_mailer_share`` of stores and the planned discount depth), then the money: incremental
revenue and margin, discount cost, stock cover, competitor gap and reach.

Fallbacks (reported per product in ``fallback``): no sales history -> the category's (else the
chain's) median weekly level is the scale; no planned depth -> the product's past promoted
depth, else its category's, else ``default_promo_depth``; no competitor price -> gap NaN (the
trees route it as missing); no inventory row -> ``on_hand`` NaN (the selection decides, see
``SelectionConfig.missing_inventory``); no reach row -> 0.

Constraints: only data strictly before ``week_start`` is read; deterministic given
``random_state``; nothing reads the clock.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from optimizer.engine.promotions.features import (
    add_static_features,
    apply_scenario,
    competitor_prices,
    lag_features,
    observed_scenario,
)
from optimizer.engine.promotions.model import (
    LiftModel,
    category_codes,
    fit_lift_model,
    predict_units,
    select_training_rows,
)
from optimizer.engine.promotions.panel import (
    build_grid,
    partial_weeks,
    prepare_products,
    require,
    week_date,
    week_number,
    week_numbers,
)
from optimizer.engine.promotions.types import EngineInputError, ForecastConfig, ForecastResult


def check_monday(week_start: date) -> int:
    """Week number of ``week_start``; raises :class:`EngineInputError` unless it is a Monday."""
    if week_start.weekday() != 0:
        raise EngineInputError(f"week_start must be a Monday, got {week_start.isoformat()}")
    return week_number(week_start)


def build_frame(
    panel: pd.DataFrame,
    products: pd.DataFrame,
    competitors: pd.DataFrame | None,
    config: ForecastConfig,
    *,
    end_week: int,
    with_targets: bool,
) -> pd.DataFrame:
    """Grid + every feature for history before ``end_week`` (+ target rows if asked)."""
    prods = prepare_products(products)
    ids = prods["product_id"].to_numpy(np.int64)
    grid = build_grid(
        panel,
        ids,
        end_week=end_week,
        start_week=end_week - config.train_weeks - config.long_window,
        target_products=ids if with_targets else None,
    )
    lag_features(grid, config.promoted_min_share, config.short_window, config.long_window)
    named = grid[["product_id"]].merge(prods[["product_id", "category"]], on="product_id")
    return add_static_features(
        grid,
        prods,
        competitor_prices(competitors),
        config,
        target_week=end_week,
        first_week=int(grid["wk"].min()) if len(grid) else end_week,
        categories=category_codes(named),
    )


def _latest_inventory(inventory: pd.DataFrame | None) -> pd.Series:
    """Units on hand per product: rows of the latest ``date`` (if given) summed over stores."""
    if inventory is None or len(inventory) == 0:
        return pd.Series(dtype=np.float64)
    require(inventory, ("product_id", "on_hand"), "inventory")
    inv = inventory
    if "date" in inv.columns:
        dates = pd.to_datetime(inv["date"])
        inv = inv[dates.eq(dates.groupby(inv["product_id"]).transform("max"))]
    return inv.groupby("product_id")["on_hand"].sum().astype(np.float64)


def _reach(reach: pd.DataFrame | None) -> pd.Series:
    if reach is None or len(reach) == 0:
        return pd.Series(dtype=np.float64)
    require(reach, ("product_id", "reach"), "reach")
    return reach.groupby("product_id")["reach"].sum().astype(np.float64)


def scenario_depths(target: pd.DataFrame, config: ForecastConfig) -> tuple[np.ndarray, ...]:
    """Baseline and promoted discount depth per target row, and the fallback notes."""
    base = target["base_depth"].fillna(0.0).clip(0.0, 0.95)
    hist = target["hist_promo_depth"]
    category = hist.groupby(target["category"]).transform("median")
    planned = target["promo_depth"]
    promo = planned.fillna(hist).fillna(category).fillna(config.default_promo_depth)
    promo = np.maximum(promo.clip(0.0, 0.95), base)
    note = np.where(
        planned.notna(),
        "",
        np.where(
            hist.notna(),
            "",
            np.where(category.notna(), "category promo depth", "default promo depth"),
        ),
    )
    return base.to_numpy(np.float64), promo.to_numpy(np.float64), note


def _join_notes(*notes: np.ndarray) -> list[str]:
    return ["; ".join(n for n in row if n) for row in zip(*notes, strict=True)]


def typical_promotion(history: pd.DataFrame) -> tuple[float, float]:
    """Median (display, mailer) shares over the promoted product-weeks of ``history``.

    ``(0.0, 1.0)`` (a mailer to every member) when the history has no promoted week.
    """
    display = history.get("display_share", pd.Series(dtype=np.float64)).fillna(0.0)
    mailer = history.get("mailer_share", pd.Series(dtype=np.float64)).fillna(0.0)
    promoted = (display > 0) | (mailer > 0)
    if not promoted.any():
        return 0.0, 1.0
    return float(display[promoted].median()), float(mailer[promoted].median())


def _share(configured: float | None, typical: float) -> float:
    return typical if configured is None else float(configured)


def _at_parity(scenario: pd.DataFrame, known: np.ndarray) -> pd.DataFrame:
    """``scenario`` with our paid price level with the competitor's (gap 0) where one is known."""
    return scenario.assign(price_gap=np.where(known, 0.0, np.nan))


def forecast_targets(frame: pd.DataFrame, model: LiftModel, config: ForecastConfig) -> pd.DataFrame:
    """Baseline / promoted units of the target rows of ``frame`` (economics not yet added)."""
    target = frame[frame["is_target"]].reset_index(drop=True)
    base_depth, promo_depth, depth_note = scenario_depths(target, config)
    zeros = np.zeros(len(target))
    baseline = predict_units(model, apply_scenario(target, zeros, zeros, base_depth), config)
    typical_display, typical_mailer = typical_promotion(frame[~frame["is_target"]])
    display = np.full(len(target), _share(config.promo_display_share, typical_display))
    mailer = np.full(len(target), _share(config.promo_mailer_share, typical_mailer))
    scenario = apply_scenario(target, display, mailer, promo_depth)
    promoted = predict_units(model, scenario, config)
    # The competitor feature's share of the forecast: the same scenario with our paid price
    # level with the competitor's (gap 0); NaN without a competitor price.
    known = target["competitor_price"].notna().to_numpy()
    at_parity = predict_units(model, _at_parity(scenario, known), config)
    base_parity = predict_units(
        model, _at_parity(apply_scenario(target, zeros, zeros, base_depth), known), config
    )
    target["baseline_units"] = baseline
    target["promoted_units"] = np.maximum(promoted, baseline)
    target["promoted_units_parity"] = np.maximum(at_parity, base_parity)
    with np.errstate(invalid="ignore", divide="ignore"):
        effect = target["promoted_units"] / target["promoted_units_parity"] - 1.0
    target["competitor_effect"] = effect.where(target["competitor_price"].notna())
    history = frame[~frame["is_target"]]
    record = history.groupby("product_id")["units"].max()
    target["observed_max_units"] = target["product_id"].map(record).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = target["promoted_units"] / target["observed_max_units"].where(
            target["observed_max_units"] > 0
        )
    target["range_ratio"] = ratio
    target["out_of_range"] = (ratio > config.range_flag_factor).to_numpy(bool)
    target["week_of_year"] = target["iso_week"]
    target["base_depth"] = base_depth
    target["promo_depth"] = promo_depth
    level_note = np.where(target["level"].isna(), "no sales history: category level", "")
    comp_note = np.where(target["competitor_price"].isna(), "no competitor price", "")
    target["fallback"] = _join_notes(level_note, depth_note, comp_note)
    return target


def add_economics(target: pd.DataFrame, inventory: pd.Series, reach: pd.Series) -> pd.DataFrame:
    """The money and stock columns of the forecast (see :func:`forecast_week`)."""
    out = target
    price, cost = out["price"], out["unit_cost"]
    base_u, promo_u = out["baseline_units"], out["promoted_units"]
    base_price = price * (1.0 - out["base_depth"])
    promo_price = price * (1.0 - out["promo_depth"])
    out["lift"] = np.where(base_u > 0, promo_u / base_u.where(base_u > 0, 1.0), 1.0)
    out["incremental_units"] = promo_u - base_u
    out["incremental_revenue"] = promo_u * promo_price - base_u * base_price
    out["incremental_margin"] = promo_u * (promo_price - cost) - base_u * (base_price - cost)
    out["discount_cost"] = promo_u * price * out["promo_depth"]
    out["on_hand"] = out["product_id"].map(inventory).astype(np.float64)
    out["stock_cover"] = out["on_hand"] / promo_u.where(promo_u > 0, np.nan)
    out["competitor_gap"] = price / out["competitor_price"] - 1.0
    out["reach"] = out["product_id"].map(reach).fillna(0.0).astype(np.float64)
    out["seasonal_index"] = base_u / out["level"].where(out["level"] > 0, np.nan)
    out["last_promoted_week"] = pd.to_datetime(
        [week_date(int(w)) if pd.notna(w) else pd.NaT for w in out["last_promo_wk"]]
    )
    return out


def competitor_summary(forecasts: pd.DataFrame) -> dict[str, float | int]:
    """How much the competitor-price feature moves the promoted forecast of ``forecasts``
    (rows with a competitor price): units with it, at price parity, the relative change and
    the mean absolute relative change per product."""
    known = forecasts[forecasts["competitor_effect"].notna()]
    with_units = float(known["promoted_units"].sum())
    parity = float(known["promoted_units_parity"].sum())
    return {
        "products": len(known),
        "promoted_units": with_units,
        "promoted_units_at_parity": parity,
        "change": with_units / parity - 1.0 if parity > 0 else 0.0,
        "mean_abs_change": float(known["competitor_effect"].abs().mean()) if len(known) else 0.0,
    }


def range_check(selected: pd.DataFrame, panel: pd.DataFrame, factor: float) -> dict[str, object]:
    """The chosen products' promoted forecast against what they ever sold together.

    ``observed_max_units`` is the highest full-week total of those products in ``panel``
    (partial weeks left out, see ``panel.partial_weeks``); ``out_of_range`` is True when the
    forecast total exceeds ``factor`` times it; ``flagged`` lists the SKUs flagged one by one.
    """
    ids = selected["product_id"].to_numpy(np.int64) if len(selected) else np.array([], np.int64)
    rows = panel[panel["product_id"].isin(ids)]
    weeks = week_numbers(rows["week_start"]) if len(rows) else np.array([], np.int64)
    partial: np.ndarray | list[int] = (
        partial_weeks(panel, week_numbers(panel["week_start"])) if len(panel) else []
    )
    full = rows[~np.isin(weeks, partial)]
    totals = full.groupby(weeks[~np.isin(weeks, partial)])["units"].sum()
    record = float(totals.max()) if len(totals) else 0.0
    total = float(selected["promoted_units"].sum()) if len(selected) else 0.0
    flags = selected.get("out_of_range", pd.Series(False, index=selected.index))
    flagged = selected.loc[flags.astype(bool)]
    return {
        "forecast_units": total,
        "baseline_units": float(selected["baseline_units"].sum()) if len(selected) else 0.0,
        "observed_max_units": record,
        "ratio": total / record if record > 0 else None,
        "out_of_range": bool(record > 0 and total > factor * record),
        "flagged": [str(s) for s in flagged["sku"]] if len(flagged) else [],
    }


FORECAST_COLUMNS: tuple[str, ...] = (
    "product_id",
    "sku",
    "category",
    "price",
    "unit_cost",
    "baseline_units",
    "promoted_units",
    "lift",
    "incremental_units",
    "base_depth",
    "promo_depth",
    "incremental_revenue",
    "incremental_margin",
    "discount_cost",
    "on_hand",
    "stock_cover",
    "competitor_price",
    "competitor_gap",
    "reach",
    "level",
    "seasonal_index",
    "week_of_year",
    "holiday_name",
    "history_weeks",
    "last_promoted_week",
    "weeks_since_promo",
    "fallback",
    "observed_max_units",
    "range_ratio",
    "out_of_range",
    "promoted_units_parity",
    "competitor_effect",
)


def forecast_week(
    *,
    panel: pd.DataFrame,
    products: pd.DataFrame,
    week_start: date,
    inventory: pd.DataFrame | None = None,
    competitor_prices: pd.DataFrame | None = None,
    reach: pd.DataFrame | None = None,
    config: ForecastConfig | None = None,
    random_state: int = 0,
) -> ForecastResult:
    """Train the lift model on the history before ``week_start`` and forecast that week.

    Args:
        panel: weekly product panel, one row per product and week with sales or a promotion:
            ``product_id`` int64, ``week_start`` date/datetime64 (Monday), ``units`` float,
            ``revenue`` float (paid), ``discount`` float (money, >= 0), ``display_share`` and
            ``mailer_share`` float 0-1 (share of stores; optional, 0 if absent) and optional
            ``buyers`` float (distinct loyalty customers that week). Missing weeks between a
            product's first row and the last week of the panel mean no sales, no promotion.
            Build it from lines with :func:`weekly_panel`. Rows on/after ``week_start`` are
            ignored.
        products: the candidates (and the products learned from): ``product_id`` int64,
            ``sku`` str, ``category`` str, ``unit_cost`` float, ``price`` float (regular),
            optional ``promo_depth`` float 0-1 (planned discount depth of a promotion).
        week_start: the Monday of the week to forecast.
        inventory: ``product_id`` int64, ``on_hand`` float (chain level) and optional ``date``
            (only the latest date's rows count, summed over stores); ``None`` = unknown.
        competitor_prices: ``product_id`` int64, ``date`` date, ``price`` float (any
            competitors; the mean of those seen in the latest week before ``week_start``
            within ``competitor_max_age_weeks`` counts); ``None`` = unknown.
        reach: ``product_id`` int64, ``reach`` int (loyalty customers of the target segments
            who bought the product in the recent window); ``None`` = 0 for all.
        config: :class:`ForecastConfig` (defaults if ``None``).
        random_state: seed of the training sample and the estimator.

    Returns:
        :class:`ForecastResult` whose ``forecasts`` frame has one row per product with
        :data:`FORECAST_COLUMNS`: units are float weekly units; ``lift`` = promoted /
        baseline; money columns in the products' currency; ``stock_cover`` = on_hand /
        promoted units (NaN if unknown); ``competitor_gap`` = price / competitor price - 1;
        ``seasonal_index`` = baseline / the 13-week non-promoted level; ``fallback`` lists the
        fallbacks used; ``observed_max_units`` is the product's highest full week of the
        history, ``range_ratio`` = promoted units / that and ``out_of_range`` is True above
        ``config.range_flag_factor``; ``promoted_units_parity`` is the promoted forecast with
        our price level with the competitor's and ``competitor_effect`` = promoted units / that
        - 1 (NaN without a competitor price). ``metrics`` holds training counts, the model's
        settings, the ``out_of_range`` count and the ``competitor`` totals.

    Raises:
        EngineInputError: a required column is missing, ``week_start`` is not a Monday, or
            a value is out of range.
    """
    config = config or ForecastConfig()
    end = check_monday(week_start)
    frame = build_frame(panel, products, competitor_prices, config, end_week=end, with_targets=True)
    history = observed_scenario(frame[~frame["is_target"]])
    train = select_training_rows(history, end, config, random_state)
    model = fit_lift_model(train, config, random_state)
    target = forecast_targets(frame, model, config)
    target = add_economics(target, _latest_inventory(inventory), _reach(reach))
    forecasts = target[list(FORECAST_COLUMNS)].sort_values("product_id", ignore_index=True)
    metrics = {
        "week_start": week_start.isoformat(),
        "train_rows": model.n_rows,
        "train_promoted_rows": model.n_promoted_rows,
        "model": "poisson_hgb" if model.estimator is not None else "level_times_last_lift",
        "sklearn_version": model.sklearn_version,
        "history_weeks": int(frame["wk"].nunique()) - 1 if len(frame) else 0,
        "products": len(forecasts),
        "out_of_range": int(forecasts["out_of_range"].sum()),
        "competitor": competitor_summary(forecasts),
        "fallbacks": {
            "no_history": int(forecasts["level"].isna().sum()),
            "no_competitor_price": int(forecasts["competitor_price"].isna().sum()),
            "no_inventory": int(forecasts["on_hand"].isna().sum()),
        },
    }
    return ForecastResult(week_start=week_start, forecasts=forecasts, metrics=metrics)
