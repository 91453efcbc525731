"""Bonus catalogue and offer history (campaigns, issuance and results come with later issues)."""

from __future__ import annotations

from django.db import models
from django.db.models import F, Q

from retailers.tenancy import RetailerOwned


class BonusKind(models.TextChoices):
    """What a bonus gives the customer."""

    PERCENT_DISCOUNT = "percent_discount", "Percentage discount coupon"
    AMOUNT_DISCOUNT = "amount_discount", "Fixed-amount discount coupon"
    FREE_PRODUCT = "free_product", "Free product"
    POINTS = "points", "Loyalty points (fixed amount)"
    POINTS_MULTIPLIER = "points_multiplier", "Loyalty points multiplier"
    OTHER = "other", "Other (imported history)"


class BonusType(RetailerOwned):
    """An entry of the retailer's bonus catalogue.

    Types met in imported offer history but not yet configured are created inactive with kind
    ``other``, so that history is never lost; staff complete and activate them.
    """

    code = models.SlugField(max_length=64, allow_unicode=False)
    name = models.CharField(max_length=200, blank=True)
    kind = models.CharField(max_length=32, choices=BonusKind.choices, default=BonusKind.OTHER)
    is_active = models.BooleanField(default=False)
    description = models.TextField(blank=True)

    class Meta:
        ordering = ["retailer", "code"]
        constraints = [
            models.UniqueConstraint(fields=["retailer", "code"], name="bonus_type_unique_code")
        ]

    def __str__(self) -> str:
        return self.name or self.code


class PastOffer(RetailerOwned):
    """An offer the retailer made before (imported history) and whether the customer redeemed it.

    The seed of the "response to past offers" KPI.
    """

    external_id = models.CharField("offer id", max_length=64)
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.CASCADE, related_name="past_offers"
    )
    bonus_type = models.ForeignKey(BonusType, on_delete=models.PROTECT, related_name="past_offers")
    sent_on = models.DateField()
    valid_until = models.DateField()
    redeemed_on = models.DateField(null=True, blank=True, help_text="Empty: not redeemed.")

    class Meta:
        ordering = ["retailer", "sent_on", "external_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["retailer", "external_id"], name="past_offer_unique_id"
            ),
            models.CheckConstraint(
                condition=Q(valid_until__gte=F("sent_on")), name="past_offer_valid_after_sent"
            ),
            models.CheckConstraint(
                condition=Q(redeemed_on__isnull=True) | Q(redeemed_on__gte=F("sent_on")),
                name="past_offer_redeemed_after_sent",
            ),
        ]
        indexes = [models.Index(fields=["customer", "sent_on"], name="past_offer_customer_idx")]

    def __str__(self) -> str:
        return self.external_id
