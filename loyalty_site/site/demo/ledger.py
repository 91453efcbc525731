"""The demo's points ledger, replayed from its baskets with the retailer's earning rule, so that
a demo customer with 50 baskets has points on the portal like a real member.

Set-based: one query sums every basket, pandas numbers each customer's entries and keeps their
running balance, and one bulk insert (COPY on PostgreSQL) writes them; nothing goes through
``points_earn`` one basket at a time (that would add minutes to ``load_demo``). Only baskets
whose points are still valid on ``as_of`` (the day the demo is loaded: they expire after it)
are credited: older points would have expired, and their FIFO expiries are what replaying the
whole history entry by entry would cost. Return baskets (negative totals) earn nothing here.
"""

from __future__ import annotations

import datetime as dt
import math

import pandas as pd
from django.db.models import Sum
from django.utils import timezone

from customers.models import MAX_POINTS_BALANCE, PointsEntry, PointsKind, Transaction
from loyalty_site.site.demo.writing import _insert, _timestamps_text, _with_field_defaults
from retailers.models import Retailer


def write_points_ledger(retailer: Retailer, *, as_of: dt.date) -> int:
    """Credit the points every basket of ``retailer`` earned that are still valid on ``as_of``
    (they expire after it, so the daily expiry run takes none of them that day); returns the
    number of entries written (``retailer`` must have no points entries yet)."""
    since = as_of - dt.timedelta(days=retailer.points_validity_days - 1)
    start = dt.datetime.combine(since, dt.time(0), tzinfo=retailer.tz)
    baskets = pd.DataFrame.from_records(
        Transaction.objects.filter(retailer=retailer, customer__isnull=False, timestamp__gte=start)
        .values("id", "customer_id", "timestamp")
        .annotate(total=Sum("lines__amount"))
        .order_by("customer_id", "timestamp", "id"),
        columns=["id", "customer_id", "timestamp", "total"],
    )
    if baskets.empty:
        return 0
    rate = retailer.points_per_currency_unit
    baskets["points"] = [
        math.floor(total * rate) if total is not None and total > 0 else 0
        for total in baskets["total"]
    ]
    baskets = baskets[baskets["points"] > 0].copy()
    by_customer = baskets.groupby("customer_id", sort=False)
    baskets["balance_after"] = by_customer["points"].cumsum()
    baskets = baskets[baskets["balance_after"] <= MAX_POINTS_BALANCE]
    stamps = pd.to_datetime(baskets["timestamp"], utc=True)
    earned_on = stamps.dt.tz_convert(str(retailer.tz)).dt.date
    validity = dt.timedelta(days=retailer.points_validity_days)
    frame = pd.DataFrame(
        {
            "retailer_id": retailer.pk,
            "customer_id": baskets["customer_id"].to_numpy(),
            "seq": baskets.groupby("customer_id", sort=False).cumcount().to_numpy() + 1,
            "kind": PointsKind.EARNED.value,
            "points": baskets["points"].to_numpy(),
            "balance_after": baskets["balance_after"].to_numpy(),
            "expires_on": [(day + validity).isoformat() for day in earned_on],
            "transaction_id": baskets["id"].to_numpy(),
            "reason": "demo: replayed from the purchase history",
            "created_at": _timestamps_text(pd.Series([timezone.now()] * len(baskets))),
        }
    )
    frame = _with_field_defaults(PointsEntry, frame)
    return _insert(PointsEntry, frame)
