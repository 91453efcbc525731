"""Reads of the campaigns app for the staff pages: lists, members, changes, budgets, rewards.

Selectors never decide whose rows a user may see: pages pass the querysets they got from the
tenancy mechanism (``RetailerViewMixin.scoped``) or rows they already looked up with it, and a
selector only narrows, orders and aggregates them.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.db.models import Count, Q, QuerySet, Sum
from django.utils import timezone

from campaigns.models import (
    Bonus,
    BonusState,
    BonusType,
    Campaign,
    CampaignMember,
    CampaignState,
    Delivery,
    DeliveryState,
    Redemption,
)
from loyalty_site.money import quantize
from retailers.models import Retailer

#: Campaigns that were decided in favour: they count against budgets and serve as "last week".
DECIDED_STATES: tuple[str, ...] = (
    CampaignState.APPROVED,
    CampaignState.ISSUED,
    CampaignState.CLOSED,
)
#: Campaigns still in play: proposed, approved or running.
ACTIVE_STATES: tuple[str, ...] = (
    CampaignState.PROPOSED,
    CampaignState.APPROVED,
    CampaignState.ISSUED,
)


def campaign_list(*, campaigns: QuerySet[Campaign], state: str = "") -> QuerySet[Campaign]:
    """``campaigns`` (already scoped), newest week first, optionally in one ``state``."""
    if state in CampaignState.values:
        campaigns = campaigns.filter(state=state)
    return campaigns.select_related("allocation_run", "created_by", "decided_by").order_by(
        "-week_start", "-created_at", "-pk"
    )


def campaign_members(
    *, campaign: Campaign, segment: str = "", bonus_type: str = ""
) -> QuerySet[CampaignMember]:
    """Members of ``campaign``: treated first (best expected value first), then the control
    group; optionally of one ``segment`` and/or one bonus type ``code``."""
    members = campaign.members.select_related("customer", "bonus_type")
    if segment:
        members = members.filter(segment=segment)
    if bonus_type:
        members = members.filter(bonus_type__code=bonus_type)
    return members.order_by("is_control", "-expected_value", "customer_id")


def campaign_member_choices(*, campaign: Campaign) -> dict[str, list[Any]]:
    """The segments and bonus types (``(code, name)`` pairs, by name) that occur among
    ``campaign``'s members (filters: the code is the value, the name what people read)."""
    members = campaign.members.order_by()
    segments = members.exclude(segment="").values_list("segment", flat=True).distinct()
    types = (
        members.filter(bonus_type__isnull=False)
        .values_list("bonus_type__code", "bonus_type__name")
        .distinct()
    )
    return {
        "segments": sorted(segments),
        "bonus_types": sorted(types, key=lambda pair: (pair[1] or pair[0], pair[0])),
    }


def campaign_type_counts(*, campaign: Campaign) -> dict[str, int]:
    """Treated members per bonus type code."""
    rows = (
        campaign.members.filter(is_control=False, bonus_type__isnull=False)
        .order_by()
        .values("bonus_type__code")
        .annotate(n=Count("id"))
        .values_list("bonus_type__code", "n")
    )
    return dict(rows)


def campaign_breakdown_by_type(*, campaign: Campaign) -> list[dict[str, Any]]:
    """The campaign's ``breakdown["by_bonus_type"]`` rows, each with the bonus type's name as
    ``bonus_name`` (the stored rows carry only its code, which means nothing to a marketer)."""
    rows = (campaign.breakdown or {}).get("by_bonus_type") or []
    names = dict(
        BonusType.objects.filter(
            retailer_id=campaign.retailer_id, code__in=[row.get("bonus_type") for row in rows]
        ).values_list("code", "name")
    )
    return [
        {**row, "bonus_name": names.get(row.get("bonus_type")) or row.get("bonus_type")}
        for row in rows
    ]


def campaign_previous(*, campaign: Campaign) -> Campaign | None:
    """The retailer's latest campaign of an earlier week that was approved, issued or closed."""
    return (
        Campaign.objects.for_retailer(campaign.retailer_id)
        .filter(state__in=DECIDED_STATES, week_start__lt=campaign.week_start)
        .order_by("-week_start", "-created_at", "-pk")
        .first()
    )


