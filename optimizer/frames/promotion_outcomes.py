"""What an approved week of promotions actually sold, against its forecast, and its place in the
promotion history that the next backtest and the lift model learn from (docs/promotions.md).

* :func:`promotion_outcome_read`: per item of an approved proposal, the forecast promoted units
  and margin stored on the item against the units and margin sold that week (``TransactionLine``,
  the panel's own weekly aggregation), and the WAPE of both. It waits until the week is over and
  the imported transactions reach its last day.
* Approved weeks also count as promoted history for the lift model and the backtest:
  :mod:`optimizer.frames.approved_weeks`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

import numpy as np
import pandas as pd
from django.db.models import Max

from campaigns.models import PromotionItem, PromotionProposal, ProposalState
from customers.models import Transaction
from loyalty_site.money import quantize
from optimizer.engine.promotions import wape_bias
from optimizer.frames.promotions import local_midnight, sales_panel_frame


@dataclass(frozen=True)
class OutcomeRow:
    """One promoted product: forecast against actual (units; margin in the retailer's money)."""

    sku: str
    name: str
    forecast_units: Decimal
    actual_units: Decimal
    forecast_margin: Decimal
    actual_margin: Decimal
    #: |forecast - actual| / actual units (``None`` when nothing sold).
    units_error: float | None


@dataclass(frozen=True)
class PromotionOutcome:
    """``ready`` once the week is over and its transactions are imported; else ``waiting``."""

    ready: bool
    week_end: dt.date
    rows: list[OutcomeRow] = field(default_factory=list)
    units_wape: float | None = None
    units_bias: float | None = None
    margin_wape: float | None = None
    totals: dict[str, Decimal] = field(default_factory=dict)


def _finite(value: float) -> float | None:
    return None if np.isnan(value) else round(value, 4)


def _imported_through(proposal: PromotionProposal, week_end: dt.date) -> bool:
    """Whether the retailer's transactions reach the week's last day (local time)."""
    latest = Transaction.objects.for_retailer(proposal.retailer_id).aggregate(
        latest=Max("timestamp")
    )["latest"]
    return latest is not None and latest >= local_midnight(proposal.retailer, week_end)


def promotion_outcome_read(*, proposal: PromotionProposal, today: dt.date) -> PromotionOutcome:
    """Actual against forecast for the approved ``proposal`` as of the retailer's ``today``.

    Forecast margin = promoted units x (regular price x (1 - discount) - unit cost); actual
    margin = paid amount - units x unit cost, both with the product's current cost.
    """
    week_end = proposal.week_start + dt.timedelta(days=6)
    over = proposal.state == ProposalState.APPROVED and today > week_end
    if not over or not _imported_through(proposal, week_end):
        return PromotionOutcome(ready=False, week_end=week_end)
    items = list(proposal.items.select_related("product").order_by("rank"))
    sales = sales_panel_frame(
        retailer=proposal.retailer,
        since=proposal.week_start,
        before=week_end + dt.timedelta(days=1),
    )
    sold = sales.groupby("product_id")[["units", "revenue"]].sum()
    rows = [_row(item, sold) for item in items]
    actual = np.array([float(r.actual_units) for r in rows])
    forecast = np.array([float(r.forecast_units) for r in rows])
    units_wape, units_bias = wape_bias(actual, forecast)
    margin_wape, _ = wape_bias(
        np.array([float(r.actual_margin) for r in rows]),
        np.array([float(r.forecast_margin) for r in rows]),
    )
    totals = {
        name: sum((getattr(r, name) for r in rows), Decimal(0))
        for name in ("forecast_units", "actual_units", "forecast_margin", "actual_margin")
    }
    return PromotionOutcome(
        ready=True,
        week_end=week_end,
        rows=rows,
        units_wape=_finite(units_wape),
        units_bias=_finite(units_bias),
        margin_wape=_finite(margin_wape),
        totals=totals,
    )


def _row(item: PromotionItem, sold: pd.DataFrame) -> OutcomeRow:
    product = item.product
    units = float(sold["units"].get(product.pk, 0.0))
    paid = float(sold["revenue"].get(product.pk, 0.0))
    forecast_units = Decimal(item.promoted_units)
    unit_margin = product.price * (Decimal(1) - Decimal(item.discount_rate)) - product.unit_cost
    actual_units = Decimal(str(round(units, 3)))
    error = abs(float(forecast_units) - units) / units if units > 0 else None
    return OutcomeRow(
        sku=product.sku,
        name=product.name,
        forecast_units=forecast_units,
        actual_units=actual_units,
        forecast_margin=quantize(forecast_units * unit_margin),
        actual_margin=quantize(Decimal(str(paid)) - actual_units * product.unit_cost),
        units_error=None if error is None else round(error, 4),
    )
