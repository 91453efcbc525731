"""Django <-> DataFrame adapters of the weekly-promotion engine (``optimizer.engine.promotions``).

Reads, in bulk, everything one proposal or backtest of a retailer needs, as the frames that
``docs/promotions.md`` documents:

* **panel**: units, revenue (paid), discount and distinct ``buyers`` per product and Monday week,
  from ``TransactionLine`` joined to ``Transaction`` (lines with a positive quantity; the week is
  the retailer-local Monday of the transaction's timestamp), plus ``display_share`` /
  ``mailer_share`` = ``PromotionHistory.display_stores`` / ``mailer_stores`` over the retailer's
  store count, aggregated to product-weeks in one SQL statement (``date_trunc('week',
  ts AT TIME ZONE tz)``, streamed out with ``COPY``).
* **products**: the candidates: the ``max_products`` products with a positive price and the
  highest revenue over the last ``rank_weeks`` weeks of the panel, plus every pinned product.
* **inventory**: per product the latest chain-level row (``store`` empty) dated on or before the
  week start, else the sum of every store's latest row; rows older than
  :data:`INVENTORY_MAX_AGE_WEEKS` weeks count as unknown stock.
* **competitor prices**: every competitor's rows of the ``competitor_max_age_weeks`` weeks before
  the week (the engine averages the latest week's).
* **reach**: distinct customers of the target segments (the latest succeeded scoring run's
  ``CustomerScore.segment``; ``None`` = every customer) who bought the product in the
  :data:`REACH_WEEKS` weeks before the week.
* **recent promotions**: products of *approved* ``PromotionProposal`` s of the ``recent_weeks``
  weeks before. ``PromotionHistory`` weeks need no second source: they are in the panel's shares,
  from which the engine takes each product's last promoted week. Approved proposals' weeks join
  those shares as a mailer to every store (``optimizer.frames.approved_weeks``).

Only data strictly before the week start (midnight, retailer's time zone) is read, except stock,
which may be counted on the Monday itself.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from campaigns.models import PromotionItem, ProposalState
from optimizer import queries
from optimizer.frames.approved_weeks import with_approved_weeks
from optimizer.frames.common import days_to_datetime, query_frame
from optimizer.frames.trading_days import trading_days_frame
from optimizer.models import ScoringRun
from retailers.models import (
    CompetitorPrice,
    InventoryLevel,
    Product,
    PromotionHistory,
    Retailer,
    RunStatus,
    Store,
)

#: Weeks of purchases that make a customer "reached" by a product.
REACH_WEEKS = 8
#: Stock counted longer ago than this is treated as unknown.
INVENTORY_MAX_AGE_WEEKS = 8
PANEL_COLUMNS = [
    "product_id",
    "week_start",
    "units",
    "revenue",
    "discount",
    "buyers",
    "display_share",
    "mailer_share",
]


@dataclass(frozen=True)
class PromotionFrames:
    """The engine's input frames for one week of one retailer (columns: see each reader)."""

    panel: pd.DataFrame
    products: pd.DataFrame
    inventory: pd.DataFrame
    competitor_prices: pd.DataFrame
    reach: pd.DataFrame
    recent_promotions: pd.DataFrame
    counts: dict[str, Any] = field(default_factory=dict)


def local_midnight(retailer: Retailer, day: dt.date) -> dt.datetime:
    """Midnight starting ``day`` in the retailer's time zone (aware)."""
    return dt.datetime.combine(day, dt.time.min, tzinfo=retailer.tz)


def store_count(*, retailer: Retailer) -> int:
    """Stores of the chain: the denominator of the display and mailer shares.

    A retailer without ``Store`` rows uses the most stores any history row names (at least 1).
    """
    count = Store.objects.for_retailer(retailer).count()
    if count:
        return count
    rows = PromotionHistory.objects.for_retailer(retailer).values_list(
        "display_stores", "mailer_stores"
    )
    return max([1, *(max(d, m) for d, m in rows.iterator(chunk_size=10_000))])


