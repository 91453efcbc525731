"""Measure a campaign against its control group, and close campaigns whose window has ended.

The measurement window runs from the campaign's first day to the last day any of its bonuses
was valid (at least the campaign week), in the retailer's time zone. Spend and gross margin
(line amount minus quantity x unit cost) of every member in that window, and the real cost of
their redemptions, go to the pure :func:`optimizer.engine.results.campaign_results`.

It lives in optimizer, not campaigns, because it feeds the engine (optimizer sits above campaigns
in the layers contract); closing the campaign stays campaigns' ``campaign_close``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import pandas as pd
from django.db.models import DecimalField, ExpressionWrapper, F, Max, Sum
from django.utils import timezone

from campaigns.models import Bonus, BonusKind, Campaign, CampaignState, Redemption
from campaigns.services.workflow import campaign_close
from customers.models import PointsEntry, PointsKind, TransactionLine
from optimizer.engine.results import campaign_results
from optimizer.services.offers import campaign_offer_results


def campaign_window(campaign: Campaign) -> tuple[dt.date, dt.date]:
    """First and last day (inclusive, retailer's time) of the campaign's measurement window."""
    last_expiry = campaign.members.aggregate(last=Max("expires_on"))["last"]
    return campaign.week_start, max(campaign.week_end, last_expiry or campaign.week_end)


def _local_midnight(day: dt.date, campaign: Campaign) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min, tzinfo=campaign.retailer.tz)


def campaign_outcomes(campaign: Campaign) -> pd.DataFrame:
    """One row per member: is_control, segment, bonus_type, spend, margin, redeemed, cost."""
    first, last = campaign_window(campaign)
    members = pd.DataFrame.from_records(
        campaign.members.values_list("customer_id", "is_control", "segment", "bonus_type__code"),
        columns=["customer_id", "is_control", "segment", "bonus_type"],
    )
    if members.empty:
        return members.assign(spend=[], margin=[], redeemed=[], cost=[])
    members["bonus_type"] = members["bonus_type"].fillna("")
    unit_cost = ExpressionWrapper(
        F("quantity") * F("product__unit_cost"),
        output_field=DecimalField(max_digits=16, decimal_places=5),
    )
    lines = (
        TransactionLine.objects.filter(
            retailer_id=campaign.retailer_id,
            transaction__customer_id__in=members["customer_id"].tolist(),
            transaction__timestamp__gte=_local_midnight(first, campaign),
            transaction__timestamp__lt=_local_midnight(last + dt.timedelta(days=1), campaign),
        )
        .values("transaction__customer_id")
        .annotate(spend=Sum("amount"), goods_cost=Sum(unit_cost))
    )
    spend: dict[int, Mapping[str, Any]] = {row["transaction__customer_id"]: row for row in lines}
    used = {
        row["bonus__customer_id"]: row["cost"]
        for row in Redemption.objects.filter(bonus__campaign=campaign)
        .values("bonus__customer_id")
        .annotate(cost=Sum("cost"))
    }
    # Points bonuses cost their face value when credited (at issuance), redeemed or not.
    point_value = campaign.retailer.point_value
    credited = {}
    for row in (
        PointsEntry.objects.filter(
            bonus__campaign=campaign,
            kind=PointsKind.BONUS,
            bonus__bonus_type__kind=BonusKind.POINTS,
        )
        .values("customer_id")
        .annotate(points=Sum("points"))
    ):
        credited[row["customer_id"]] = Decimal(row["points"]) * point_value

    def money(value: Any) -> float:
        return float(value or Decimal(0))

    members["spend"] = [money(spend.get(c, {}).get("spend")) for c in members["customer_id"]]
    members["margin"] = [
        money(spend.get(c, {}).get("spend")) - money(spend.get(c, {}).get("goods_cost"))
        for c in members["customer_id"]
    ]
    members["redeemed"] = members["customer_id"].isin(used.keys())
    members["cost"] = [money(used.get(c)) + money(credited.get(c)) for c in members["customer_id"]]
    return members


def campaign_results_measure(*, campaign: Campaign) -> dict[str, Any]:
    """The campaign's results as they stand (see :func:`campaign_results`), with its window."""
    first, last = campaign_window(campaign)
    results = campaign_results(campaign_outcomes(campaign))
    issued = Bonus.objects.filter(campaign=campaign).count()
    offers = campaign_offer_results(campaign=campaign, first=first, last=last)
    return {
        **results,
        "window": [first.isoformat(), last.isoformat()],
        "bonuses_issued": issued,
        **({"product_offers": offers} if offers else {}),
    }


def campaign_results_close_due(*, today: dt.date | None = None) -> int:
    """Measure and close every issued campaign whose window ended before ``today`` (per
    retailer time zone when not given). Returns how many were closed; safe to run twice."""
    closed = 0
    for campaign in Campaign.objects.filter(state=CampaignState.ISSUED).select_related("retailer"):
        local_today = today or timezone.now().astimezone(campaign.retailer.tz).date()
        if campaign_window(campaign)[1] >= local_today:
            continue
        results = campaign_results_measure(campaign=campaign)
        campaign_close(campaign_id=campaign.pk, results=results, actor_label="results schedule")
        closed += 1
    return closed
