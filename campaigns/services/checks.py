"""An independent re-check of a proposed campaign, run before it can be approved.

It trusts nothing the solver reported: it re-adds the stored members' expected costs and counts
them per bonus type, so a solver bug, a time-limited solve or an edit after the run can never push
an over-budget or over-cap proposal to customers.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db.models import Count, Q

from campaigns.exceptions import ProposalInvalid
from campaigns.models import BonusType, Campaign
from loyalty_site.money import quantize


def type_caps(*, retailer_id: int, run_caps: dict[str, Any] | None) -> dict[str, int]:
    """Per bonus type code, the most bonuses one campaign may issue: the catalogue's
    ``max_per_campaign`` and the allocation run's own caps, whichever is lower."""
    caps: dict[str, int] = {
        code: cap
        for code, cap in BonusType.objects.filter(
            retailer_id=retailer_id, max_per_campaign__isnull=False
        ).values_list("code", "max_per_campaign")
        if cap is not None  # never, by the filter; says so to the type checker
    }
    for code, cap in (run_caps or {}).items():
        caps[str(code)] = min(int(cap), caps.get(str(code), int(cap)))
    return caps


def campaign_caps(campaign: Campaign) -> dict[str, int]:
    """:func:`type_caps` of ``campaign`` (catalogue and its allocation run's caps)."""
    run = campaign.allocation_run
    return type_caps(
        retailer_id=campaign.retailer_id,
        run_caps=dict(run.settings.type_caps) if run is not None else None,
    )


def campaign_check(*, campaign: Campaign) -> dict[str, Any]:
    """Re-check ``campaign``'s treated members against its budget and per-type caps.

    Returns the figures checked (expected cost, budget, counts per type) for the audit entry.

    Raises:
        ProposalInvalid: the expected cost passes the budget, a cap is exceeded, a control
            customer was given a bonus type, or a bonus type is no longer active.
    """
    members = campaign.members.all()
    treated = members.filter(is_control=False)
    # A generic bonus the offer allocation dropped (budget) leaves its member with nothing.
    dropped = [int(k) for k in (campaign.solver.get("offers") or {}).get("dropped_generic", {})]
    empty = treated.filter(bonus_type__isnull=True, offers__isnull=True).exclude(pk__in=dropped)
    if empty.exists():
        raise ProposalInvalid("A treated customer has no bonus type and no product offer.")
    offers = campaign.offers.filter(member__is_control=False)
    costs = [
        *treated.values_list("expected_cost", flat=True),
        *offers.values_list("expected_retailer_cost", flat=True),
    ]
    cost = quantize(sum(costs, Decimal(0)))
    if cost > quantize(campaign.budget):
        raise ProposalInvalid(
            f"Expected cost {cost} is above the budget {quantize(campaign.budget)}."
        )
    counts = dict(
        treated.filter(bonus_type__isnull=False)
        .values("bonus_type__code")
        .annotate(n=Count("id"))
        .values_list("bonus_type__code", "n")
    )
    for code, n in (
        offers.values("bonus_type__code")
        .annotate(n=Count("id"))
        .values_list("bonus_type__code", "n")
    ):
        counts[code] = counts.get(code, 0) + n
    for code, cap in campaign_caps(campaign).items():
        if counts.get(code, 0) > cap:
            raise ProposalInvalid(
                f"{counts[code]} bonuses of type {code} are above its cap of {cap}."
            )
    inactive = treated.filter(bonus_type__isnull=False, bonus_type__is_active=False).values_list(
        "bonus_type__code", flat=True
    )
    if inactive.exists():
        raise ProposalInvalid(
            f"Bonus type {inactive.first()} is no longer active; re-run the allocation."
        )
    if campaign.bonuses.filter(
        Q(member__is_control=True) | Q(offer__member__is_control=True)
    ).exists():
        raise ProposalInvalid("A control-group customer was issued a bonus.")
    return {
        "expected_cost": str(cost),
        "budget": str(quantize(campaign.budget)),
        "treated": treated.count(),
        "control": members.filter(is_control=True).count(),
        "per_type": counts,
    }