def _treated_cost(campaign: Campaign) -> Decimal:
    total = campaign.members.filter(is_control=False).aggregate(cost=Sum("expected_cost"))["cost"]
    return quantize(total)


def campaign_changes(*, campaign: Campaign, previous: Campaign) -> dict[str, Any]:
    """What changed from ``previous`` to ``campaign``: treated customers and expected cost (both
    sides and the difference), treated per bonus type, and customers new to or dropped from the
    treated group. Counted in the database, so it stays cheap for big campaigns."""
    treated_now = campaign.members.filter(is_control=False)
    treated_before = previous.members.filter(is_control=False)
    now_n, before_n = treated_now.count(), treated_before.count()
    cost_now, cost_before = _treated_cost(campaign), _treated_cost(previous)
    counts_now = campaign_type_counts(campaign=campaign)
    counts_before = campaign_type_counts(campaign=previous)
    by_type = [
        {
            "bonus_type": code,
            "before": counts_before.get(code, 0),
            "now": counts_now.get(code, 0),
            "difference": counts_now.get(code, 0) - counts_before.get(code, 0),
        }
        for code in sorted(set(counts_now) | set(counts_before))
    ]
    before_ids = treated_before.values("customer_id")
    now_ids = treated_now.values("customer_id")
    return {
        "previous": previous,
        "treated": {"before": before_n, "now": now_n, "difference": now_n - before_n},
        "cost": {"before": cost_before, "now": cost_now, "difference": cost_now - cost_before},
        "by_type": by_type,
        "new_customers": treated_now.exclude(customer_id__in=before_ids).count(),
        "dropped_customers": treated_before.exclude(customer_id__in=now_ids).count(),
    }


def campaign_replacement(*, campaign: Campaign) -> Campaign | None:
    """The newest campaign proposed by a re-run of ``campaign`` (``None`` if there is none)."""
    return (
        Campaign.objects.for_retailer(campaign.retailer_id)
        .filter(allocation_run__replaces=campaign)
        .order_by("-created_at", "-pk")
        .first()
    )


def campaign_bonus_count(*, campaign: Campaign) -> int:
    """Bonuses issued by ``campaign`` so far."""
    return Bonus.objects.filter(campaign=campaign).count()


def campaign_rerun_settings(*, campaign: Campaign) -> dict[str, Any] | None:
    """Keyword arguments of ``allocation_run_create`` that repeat the run which proposed
    ``campaign`` (scores, week, typed settings, seed); ``None`` for a campaign that no run
    proposed. Callers change the budget or add exclusions with ``settings.replace``."""
    run = campaign.allocation_run
    if run is None:
        return None
    return {
        "retailer": campaign.retailer,
        "scoring_run": run.scoring_run,
        "settings": run.settings,
        "week_start": run.week_start,
        "random_state": run.random_state,
        "time_limit_seconds": run.time_limit_seconds,
    }


# --- Dashboard -----------------------------------------------------------------------------------
def _month(day: dt.date) -> tuple[dt.date, dt.date]:
    first = day.replace(day=1)
    after = (first + dt.timedelta(days=32)).replace(day=1)
    return first, after - dt.timedelta(days=1)


def campaign_budget_period(
    *, retailer: Retailer, today: dt.date | None = None
) -> dict[str, Any] | None:
    """Budget of the month of ``today`` (default: the retailer's today): ``used`` (real cost
    redeemed so far) and ``total`` (budgets) of the approved, issued and closed campaigns whose
    week starts in that month, with ``period`` (first, last day) and ``campaigns``. ``None``
    when there is none."""
    today = today or timezone.now().astimezone(retailer.tz).date()
    first, last = _month(today)
    rows = Campaign.objects.for_retailer(retailer).filter(
        state__in=DECIDED_STATES, week_start__gte=first, week_start__lte=last
    )
    sums = rows.aggregate(used=Sum("spent"), total=Sum("budget"), n=Count("id"))
    if not sums["n"]:
        return None
    used, total = quantize(sums["used"]), quantize(sums["total"])
    return {
        "used": used,
        "total": total,
        "share": float(used / total) if total else None,
        "period": (first, last),
        "campaigns": sums["n"],
    }