def _sales(retailer: Retailer, since: dt.date, before: dt.date) -> pd.DataFrame:
    params = {
        "tz": retailer.time_zone,
        "start": local_midnight(retailer, since),
        "cutoff": local_midnight(retailer, before),
    }
    names = ["product_id", "week_start", "units", "revenue", "discount", "buyers"]
    dtypes = dict.fromkeys(names, "float64") | {"product_id": "int64", "week_start": "int64"}
    frame = query_frame(queries.sales_weeks(), retailer.pk, params, names, dtypes)
    frame["week_start"] = days_to_datetime(frame["week_start"].astype("float64"))
    return frame


def sales_panel_frame(*, retailer: Retailer, since: dt.date, before: dt.date) -> pd.DataFrame:
    """Weekly sales of every product from the week of ``since`` to the day before ``before``.

    Columns: ``product_id`` int64, ``week_start`` datetime64[s] (local Monday), ``units``,
    ``revenue``, ``discount`` (money, >= 0) and ``buyers`` (distinct customers) float64.
    """
    frame = _sales(retailer, since, before)
    frame["week_start"] = frame["week_start"].astype("datetime64[s]")
    return frame.sort_values(["product_id", "week_start"], ignore_index=True)


def promotion_history_frame(*, retailer: Retailer, since: dt.date, before: dt.date) -> pd.DataFrame:
    """``PromotionHistory`` rows of the weeks in [``since``, ``before``): ``product_id`` int64,
    ``week_start`` datetime64[s], ``display_stores``, ``mailer_stores`` int64."""
    params = {"since": since, "before": before}
    names = ["product_id", "week_start", "display_stores", "mailer_stores"]
    dtypes = {"product_id": "int64", "display_stores": "int64", "mailer_stores": "int64"}
    query = queries.promotion_history()
    frame = query_frame(query, retailer.pk, params, names, dtypes | {"week_start": "int64"})
    frame["week_start"] = days_to_datetime(frame["week_start"].astype("float64"))
    return frame.astype(dtypes)


def with_promotion_shares(sales: pd.DataFrame, history: pd.DataFrame, stores: int) -> pd.DataFrame:
    """``sales`` outer-joined with the history's display and mailer shares (0-1) per week."""
    shares = pd.DataFrame(
        {
            "product_id": history["product_id"].to_numpy(np.int64),
            "week_start": history["week_start"].astype("datetime64[s]"),
            "display_share": history["display_stores"].to_numpy(np.float64) / stores,
            "mailer_share": history["mailer_stores"].to_numpy(np.float64) / stores,
        }
    )
    out = sales.merge(shares, on=["product_id", "week_start"], how="outer")
    for column in ("units", "revenue", "discount", "buyers", "display_share", "mailer_share"):
        out[column] = out[column].fillna(0.0).astype(np.float64)
    out["display_share"] = out["display_share"].clip(0.0, 1.0)
    out["mailer_share"] = out["mailer_share"].clip(0.0, 1.0)
    return out[PANEL_COLUMNS].sort_values(["product_id", "week_start"], ignore_index=True)


def products_frame(*, retailer: Retailer) -> pd.DataFrame:
    """Every product: ``product_id`` int64, ``sku``, ``name``, ``category`` str, ``unit_cost``,
    ``price`` float64."""
    rows = Product.objects.for_retailer(retailer).values_list(
        "id", "sku", "name", "category", "unit_cost", "price"
    )
    frame = pd.DataFrame.from_records(
        list(rows.iterator(chunk_size=20_000)),
        columns=["product_id", "sku", "name", "category", "unit_cost", "price"],
    )
    return frame.astype(
        {"product_id": "int64", "sku": "str", "name": "str", "category": "str"}
        | {"unit_cost": "float64", "price": "float64"}
    )


def candidate_products(
    products: pd.DataFrame,
    sales: pd.DataFrame,
    *,
    max_products: int,
    rank_since: dt.date,
    always: Iterable[int] = (),
) -> pd.DataFrame:
    """The ``max_products`` products with a positive price and the highest revenue in the sales
    weeks from ``rank_since`` on, plus the ``always`` ones; sorted by product id."""
    recent = sales[sales["week_start"] >= pd.Timestamp(rank_since)]
    revenue = recent.groupby("product_id")["revenue"].sum()
    priced = set(products.loc[products["price"] > 0, "product_id"].tolist())
    revenue = revenue[revenue.index.isin(priced) & (revenue > 0)]
    top = revenue.sort_values(ascending=False, kind="stable").head(max(0, max_products))
    keep = set(top.index.tolist()) | {int(p) for p in always}
    return products[products["product_id"].isin(keep)].sort_values("product_id", ignore_index=True)


