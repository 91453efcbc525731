"""Input checks and the complete weekly product grid the forecast learns from.

Objective: turn the glue's frames into one row per (product, week) from the product's first
observed week to the last week of history, with missing weeks filled as "no sales, no
promotion", plus the optional row of the week to forecast. Also offers
:func:`weekly_panel`, which aggregates transaction lines and promotion history to the panel
format for callers that hold lines rather than a prepared panel.

Constraints: weeks are Monday-based and numbered ``(week_start - 1970-01-05).days // 7``; data
on or after the forecast week is ignored; a product appears only if the products frame lists it
(its price, cost and category are needed by every feature).

Partial weeks: a week in which the chain traded on fewer days than in a full week (the first
and last week of an export cut mid-week, a closure) says nothing about that week's demand. With
a ``trading_days`` column the grid marks those weeks ``partial`` and blanks their units, so no
lag, level, training row or backtest row ever reads them (see ``docs/promotions.md``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta

import numpy as np
import pandas as pd

from optimizer.engine.promotions.types import EngineInputError

#: Monday 1970-01-05: week number 0.
EPOCH_MONDAY = date(1970, 1, 5)
PANEL_COLUMNS = ("product_id", "week_start", "units", "revenue", "discount")
PRODUCT_COLUMNS = ("product_id", "sku", "category", "unit_cost", "price")


def require(frame: pd.DataFrame, columns: Sequence[str], name: str) -> None:
    """Raise :class:`EngineInputError` naming the columns ``frame`` misses."""
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise EngineInputError(f"{name} frame is missing column(s) {missing}")


def week_number(day: date) -> int:
    """Monday-based week number of ``day`` (any day of the week gives its week)."""
    return (day - EPOCH_MONDAY).days // 7


def week_date(number: int) -> date:
    """The Monday of week ``number``."""
    return EPOCH_MONDAY + timedelta(days=7 * int(number))


def week_numbers(values: pd.Series) -> np.ndarray:
    """Week numbers of a date / datetime column (int64)."""
    days = pd.to_datetime(values).to_numpy(dtype="datetime64[D]").astype(np.int64)
    weeks: np.ndarray = (days - 4) // 7  # 1970-01-01 was a Thursday: day 4 is the first Monday
    return weeks


def weekly_panel(
    lines: pd.DataFrame,
    promotions: pd.DataFrame | None = None,
    *,
    store_count: int | None = None,
) -> pd.DataFrame:
    """Aggregate transaction lines (and promotion history) to the weekly product panel.

    Args:
        lines: one row per transaction line: ``product_id`` int64, ``day`` date or datetime64
            (the retailer-local business date), ``quantity`` float, ``amount`` float (paid),
            ``discount`` float (>= 0); optional ``customer_id`` int64 (gives ``buyers``).
            Rows with a quantity <= 0 (returns, voids) are ignored.
        promotions: ``product_id`` int64, ``week_start`` date (Monday), ``display_stores`` int,
            ``mailer_stores`` int (``PromotionHistory`` rows); ``None`` = never promoted.
        store_count: stores of the chain (denominator of the shares); required with
            ``promotions``.

    Returns:
        The panel: ``product_id`` int64, ``week_start`` datetime64 (Monday), ``units``,
        ``revenue``, ``discount``, ``display_share``, ``mailer_share`` float64 and ``buyers``
        float64 (distinct customers, only when ``lines`` has ``customer_id``).

    Raises:
        EngineInputError: a column is missing or ``store_count`` is not positive.
    """
    require(lines, ("product_id", "day", "quantity", "amount", "discount"), "lines")
    sold = lines[lines["quantity"] > 0]
    keys = pd.DataFrame(
        {"product_id": sold["product_id"].to_numpy(np.int64), "wk": week_numbers(sold["day"])}
    )
    keys["units"] = sold["quantity"].to_numpy(np.float64)
    keys["revenue"] = sold["amount"].to_numpy(np.float64)
    keys["discount"] = sold["discount"].abs().to_numpy(np.float64)
    agg = {c: (c, "sum") for c in ("units", "revenue", "discount")}
    if "customer_id" in sold.columns:
        keys["customer_id"] = sold["customer_id"].to_numpy(np.int64)
        agg["buyers"] = ("customer_id", "nunique")
    out = keys.groupby(["product_id", "wk"], as_index=False).agg(**agg)
    all_days = pd.to_datetime(lines["day"]).dt.normalize()
    days = pd.Series(all_days.to_numpy()).groupby(week_numbers(all_days)).nunique()
    if promotions is not None and len(promotions):
        columns = ("product_id", "week_start", "display_stores", "mailer_stores")
        require(promotions, columns, "promotions")
        if not store_count or store_count <= 0:
            raise EngineInputError("store_count must be positive when promotions are given")
        promo = pd.DataFrame(
            {
                "product_id": promotions["product_id"].to_numpy(np.int64),
                "wk": week_numbers(promotions["week_start"]),
                "display_share": promotions["display_stores"].to_numpy(np.float64) / store_count,
                "mailer_share": promotions["mailer_stores"].to_numpy(np.float64) / store_count,
            }
        )
        promo = promo.groupby(["product_id", "wk"], as_index=False).max()
        out = out.merge(promo, on=["product_id", "wk"], how="outer")
    for column in ("units", "revenue", "discount", "display_share", "mailer_share", "buyers"):
        if column in out.columns:
            out[column] = out[column].fillna(0.0).astype(np.float64)
        elif column != "buyers":
            out[column] = 0.0
    out["display_share"] = out["display_share"].clip(0.0, 1.0)
    out["mailer_share"] = out["mailer_share"].clip(0.0, 1.0)
    out["trading_days"] = out["wk"].map(days).fillna(0).astype(np.int64)
    out.insert(1, "week_start", pd.to_datetime([week_date(w) for w in out["wk"]]))
    return out.drop(columns="wk").sort_values(["product_id", "week_start"], ignore_index=True)


def prepare_products(products: pd.DataFrame) -> pd.DataFrame:
    """Validated copy of the products frame (one row per product, floats for money).

    Columns: ``product_id`` int64, ``sku`` str, ``category`` str (blank -> "uncategorised"),
    ``unit_cost``, ``price`` float64 and the optional ``promo_depth`` float64 (planned discount
    depth of a promotion, 0-1; NaN = derive it from history).

    Raises:
        EngineInputError: a column is missing, a product id repeats, or a price is negative.
    """
    require(products, PRODUCT_COLUMNS, "products")
    out = pd.DataFrame(
        {
            "product_id": products["product_id"].to_numpy(np.int64),
            "sku": products["sku"].astype("str").to_numpy(),
            "category": products["category"].fillna("").astype("str").to_numpy(),
            "unit_cost": products["unit_cost"].to_numpy(np.float64),
            "price": products["price"].to_numpy(np.float64),
            "promo_depth": products["promo_depth"].to_numpy(np.float64)
            if "promo_depth" in products.columns
            else np.nan,
        }
    )
    out.loc[out["category"].str.strip() == "", "category"] = "uncategorised"
    if out["product_id"].duplicated().any():
        raise EngineInputError("products frame has duplicate product_id values")
    if (out["price"] < 0).any() or (out["unit_cost"] < 0).any():
        raise EngineInputError("products frame has negative prices or costs")
    return out.sort_values("product_id", ignore_index=True)


def partial_weeks(panel: pd.DataFrame, weeks: np.ndarray) -> np.ndarray:
    """Week numbers (of ``weeks``) with fewer trading days than a full week.

    A full week has the most trading days any week of the panel has (7, or 6 for a chain
    closed on Sundays). Without a ``trading_days`` column every week counts as full.
    """
    if "trading_days" not in panel.columns or len(panel) == 0:
        return np.array([], dtype=np.int64)
    days = pd.Series(panel["trading_days"].to_numpy(np.float64)).groupby(weeks).max()
    partial: np.ndarray = days.index[days < days.max()].to_numpy(np.int64)
    return partial


def build_grid(
    panel: pd.DataFrame,
    product_ids: np.ndarray,
    *,
    end_week: int,
    start_week: int | None = None,
    target_products: np.ndarray | None = None,
) -> pd.DataFrame:
    """Complete product-week grid of the history before ``end_week`` (+ optional target rows).

    Args:
        panel: weekly panel (``PANEL_COLUMNS`` plus optional ``display_share``,
            ``mailer_share``, ``buyers``, ``trading_days``; see :func:`forecast.forecast_week`).
        product_ids: products to keep (the products frame).
        end_week: first week number *not* taken from history (the forecast week).
        start_week: drop history before this week number (``None``: keep all).
        target_products: products that get a row at the forecast week (units NaN). The row
            sits right after the last week of history, which is ``end_week - 1`` unless the
            panel ends earlier (then the missing weeks are not filled with zeros).

    Returns:
        Sorted by ``product_id`` then ``wk``, contiguous weeks per product: ``product_id``,
        ``wk`` int64, ``units``, ``revenue``, ``discount``, ``display_share``,
        ``mailer_share``, ``buyers`` float64 (NaN when unknown), ``is_target`` bool and
        ``partial`` bool (a partial week: units, revenue, discount and buyers are NaN) and
        ``units_observed`` (the units as sold, partial weeks included: the backtest scores them).

    Raises:
        EngineInputError: a column is missing or a share is outside 0-1.
    """
    require(panel, PANEL_COLUMNS, "panel")
    hist = pd.DataFrame(
        {
            "product_id": panel["product_id"].to_numpy(np.int64),
            "wk": week_numbers(panel["week_start"]),
        }
    )
    partial = partial_weeks(panel, hist["wk"].to_numpy())
    for column in ("units", "revenue", "discount", "display_share", "mailer_share", "buyers"):
        values = panel[column] if column in panel.columns else None
        default = np.nan if column == "buyers" else 0.0
        hist[column] = default if values is None else values.to_numpy(np.float64)
    hist["discount"] = hist["discount"].abs()
    for column in ("display_share", "mailer_share"):
        if ((hist[column] < 0) | (hist[column] > 1)).any():
            raise EngineInputError(f"panel column {column} must lie within 0-1")
    keep = hist["product_id"].isin(product_ids) & (hist["wk"] < end_week)
    if start_week is not None:
        keep &= hist["wk"] >= start_week
    hist = hist[keep]
    sums = ["units", "revenue", "discount", "buyers"]
    hist = hist.groupby(["product_id", "wk"], as_index=False).agg(
        {**dict.fromkeys(sums, "sum"), "display_share": "max", "mailer_share": "max"}
    )
    if "buyers" not in panel.columns:
        hist["buyers"] = np.nan
    last = int(hist["wk"].max()) if len(hist) else end_week - 1
    first = hist.groupby("product_id")["wk"].min()
    targets = np.asarray([] if target_products is None else target_products, dtype=np.int64)
    ids = np.union1d(first.index.to_numpy(np.int64), targets)
    starts = first.reindex(ids).fillna(last + 1).to_numpy(np.int64)
    stops = np.full(ids.size, last + 1, dtype=np.int64) + np.isin(ids, targets)
    lengths = np.maximum(stops - starts, 0)
    grid = pd.DataFrame(
        {
            "product_id": np.repeat(ids, lengths),
            "wk": np.concatenate([np.arange(a, b) for a, b in zip(starts, stops, strict=True)])
            if ids.size
            else np.array([], dtype=np.int64),
        }
    )
    grid = grid.merge(hist, on=["product_id", "wk"], how="left")
    grid["is_target"] = grid["wk"] > last
    for column in ("units", "revenue", "discount", "display_share", "mailer_share"):
        grid[column] = grid[column].fillna(0.0)
    grid.loc[grid["is_target"], ["units", "revenue", "discount"]] = np.nan
    if "buyers" in panel.columns:
        grid.loc[~grid["is_target"], "buyers"] = grid["buyers"].fillna(0.0)
    grid["partial"] = grid["wk"].isin(partial) & ~grid["is_target"]
    grid["units_observed"] = grid["units"]  # what was sold, partial weeks too (backtest only)
    grid.loc[grid["partial"], ["units", "revenue", "discount", "buyers"]] = np.nan
    return grid.sort_values(["product_id", "wk"], ignore_index=True)
