"""Rolling-origin backtest of the lift model on past promoted product-weeks.

Objective: tell staff how far to trust the promoted-units forecast. For each of the last
``backtest_weeks`` weeks ``w`` of the panel, a model trained only on weeks before ``w`` predicts
the units of every product promoted in ``w`` (in the scenario that actually ran: its display and
mailer shares and discount depth); the error is compared with a naive rule: the product's last
observed promotion lift (units of its last promoted week over its pre-promotion level) times its
current level, falling back to the median of that week's last lifts in the product's category,
then over all products, then 1.

Metrics, pooled over product-weeks: WAPE = sum|forecast - actual| / sum actual and bias =
sum(forecast - actual) / sum actual (positive = over-forecast).

Constraints (speed): the features are built once (every lag reads only earlier weeks, so one
frame serves every origin), and the model is refit every ``retrain_every`` weeks on the data
before that origin; a model trained at origin ``w0`` also predicts ``w0 + 1 ... w0 + r - 1``
(still no look-ahead, slightly staler). Products need one earlier week of history to be scored;
partial weeks are scored on what was sold (a Christmas closure is a week a planner plans too)
and named "(partial week)", though no model ever trained on one. The week-of-year feature is
re-pooled at each refit from the weeks before it, so a test week never vouches for its own
seasonality. Each week names its holiday (or "year start" for ISO week 1), and the model is
also scored with every competitor price set to parity (``parity_*``): the difference is what
the competitor-price feature contributes.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from optimizer.engine.promotions.features import observed_scenario, pool_week_of_year
from optimizer.engine.promotions.forecast import build_frame, check_monday
from optimizer.engine.promotions.model import (
    LiftModel,
    fit_lift_model,
    predict_units,
    select_training_rows,
)
from optimizer.engine.promotions.panel import require, week_date, week_numbers
from optimizer.engine.promotions.types import BacktestResult, EngineInputError, ForecastConfig


def wape_bias(actual: np.ndarray, forecast: np.ndarray) -> tuple[float, float]:
    """WAPE and bias of ``forecast`` against ``actual`` (NaN when actuals sum to 0)."""
    total = float(np.sum(actual))
    if total <= 0:
        return float("nan"), float("nan")
    diff = np.asarray(forecast, dtype=np.float64) - np.asarray(actual, dtype=np.float64)
    return float(np.abs(diff).sum() / total), float(diff.sum() / total)


def naive_forecast(rows: pd.DataFrame, week_rows: pd.DataFrame) -> np.ndarray:
    """Level times the last observed lift (category median, overall median, then 1)."""
    known = week_rows[week_rows["last_lift"].notna()]
    per_cat = known.groupby("category")["last_lift"].median()
    overall = float(known["last_lift"].median()) if len(known) else 1.0
    lift = rows["last_lift"].fillna(rows["category"].map(per_cat)).fillna(overall)
    naive: np.ndarray = (rows["level"].fillna(0.0) * lift).to_numpy(np.float64)
    return naive


def _event(week_rows: pd.DataFrame, week: int) -> str:
    """The week's holiday, else "year start" for ISO week 1, else ""."""
    if len(week_rows) == 0:
        return ""
    name = str(week_rows["holiday_name"].iloc[0] or "")
    if not name and week_date(week).isocalendar()[1] == 1:
        name = "year start"
    if bool(week_rows["partial"].iloc[0]):
        name = f"{name} (partial week)".strip()
    return name