def campaigns_active(*, retailer: Retailer, limit: int = 10) -> list[Campaign]:
    """The retailer's proposed, approved and issued campaigns, newest week first."""
    return list(
        Campaign.objects.for_retailer(retailer)
        .filter(state__in=ACTIVE_STATES)
        .order_by("-week_start", "-created_at")[:limit]
    )


def campaign_budget_rows(*, retailer: Retailer, limit: int = 8) -> list[dict[str, Any]]:
    """Budget, expected cost and real spend of the latest ``limit`` campaigns that were not
    rejected or superseded, oldest first (the dashboard chart)."""
    latest = (
        Campaign.objects.for_retailer(retailer)
        .exclude(state__in=(CampaignState.REJECTED, CampaignState.SUPERSEDED))
        .order_by("-week_start", "-created_at")[:limit]
    )
    return [
        {
            "label": f"{c.week_start:%Y-%m-%d} #{c.pk}",
            "state": c.state,
            "budget": quantize(c.budget),
            "expected_cost": quantize((c.totals or {}).get("expected_cost")),
            "spent": quantize(c.spent),
        }
        for c in reversed(list(latest))
    ]


# --- A customer's rewards ------------------------------------------------------------------------
def customer_bonuses(*, customer: Any, limit: int = 20) -> list[Bonus]:
    """The customer's latest bonuses with their types and campaigns."""
    return list(
        Bonus.objects.filter(retailer_id=customer.retailer_id, customer=customer)
        .select_related("bonus_type", "campaign")
        .order_by("-issued_at", "-pk")[:limit]
    )


def customer_redemptions(*, customer: Any, limit: int = 20) -> list[Redemption]:
    """The customer's latest redemptions with their bonuses and stores."""
    return list(
        Redemption.objects.filter(retailer_id=customer.retailer_id, bonus__customer=customer)
        .select_related("bonus", "bonus__bonus_type", "store")
        .order_by("-redeemed_at", "-pk")[:limit]
    )


def customer_bonus_counts(*, customer: Any) -> dict[str, int]:
    """How many bonuses the customer holds per state (issued, redeemed, expired, cancelled)."""
    rows = (
        Bonus.objects.filter(retailer_id=customer.retailer_id, customer=customer)
        .order_by()
        .values("state")
        .annotate(n=Count("id"))
        .values_list("state", "n")
    )
    return dict(rows)


def campaign_counts_by_state(*, campaigns: QuerySet[Campaign]) -> dict[str, int]:
    """Campaigns per state of ``campaigns`` (already scoped): the list page's filter counts."""
    rows = campaigns.order_by().values("state").annotate(n=Count("id")).values_list("state", "n")
    return dict(rows)


def campaign_delivery_counts(*, campaign: Campaign) -> dict[str, int]:
    """How many of the campaign's offer e-mails are in each state (every state present)."""
    rows = Delivery.objects.filter(campaign=campaign).values("state").annotate(n=Count("pk"))
    counts = {state: 0 for state in DeliveryState.values}
    counts.update({row["state"]: row["n"] for row in rows})
    return counts


def product_offer_outcomes(*, retailer: Retailer) -> dict[str, tuple[int, int]]:
    """Resolved product-offer bonuses of ``retailer`` per candidate kind (``buy_again``, ``try``,
    ``popular``): ``(resolved, redeemed)``. Resolved = redeemed or expired; bonuses still valid
    and cancelled ones are left out (their outcome is unknown or not the customer's)."""
    rows = (
        Bonus.objects.for_retailer(retailer)
        .filter(offer__isnull=False, state__in=[BonusState.REDEEMED, BonusState.EXPIRED])
        .values("offer__candidate_kind")
        .annotate(resolved=Count("pk"), redeemed=Count("pk", filter=Q(state=BonusState.REDEEMED)))
    )
    return {
        str(row["offer__candidate_kind"]): (int(row["resolved"]), int(row["redeemed"]))
        for row in rows
    }
