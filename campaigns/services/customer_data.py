"""The campaigns' sections of a customer's data export (bonuses, redemptions, campaign
memberships, past offers), registered with ``customers.services.privacy`` by
``CampaignsConfig.ready``: customers sits below campaigns and never imports it."""

from __future__ import annotations

from typing import Any

from campaigns.models import Bonus, CampaignMember, PastOffer, Redemption
from customers.models import Customer
from customers.services.privacy import customer_export_section_register, export_rows


def _bonuses(customer: Customer) -> list[dict[str, Any]]:
    return export_rows(
        Bonus.objects.filter(customer=customer).order_by("issued_at"),
        [
            "code",
            "bonus_type__code",
            "value",
            "points",
            "valid_from",
            "valid_to",
            "state",
            "uses",
            "max_uses",
            "issued_at",
            "campaign__name",
        ],
    )


def _redemptions(customer: Customer) -> list[dict[str, Any]]:
    return export_rows(
        Redemption.objects.filter(bonus__customer=customer).order_by("redeemed_at"),
        ["bonus__code", "use_no", "basket_amount", "store__external_id", "redeemed_at"],
    )


def _campaign_memberships(customer: Customer) -> list[dict[str, Any]]:
    return export_rows(
        CampaignMember.objects.filter(customer=customer).order_by("campaign_id"),
        [
            "campaign__name",
            "is_control",
            "bonus_type__code",
            "segment",
            "send_on",
            "expires_on",
            "redemption_probability",
            "reason",
        ],
    )


def _past_offers(customer: Customer) -> list[dict[str, Any]]:
    return export_rows(
        PastOffer.objects.filter(customer=customer).order_by("sent_on"),
        ["external_id", "bonus_type__code", "sent_on", "valid_until", "redeemed_on"],
    )


def customer_export_sections_register() -> None:
    """Add the campaigns' sections to every customer export (in this order)."""
    for name, rows in (
        ("bonuses", _bonuses),
        ("redemptions", _redemptions),
        ("campaign_memberships", _campaign_memberships),
        ("past_offers", _past_offers),
    ):
        customer_export_section_register(name=name, rows=rows)
