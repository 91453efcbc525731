"""Issued bonuses, their redemptions at the till, API tokens of the tills and idempotency records.

The database carries the guarantees: a campaign member gets at most one bonus (issuing twice
creates nothing twice), a code is unique per retailer, a bonus is never used more often than it
allows, and an ``Idempotency-Key`` is stored once per retailer.
"""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import F, Q

from loyalty_site.money import MONEY_DIGITS, MONEY_FIELD
from retailers.tenancy import RetailerOwned


class BonusState(models.TextChoices):
    """issued -> redeemed | expired | cancelled."""

    ISSUED = "issued", "Issued"
    REDEEMED = "redeemed", "Redeemed"
    EXPIRED = "expired", "Expired"
    CANCELLED = "cancelled", "Cancelled"


class Bonus(RetailerOwned):
    """A bonus issued to one customer by an approved campaign."""

    campaign = models.ForeignKey(
        "campaigns.Campaign", on_delete=models.PROTECT, related_name="bonuses"
    )
    member = models.OneToOneField(
        "campaigns.CampaignMember",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="bonus",
        help_text="The member's generic bonus; empty on a product offer (see ``offer``).",
    )
    offer = models.OneToOneField(
        "campaigns.CampaignOffer",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="bonus",
        help_text="The personalised product offer this bonus carries.",
    )
    product = models.ForeignKey(
        "retailers.Product",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Product offers: redeemed only on a basket containing this product.",
    )
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.CASCADE, related_name="bonuses"
    )
    bonus_type = models.ForeignKey(
        "campaigns.BonusType", on_delete=models.PROTECT, related_name="bonuses"
    )
    code = models.CharField(max_length=32, help_text="Unguessable; printed and shown as QR.")
    value = models.DecimalField(
        max_digits=12, decimal_places=2, help_text="Face value (percent, amount, points, factor)."
    )
    points = models.PositiveIntegerField(default=0, help_text="Points credited (points bonuses).")
    redemption_cost = models.DecimalField(
        **MONEY_FIELD, help_text="Cost booked against the campaign's spend limit per use."
    )
    valid_from = models.DateField()
    valid_to = models.DateField()
    state = models.CharField(max_length=16, choices=BonusState.choices, default=BonusState.ISSUED)
    max_uses = models.PositiveSmallIntegerField(default=1, validators=[MinValueValidator(1)])
    uses = models.PositiveSmallIntegerField(default=0)
    issued_at = models.DateTimeField(auto_now_add=True)
    state_changed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-issued_at", "-id"]
        verbose_name_plural = "bonuses"
        constraints = [
            models.UniqueConstraint(fields=["retailer", "code"], name="bonus_unique_code"),
            models.CheckConstraint(
                condition=Q(uses__lte=F("max_uses")), name="bonus_uses_within_max"
            ),
            models.CheckConstraint(
                condition=Q(valid_to__gte=F("valid_from")), name="bonus_valid_ordered"
            ),
            models.CheckConstraint(
                condition=Q(member__isnull=False, offer__isnull=True)
                | Q(member__isnull=True, offer__isnull=False, product__isnull=False),
                name="bonus_member_or_offer",
            ),
        ]
        indexes = [
            models.Index(fields=["customer", "state"], name="bonus_customer_state_idx"),
            models.Index(fields=["state", "valid_to"], name="bonus_expiry_idx"),
        ]

    def __str__(self) -> str:
        return self.code


class Redemption(RetailerOwned):
    """One use of a bonus at the till."""

    bonus = models.ForeignKey(Bonus, on_delete=models.PROTECT, related_name="redemptions")
    use_no = models.PositiveSmallIntegerField(help_text="1 for the first use, 2 for the second...")
    cost = models.DecimalField(**MONEY_FIELD, help_text="Cost booked against the campaign.")
    basket_amount = models.DecimalField(**MONEY_DIGITS, default=None, null=True, blank=True)
    transaction = models.ForeignKey(
        "customers.Transaction",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="redemptions",
    )
    store = models.ForeignKey(
        "retailers.Store", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    api_token = models.ForeignKey(
        "campaigns.ApiToken", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    redeemed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-redeemed_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["bonus", "use_no"], name="redemption_unique_use"),
            models.CheckConstraint(condition=Q(use_no__gte=1), name="redemption_use_no_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.bonus_id} use {self.use_no}"


class ApiToken(RetailerOwned):
    """A point-of-sale system's credential for one retailer. Only a hash of the key is stored."""

    name = models.CharField(max_length=100, help_text="Which till or system uses it.")
    prefix = models.CharField(max_length=12, unique=True, help_text="Public part of the key.")
    key_hash = models.CharField(max_length=64, help_text="SHA-256 of the secret key.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["retailer", "name"]
        verbose_name = "API token"

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        """Not revoked."""
        return self.revoked_at is None


class IdempotencyRecord(RetailerOwned):
    """The stored answer to a request sent with an ``Idempotency-Key``, replayed on repeats."""

    key = models.CharField(max_length=255)
    endpoint = models.CharField(max_length=100)
    request_hash = models.CharField(max_length=64, help_text="SHA-256 of the request body.")
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["retailer", "endpoint", "key"], name="idempotency_unique_key"
            )
        ]

    def __str__(self) -> str:
        return f"{self.endpoint} {self.key}"
