"""CSV contract columns <-> past offers and their responses (offers.csv)."""

from __future__ import annotations

from typing import Any, cast

from django.core.exceptions import ValidationError
from django.db import models
from import_export.fields import Field

from campaigns.models import BonusType, PastOffer
from campaigns.services import bonus_type_get_or_create_for_history
from customers.models import Customer
from retailers.models import Retailer
from retailers.resources import BaseResource, DateCell, RetailerKey, TextCell


def _bonus_type_for_history(*, retailer: Retailer, key: str) -> BonusType:
    """Adapter for :class:`RetailerKey`: unknown codes join the catalogue as inactive types."""
    try:
        return bonus_type_get_or_create_for_history(retailer=retailer, code=key)
    except ValidationError as exc:
        raise ValueError(
            f"{key!r} is not a valid bonus type code: {' '.join(exc.messages)}"
        ) from exc


class PastOfferResource(BaseResource):
    offer_id = Field("external_id", "offer_id", TextCell(required=True))
    customer_id = Field(
        "customer", "customer_id", RetailerKey(Customer, "external_id", required=True)
    )
    bonus_type = Field(
        "bonus_type",
        "bonus_type",
        RetailerKey(BonusType, "code", required=True, create=_bonus_type_for_history),
    )
    sent_on = Field("sent_on", "sent_on", DateCell(required=True))
    valid_until = Field("valid_until", "valid_until", DateCell(required=True))
    redeemed_on = Field("redeemed_on", "redeemed_on", DateCell())

    export_select_related = ("customer", "bonus_type")

    class Meta:
        model = PastOffer
        name = "offers.csv"
        fields = ("offer_id", "customer_id", "bonus_type", "sent_on", "valid_until", "redeemed_on")
        import_id_fields = ("offer_id",)

    def row_checks(self, instance: models.Model) -> dict[str, Any]:
        offer = cast(PastOffer, instance)  # Meta.model
        problems = {}
        sent_on = offer.sent_on
        if sent_on and offer.valid_until and offer.valid_until < sent_on:
            problems["valid_until"] = "is before sent_on"
        if sent_on and offer.redeemed_on and offer.redeemed_on < sent_on:
            problems["redeemed_on"] = "is before sent_on"
        return problems