def inventory_frame(*, retailer: Retailer, week_start: dt.date) -> pd.DataFrame:
    """Units on hand at ``week_start``: ``product_id`` int64, ``on_hand`` float64, ``date``
    datetime64[s] (of the rows counted). Chain-level rows win over the sum of the stores."""
    since = week_start - dt.timedelta(weeks=INVENTORY_MAX_AGE_WEEKS)
    rows = InventoryLevel.objects.for_retailer(retailer).filter(
        date__gte=since, date__lte=week_start
    )
    frame = pd.DataFrame.from_records(
        list(rows.values_list("product_id", "store_id", "date", "on_hand").iterator(20_000)),
        columns=["product_id", "store_id", "date", "on_hand"],
    )
    if frame.empty:
        return pd.DataFrame(
            {"product_id": pd.Series(dtype="int64"), "on_hand": pd.Series(dtype="float64")}
            | {"date": pd.Series(dtype="datetime64[s]")}
        )
    frame["date"] = pd.to_datetime(frame["date"]).astype("datetime64[s]")
    frame["store_id"] = frame["store_id"].fillna(-1).astype(np.int64)
    latest = frame.sort_values("date").drop_duplicates(["product_id", "store_id"], keep="last")
    chain = latest[latest["store_id"] == -1].set_index("product_id")
    stores = latest[latest["store_id"] != -1]
    summed = stores.groupby("product_id").agg(on_hand=("on_hand", "sum"), date=("date", "max"))
    summed = summed[~summed.index.isin(chain.index)]
    out = pd.concat([chain[["on_hand", "date"]], summed]).reset_index()
    out = out.astype({"product_id": "int64", "on_hand": "float64"})
    return out.sort_values("product_id", ignore_index=True)


def competitor_prices_frame(
    *, retailer: Retailer, week_start: dt.date, max_age_weeks: int
) -> pd.DataFrame:
    """Competitor prices of the ``max_age_weeks`` weeks before ``week_start``: ``product_id``
    int64, ``competitor`` str, ``date`` datetime64[s], ``price`` float64."""
    rows = CompetitorPrice.objects.for_retailer(retailer).filter(
        date__gte=week_start - dt.timedelta(weeks=max_age_weeks + 1), date__lt=week_start
    )
    frame = pd.DataFrame.from_records(
        list(rows.values_list("product_id", "competitor", "date", "price").iterator(20_000)),
        columns=["product_id", "competitor", "date", "price"],
    )
    frame["date"] = pd.to_datetime(frame["date"]).astype("datetime64[s]")
    return frame.astype({"product_id": "int64", "competitor": "str", "price": "float64"})


