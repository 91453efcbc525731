"""The personalised-offers part of the campaign page (report and form), shared by the detail
view and the view that chooses the offers (``offers.py``)."""

from __future__ import annotations

from typing import Any

from django import forms

from campaigns.models import Campaign

MAX_OFFERS = 5


class CampaignOffersForm(forms.Form):
    max_offers = forms.IntegerField(
        min_value=1, max_value=MAX_OFFERS, initial=3, label="Offers per customer"
    )


def offers_context(campaign: Campaign, *, can_edit: bool) -> dict[str, Any]:
    """What ``campaigns/_campaign_offers.html`` needs."""
    report = (campaign.solver or {}).get("offers") or {}
    breakdown = (campaign.breakdown or {}).get("offers") or {}
    gap = report.get("gap")
    return {
        "offers_report": report,
        "offers_gap_pct": None if gap is None else 100 * float(gap),
        "offers_top_products": breakdown.get("top_products") or [],
        "offers_by_supplier": breakdown.get("by_supplier") or [],
        "offers_form": CampaignOffersForm() if can_edit else None,
    }