def backtest(
    *,
    panel: pd.DataFrame,
    products: pd.DataFrame,
    competitor_prices: pd.DataFrame | None = None,
    config: ForecastConfig | None = None,
    random_state: int = 0,
    last_week: date | None = None,
) -> BacktestResult:
    """Replay the last ``config.backtest_weeks`` weeks up to ``last_week`` (rolling origin).

    Args:
        panel, products, competitor_prices: as :func:`forecast.forecast_week`.
        config: :class:`ForecastConfig`; ``backtest_weeks`` and ``retrain_every`` set the
            replay, ``promoted_min_share`` which weeks count as promoted.
        random_state: seed of every fit.
        last_week: Monday of the last week replayed (default: the panel's last week).

    Returns:
        :class:`BacktestResult`; ``weeks`` has one row per replayed week: ``week_start``
        datetime64, ``n_promoted`` int, ``actual_units``, ``model_units``, ``naive_units``,
        ``model_wape``, ``naive_wape``, ``model_bias``, ``naive_bias`` float (NaN without
        promoted units), ``refit`` bool, ``event`` str (holiday name, "year start" or "",
        "(partial week)" added to a week with fewer trading days),
        ``parity_units`` and ``parity_wape`` (the model with competitor prices at parity).
        ``metrics`` adds the training rows of each refit and ``competitor``: the pooled
        parity WAPE and the relative change of the forecast the competitor feature makes.

    Raises:
        EngineInputError: a column is missing, the panel is empty or ``last_week`` is not a
            Monday.
    """
    config = config or ForecastConfig()
    require(panel, ("product_id", "week_start"), "panel")
    if len(panel) == 0:
        raise EngineInputError("panel is empty: nothing to backtest")
    last = int(week_numbers(panel["week_start"]).max())
    if last_week is not None:
        last = min(last, check_monday(last_week))
    frame = build_frame(
        panel, products, competitor_prices, config, end_week=last + 1, with_targets=False
    )
    frame = observed_scenario(frame)
    first = last - max(1, config.backtest_weeks) + 1
    rows: list[dict[str, object]] = []
    refits: list[dict[str, object]] = []
    actual_all: list[np.ndarray] = []
    model_all: list[np.ndarray] = []
    naive_all: list[np.ndarray] = []
    parity_all: list[np.ndarray] = []
    model: LiftModel | None = None
    for n, week in enumerate(range(first, last + 1)):
        refit = model is None or n % max(1, config.retrain_every) == 0
        if model is None or refit:  # repeats ``model is None`` so that mypy narrows it below
            evidence = frame[(frame["wk"] < week) & frame["units"].notna()]
            frame["week_of_year"] = pool_week_of_year(frame, evidence=evidence)
            train = select_training_rows(frame, week, config, random_state)
            model = fit_lift_model(train, config, random_state)
            refits.append({"week_start": week_date(week).isoformat(), "rows": len(train)})
        week_rows = frame[frame["wk"] == week]
        test = week_rows[
            week_rows["promoted"]
            & (week_rows["history_weeks"] >= 1)
            & week_rows["units_observed"].notna()
            & week_rows["price"].notna()
        ]
        actual = test["units_observed"].to_numpy(np.float64)
        predicted = predict_units(model, test, config) if len(test) else np.zeros(0)
        naive = naive_forecast(test, week_rows) if len(test) else np.zeros(0)
        parity = test.assign(price_gap=np.where(test["price_gap"].notna(), 0.0, np.nan))
        at_parity = predict_units(model, parity, config) if len(test) else np.zeros(0)
        m_wape, m_bias = wape_bias(actual, predicted)
        n_wape, n_bias = wape_bias(actual, naive)
        rows.append(
            {
                "week_start": pd.Timestamp(week_date(week)),
                "n_promoted": len(test),
                "actual_units": float(actual.sum()),
                "model_units": float(predicted.sum()),
                "naive_units": float(naive.sum()),
                "model_wape": m_wape,
                "naive_wape": n_wape,
                "model_bias": m_bias,
                "naive_bias": n_bias,
                "refit": refit,
                "event": _event(week_rows, week),
                "parity_units": float(at_parity.sum()),
                "parity_wape": wape_bias(actual, at_parity)[0],
            }
        )
        parity_all.append(at_parity)
        actual_all.append(actual)
        model_all.append(predicted)
        naive_all.append(naive)
    actual = np.concatenate(actual_all)
    model_wape, model_bias = wape_bias(actual, np.concatenate(model_all))
    naive_wape, naive_bias = wape_bias(actual, np.concatenate(naive_all))
    model_total = float(np.concatenate(model_all).sum())
    parity_total = float(np.concatenate(parity_all).sum())
    competitor = {
        "parity_wape": wape_bias(actual, np.concatenate(parity_all))[0],
        "change": model_total / parity_total - 1.0 if parity_total > 0 else 0.0,
    }
    return BacktestResult(
        weeks=pd.DataFrame(rows),
        model_wape=model_wape,
        model_bias=model_bias,
        naive_wape=naive_wape,
        naive_bias=naive_bias,
        n_weeks=len(rows),
        n_product_weeks=int(actual.size),
        actual_units=float(actual.sum()),
        retrain_every=max(1, config.retrain_every),
        metrics={
            "refits": refits,
            "promoted_min_share": config.promoted_min_share,
            "competitor": competitor,
        },
    )