def reach_frame(
    *, retailer: Retailer, week_start: dt.date, segments: Sequence[str] | None = None
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Target customers who bought each product in the :data:`REACH_WEEKS` weeks before.

    Returns ``(frame, info)``: ``product_id`` int64, ``reach`` int64; ``info`` names the scoring
    run whose segments were used (``None`` without one) and the segments. With ``segments`` given
    but no succeeded scoring run, nobody is in a target segment and the frame is empty.
    """
    run = (
        ScoringRun.objects.for_retailer(retailer)
        .filter(status=RunStatus.SUCCEEDED)
        .order_by("-finished_at", "-pk")
        .first()
    )
    info: dict[str, Any] = {"scoring_run": run.pk if run else None, "segments": segments}
    empty = pd.DataFrame(
        {"product_id": pd.Series(dtype="int64"), "reach": pd.Series(dtype="int64")}
    )
    if segments is not None and (run is None or not segments):
        return empty, info
    params: dict[str, Any] = {
        "start": local_midnight(retailer, week_start - dt.timedelta(weeks=REACH_WEEKS)),
        "cutoff": local_midnight(retailer, week_start),
    }
    if segments is not None:
        params.update({f"seg{n}": segment for n, segment in enumerate(segments)})
        params["run"] = run.pk  # type: ignore[union-attr]
    query = queries.reach(None if segments is None else len(segments))
    names = ["product_id", "reach"]
    frame = query_frame(query, retailer.pk, params, names, {"product_id": "int64"})
    return frame.astype({"product_id": "int64", "reach": "int64"}), info


def recent_promotions_frame(*, retailer: Retailer, week_start: dt.date, weeks: int) -> pd.DataFrame:
    """Products of approved proposals of the ``weeks`` weeks before ``week_start``:
    ``product_id`` int64, ``week_start`` datetime64[s]."""
    rows = PromotionItem.objects.for_retailer(retailer).filter(
        proposal__state=ProposalState.APPROVED,
        proposal__week_start__gte=week_start - dt.timedelta(weeks=max(0, weeks)),
        proposal__week_start__lt=week_start,
    )
    frame = pd.DataFrame.from_records(
        list(rows.values_list("product_id", "proposal__week_start")),
        columns=["product_id", "week_start"],
    )
    frame["week_start"] = pd.to_datetime(frame["week_start"]).astype("datetime64[s]")
    return frame.astype({"product_id": "int64"})


def promotion_panel_read(*, retailer: Retailer, since: dt.date, before: dt.date) -> pd.DataFrame:
    """The engine's weekly panel (:data:`PANEL_COLUMNS` and ``trading_days``, the chain's
    trading days that week: fewer than in a full week make it a partial week) of every product,
    weeks in [``since``'s week, ``before``)."""
    sales = sales_panel_frame(retailer=retailer, since=since, before=before)
    history = promotion_history_frame(retailer=retailer, since=since, before=before)
    stores = store_count(retailer=retailer)
    history = with_approved_weeks(
        history, retailer_id=retailer.pk, since=since, before=before, stores=stores
    )
    panel = with_promotion_shares(sales, history, stores)
    days = trading_days_frame(retailer=retailer, since=since, before=before)
    panel = panel.merge(days, on="week_start", how="left")
    panel["trading_days"] = panel["trading_days"].fillna(0).astype(np.int64)
    return panel


def promotion_frames_read(
    *,
    retailer: Retailer,
    week_start: dt.date,
    history_weeks: int,
    max_products: int,
    rank_weeks: int = 13,
    pinned: Iterable[int] = (),
    segments: Sequence[str] | None = None,
    recent_weeks: int = 4,
    competitor_max_age_weeks: int = 8,
    with_stock: bool = True,
) -> PromotionFrames:
    """Every input frame of a proposal (``with_stock``) or a backtest for ``week_start``.

    The panel holds the ``history_weeks`` weeks before ``week_start``, restricted to the
    candidates (:func:`candidate_products`, ranked over ``rank_weeks`` weeks). Without
    ``with_stock`` the inventory, reach and recent-promotion frames are left empty.
    """
    since = week_start - dt.timedelta(weeks=history_weeks)
    panel = promotion_panel_read(retailer=retailer, since=since, before=week_start)
    products = candidate_products(
        products_frame(retailer=retailer),
        panel,
        max_products=max_products,
        rank_since=week_start - dt.timedelta(weeks=rank_weeks),
        always=pinned,
    )
    ids = products["product_id"]
    counts: dict[str, Any] = {"panel_rows_all": len(panel), "candidates": len(products)}
    panel = panel[panel["product_id"].isin(ids)].reset_index(drop=True)
    prices = competitor_prices_frame(
        retailer=retailer, week_start=week_start, max_age_weeks=competitor_max_age_weeks
    )
    prices = prices[prices["product_id"].isin(ids)].reset_index(drop=True)
    inventory = reach = recent = pd.DataFrame()
    if with_stock:
        inventory = inventory_frame(retailer=retailer, week_start=week_start)
        inventory = inventory[inventory["product_id"].isin(ids)].reset_index(drop=True)
        reach, info = reach_frame(retailer=retailer, week_start=week_start, segments=segments)
        reach = reach[reach["product_id"].isin(ids)].reset_index(drop=True)
        recent = recent_promotions_frame(
            retailer=retailer, week_start=week_start, weeks=recent_weeks
        )
        counts.update(reach=info, inventory_rows=len(inventory), recent_rows=len(recent))
    counts.update(panel_rows=len(panel), competitor_price_rows=len(prices))
    return PromotionFrames(
        panel=panel,
        products=products,
        inventory=inventory,
        competitor_prices=prices,
        reach=reach,
        recent_promotions=recent,
        counts=counts,
    )
