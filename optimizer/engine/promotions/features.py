"""Features of the promotion-lift model, computed on the complete product-week grid.

Objective: for every product-week, what was known before that week (lagged sales levels,
promotion history, last observed lift, discount depths, reach) plus that week's own calendar,
price and promotion settings; the same code serves training rows, backtest rows and the two
scenarios (baseline, promoted) of the forecast week.

Constraints: a lag feature of week ``w`` only reads weeks ``< w`` of the same product (the grid
is contiguous per product, so trailing sums are cumulative-sum differences); competitor prices
count only if observed before the week and at most ``competitor_max_age_weeks`` earlier;
unknown values stay NaN (the gradient-boosting trees route missing values natively).
Seasonality: one year of history cannot tell a week-of-year effect from that week's accident
(a partial week, a one-off), so ``week_of_year`` is only filled for weeks of the year seen in
at least :data:`MIN_SEASON_YEARS` years of full weeks before the origin (see
:func:`pool_week_of_year`); ``month`` pools the others with the weeks around them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from optimizer.engine.promotions.calendar import holiday_table, week_features
from optimizer.engine.promotions.panel import require, week_date, week_numbers
from optimizer.engine.promotions.types import ForecastConfig

#: Model inputs; the scenario columns are set per scenario by :func:`apply_scenario`.
SCENARIO_FEATURES: tuple[str, ...] = (
    "display_share",
    "mailer_share",
    "discount_depth",
    "price_gap",
)
LAG_FEATURES: tuple[str, ...] = (
    "log_level",
    "lag_units_1",
    "mean_units_4",
    "mean_units_13",
    "trend_ratio",
    "promo_share_13",
    "weeks_since_promo",
    "last_lift",
    "past_lift",
    "history_weeks",
    "log_buyers_13",
)
STATIC_FEATURES: tuple[str, ...] = ("log_price", "margin_rate", "category_code")
CALENDAR_FEATURES: tuple[str, ...] = (
    "week_of_year",
    "month",
    "holiday_week",
    "pre_holiday_week",
    "trend",
)
#: A week-of-year effect is learned only from this many distinct years of full weeks; other
#: weeks of the year are pooled into their month (``week_of_year`` NaN, ``month`` carries it).
MIN_SEASON_YEARS = 2
FEATURES: tuple[str, ...] = SCENARIO_FEATURES + LAG_FEATURES + STATIC_FEATURES + CALENDAR_FEATURES
#: +1: more display / mailer / discount never lowers the forecast; -1: a dearer price vs the
#: competitors never raises it. This keeps every forecast lift >= 1 and the lift readable.
MONOTONIC = {"display_share": 1, "mailer_share": 1, "discount_depth": 1, "price_gap": -1}
#: Categories beyond this many (by training rows) share one "missing" code (HistGB allows 255).
MAX_CATEGORIES = 250
#: Weekly units below this are floored when used as the model's scale (offset).
LEVEL_FLOOR = 0.25


def _trailing(values: np.ndarray, start: np.ndarray, window: int | None) -> tuple[np.ndarray, ...]:
    """Sum and count of non-NaN ``values`` over the previous ``window`` rows of each group.

    ``start[i]`` is the index of the first row of row i's group; ``window=None`` = expanding.
    """
    idx = np.arange(values.size)
    lo = start if window is None else np.maximum(idx - window, start)
    ok = ~np.isnan(values)
    csum = np.concatenate([[0.0], np.cumsum(np.where(ok, values, 0.0))])
    ccount = np.concatenate([[0], np.cumsum(ok)])
    return csum[idx] - csum[lo], (ccount[idx] - ccount[lo]).astype(np.float64)


def _mean(total: np.ndarray, count: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def _last_before(values: pd.Series, groups: pd.Series) -> np.ndarray:
    """Last non-NaN value strictly before each row within its group (NaN if none)."""
    last: np.ndarray = values.groupby(groups).shift(1).groupby(groups).ffill().to_numpy(np.float64)
    return last


def lag_features(grid: pd.DataFrame, promoted_min_share: float, short: int, long: int) -> None:
    """Add the lag features and history columns to ``grid`` in place (see module docstring).

    Adds ``promoted`` bool, ``depth`` (observed discount depth, NaN without sales),
    ``level`` (mean units of the non-promoted weeks among the last ``long``, else of all of
    them), the :data:`LAG_FEATURES`, ``base_depth`` (mean depth of past non-promoted weeks in
    the long window) and ``hist_promo_depth`` (mean depth of all past promoted weeks).
    """
    pid = grid["product_id"]
    first = pid.ne(pid.shift()).to_numpy()
    start = np.maximum.accumulate(np.where(first, np.arange(len(grid)), 0))
    units = grid["units"].to_numpy(np.float64)
    shares = np.maximum(grid["display_share"].to_numpy(), grid["mailer_share"].to_numpy())
    promoted = (shares > 0) & (shares >= promoted_min_share)
    gross = grid["revenue"].to_numpy(np.float64) + grid["discount"].to_numpy(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        depth = np.where(gross > 0, grid["discount"].to_numpy(np.float64) / gross, np.nan)
    base_units = np.where(promoted, np.nan, units)
    mean4 = _mean(*_trailing(units, start, short))
    mean13 = _mean(*_trailing(units, start, long))
    base13 = _mean(*_trailing(base_units, start, long))
    level = np.where(np.isnan(base13), mean13, base13)
    promo_units = np.where(promoted & ~np.isnan(units), units, np.nan)
    promo_mean = _mean(*_trailing(promo_units, start, None))
    base_mean = _mean(*_trailing(base_units, start, None))
    idx = np.arange(len(grid))
    with np.errstate(invalid="ignore", divide="ignore"):
        lift_here = np.where(promoted & (level > 0), units / level, np.nan)
        grid["past_lift"] = np.where(base_mean > 0, promo_mean / base_mean, np.nan)
        grid["trend_ratio"] = np.where(mean13 > 0, mean4 / mean13, np.nan)
    groups = pd.Series(start)
    promo_week = pd.Series(np.where(promoted, grid["wk"].to_numpy(np.float64), np.nan))
    grid["promoted"] = promoted
    grid["depth"] = depth
    grid["level"] = level
    grid["log_level"] = np.log1p(level)
    grid["lag_units_1"] = np.where(idx > start, np.roll(units, 1), np.nan)
    grid["mean_units_4"] = mean4
    grid["mean_units_13"] = mean13
    grid["promo_share_13"] = _mean(*_trailing(promoted.astype(np.float64), start, long))
    grid["last_promo_wk"] = _last_before(promo_week, groups)
    grid["weeks_since_promo"] = grid["wk"] - grid["last_promo_wk"]
    grid["last_lift"] = _last_before(pd.Series(lift_here), groups)
    grid["history_weeks"] = (idx - start).astype(np.float64)
    buyers = grid["buyers"].to_numpy(np.float64)
    grid["log_buyers_13"] = np.log1p(_mean(*_trailing(buyers, start, long)))
    grid["base_depth"] = _mean(*_trailing(np.where(promoted, np.nan, depth), start, long))
    grid["hist_promo_depth"] = _mean(*_trailing(np.where(promoted, depth, np.nan), start, None))


def competitor_prices(competitors: pd.DataFrame | None) -> pd.DataFrame:
    """Mean competitor price per product and week of observation (``product_id``, ``wk``,
    ``competitor_price``). Columns of ``competitors``: ``product_id`` int64, ``date`` date,
    ``price`` float (any number of competitors; non-positive prices are ignored)."""
    if competitors is None or len(competitors) == 0:
        return pd.DataFrame({"product_id": [], "wk": [], "competitor_price": []}).astype(
            {"product_id": np.int64, "wk": np.int64, "competitor_price": np.float64}
        )
    require(competitors, ("product_id", "date", "price"), "competitor prices")
    comp = pd.DataFrame(
        {
            "product_id": competitors["product_id"].to_numpy(np.int64),
            "wk": week_numbers(competitors["date"]),
            "competitor_price": competitors["price"].to_numpy(np.float64),
        }
    )
    comp = comp[comp["competitor_price"] > 0]
    return comp.groupby(["product_id", "wk"], as_index=False)["competitor_price"].mean()


def add_static_features(
    grid: pd.DataFrame,
    products: pd.DataFrame,
    competitors: pd.DataFrame,
    config: ForecastConfig,
    *,
    target_week: int,
    first_week: int,
    categories: dict[str, int],
) -> pd.DataFrame:
    """Join price, cost, category, competitor price and calendar columns onto ``grid``.

    Target rows get the calendar of ``target_week`` (the forecast week) and the competitor
    price as known before it. ``categories`` maps category -> code (others: NaN).
    Returns the grid with ``price``, ``unit_cost``, ``category``, ``promo_depth``,
    ``competitor_price``, ``cal_wk`` and the :data:`STATIC_FEATURES` /
    :data:`CALENDAR_FEATURES` added (the row order is kept).
    """
    out = grid.merge(products, on="product_id", how="left", validate="many_to_one")
    out["cal_wk"] = np.where(out["is_target"], target_week, out["wk"]).astype(np.int64)
    with np.errstate(invalid="ignore", divide="ignore"):
        out["log_price"] = np.log1p(out["price"])
        out["margin_rate"] = np.where(
            out["price"] > 0, 1.0 - out["unit_cost"] / out["price"], np.nan
        )
    out["category_code"] = out["category"].map(categories).astype(np.float64)
    out["_order"] = np.arange(len(out))
    if len(competitors):
        left = out[["_order", "product_id", "cal_wk"]].sort_values("cal_wk")
        right = competitors.sort_values("wk").rename(columns={"wk": "cal_wk"})
        joined = pd.merge_asof(
            left,
            right,
            on="cal_wk",
            by="product_id",
            allow_exact_matches=False,
            tolerance=config.competitor_max_age_weeks,
        )
        out["competitor_price"] = (
            joined.set_index("_order")["competitor_price"].reindex(out["_order"]).to_numpy()
        )
    else:
        out["competitor_price"] = np.nan
    weeks = pd.Series(pd.to_datetime([week_date(w) for w in out["cal_wk"]]))
    years = range(week_date(int(out["cal_wk"].min())).year - 1, week_date(target_week).year + 2)
    table = holiday_table(config.holiday_country, years, config.holiday_dates)
    cal = week_features(weeks, table)
    for column in ("holiday_week", "pre_holiday_week", "holiday_name"):
        out[column] = cal[column].to_numpy()
    thursdays = pd.DatetimeIndex(weeks + pd.Timedelta(days=3))
    out["iso_week"] = cal["week_of_year"].to_numpy(np.int64)
    out["iso_year"] = thursdays.year.to_numpy(np.int64)
    out["month"] = thursdays.month.to_numpy(np.float64)
    evidence = out[~out["is_target"] & ~out["partial"]] if "partial" in out else out
    out["week_of_year"] = pool_week_of_year(out, evidence=evidence[evidence["wk"] < target_week])
    out["trend"] = (out["cal_wk"] - first_week).astype(np.float64)
    return out.drop(columns="_order")


def pool_week_of_year(frame: pd.DataFrame, *, evidence: pd.DataFrame) -> np.ndarray:
    """``frame``'s ISO week of the year where ``evidence`` holds that week in at least
    :data:`MIN_SEASON_YEARS` distinct years, else NaN (the month pools it).

    Both frames need ``iso_week`` and ``iso_year`` int columns; ``evidence`` should hold only
    full weeks before the origin (a backtest re-pools at each refit, so a test week never
    vouches for itself).
    """
    years = evidence.drop_duplicates(["iso_week", "iso_year"])["iso_week"].value_counts()
    seasonal = years.index[years >= MIN_SEASON_YEARS]
    week = frame["iso_week"].to_numpy(np.float64)
    return np.where(frame["iso_week"].isin(seasonal).to_numpy(), week, np.nan)


def apply_scenario(
    frame: pd.DataFrame, display: np.ndarray, mailer: np.ndarray, depth: np.ndarray
) -> pd.DataFrame:
    """Copy of ``frame`` with the scenario columns set: shares, depth and the price gap.

    ``price_gap`` = paid price ``price * (1 - depth)`` over the competitor price, minus 1
    (NaN without a competitor price).
    """
    out = frame.copy()
    out["display_share"] = display
    out["mailer_share"] = mailer
    out["discount_depth"] = depth
    with np.errstate(invalid="ignore", divide="ignore"):
        out["price_gap"] = out["price"] * (1.0 - depth) / out["competitor_price"] - 1.0
    return out


def observed_scenario(frame: pd.DataFrame) -> pd.DataFrame:
    """The scenario that actually happened (training and backtest rows).

    A week without sales has no observed depth; it gets what a planner would have assumed
    (the past promoted depth in a promoted week, the past non-promoted depth otherwise, else 0)
    so that "depth is missing" cannot leak "nothing was sold".
    """
    assumed = np.where(frame["promoted"], frame["hist_promo_depth"], frame["base_depth"])
    depth = frame["depth"].fillna(pd.Series(assumed, index=frame.index)).fillna(0.0)
    return apply_scenario(
        frame,
        frame["display_share"].to_numpy(),
        frame["mailer_share"].to_numpy(),
        depth.to_numpy(np.float64),
    )
