"""Bonus catalogue and imported offer history."""

from __future__ import annotations

from decimal import Decimal

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q

from loyalty_site.money import MONEY_DIGITS, MONEY_FIELD
from retailers.tenancy import RetailerOwned


class BonusKind(models.TextChoices):
    """What a bonus gives the customer."""

    PERCENT_DISCOUNT = "percent_discount", "Percentage discount coupon"
    AMOUNT_DISCOUNT = "amount_discount", "Fixed-amount discount coupon"
    FREE_PRODUCT = "free_product", "Free product"
    POINTS = "points", "Loyalty points (fixed amount)"
    POINTS_MULTIPLIER = "points_multiplier", "Loyalty points multiplier"
    PRODUCT_OFFER = "product_offer", "Personalised product offer (percent off one product)"
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
    face_value = models.DecimalField(
        max_digits=12,
        decimal_places=2,
        default=Decimal("0.00"),
        validators=[MinValueValidator(0)],
        help_text="Percent off, amount off, points given or points multiplier, by kind.",
    )
    category = models.CharField(
        max_length=200, blank=True, help_text="Discount limited to this product category."
    )
    product = models.ForeignKey(
        "retailers.Product",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="The product given by a free-product bonus, or the one product of a product "
        "offer (empty on a product offer: any recommended product of ``category``).",
    )
    validity_days = models.PositiveSmallIntegerField(
        default=14, validators=[MinValueValidator(1), MaxValueValidator(365)]
    )
    max_uses = models.PositiveSmallIntegerField(
        default=1, validators=[MinValueValidator(1)], help_text="Redemptions allowed per bonus."
    )
    eligible_segments = models.JSONField(
        default=list, blank=True, help_text="Segment names; empty means every segment."
    )
    min_clv = models.DecimalField("minimum CLV", **MONEY_FIELD, validators=[MinValueValidator(0)])
    requires_consent = models.BooleanField(
        default=True, help_text="Only customers with marketing consent receive it."
    )
    max_per_campaign = models.PositiveIntegerField(
        null=True, blank=True, help_text="Per-campaign cap on the number issued; empty: no cap."
    )
    redemption_cost = models.DecimalField(
        **MONEY_DIGITS,
        default=None,
        null=True,
        blank=True,
        validators=[MinValueValidator(0)],
        help_text="Cost to the retailer when redeemed; empty: derived from the kind and value.",
    )
    supplier = models.CharField(
        max_length=200,
        blank=True,
        help_text="Product offers: the supplier who funds part of the discount; empty: the "
        "product's brand.",
    )
    supplier_share = models.DecimalField(
        max_digits=4,
        decimal_places=3,
        default=Decimal("0.000"),
        validators=[MinValueValidator(0), MaxValueValidator(1)],
        help_text="Product offers: share of the discount the supplier pays (0 to 1).",
    )
    product_budget = models.DecimalField(
        **MONEY_DIGITS,
        default=None,
        null=True,
        blank=True,
        validators=[MinValueValidator(0)],
        help_text="Product offers: per product and campaign, cap on the expected discount "
        "(retailer and supplier shares); empty: no cap.",
    )

    class Meta:
        ordering = ["retailer", "code"]
        constraints = [
            models.UniqueConstraint(fields=["retailer", "code"], name="bonus_type_unique_code"),
            models.CheckConstraint(
                condition=~Q(kind="percent_discount") | Q(face_value__lte=100),
                name="bonus_type_percent_at_most_100",
            ),
            models.CheckConstraint(
                condition=~Q(kind="product_offer") | Q(face_value__gt=0, face_value__lte=100),
                name="bonus_type_product_offer_percent",
            ),
        ]

    @property
    def is_points(self) -> bool:
        """Points bonuses credit the ledger instead of discounting a basket."""
        return self.kind in (BonusKind.POINTS, BonusKind.POINTS_MULTIPLIER)

    def __str__(self) -> str:
        return self.name or self.code


class SupplierBudget(RetailerOwned):
    """What a supplier funds per campaign: the cap on its expected share of product-offer
    discounts. A supplier without a row has no cap."""

    supplier = models.CharField(max_length=200)
    budget = models.DecimalField(**MONEY_DIGITS, validators=[MinValueValidator(0)])

    class Meta:
        ordering = ["retailer", "supplier"]
        constraints = [
            models.UniqueConstraint(
                fields=["retailer", "supplier"], name="supplier_budget_unique_supplier"
            )
        ]

    def __str__(self) -> str:
        return f"{self.supplier}: {self.budget}"


class PastOffer(RetailerOwned):
    """An offer the retailer made before (imported history) and whether the customer redeemed it.

    The seed of the "response to past offers" KPI.

    The customer and the retailer are one foreign key in the database, ``(customer_id,
    retailer_id) -> customer (id, retailer_id)`` (``past_offer_customer_same_retailer_fk``,
    added by migration; Django 5.2 cannot declare it), as for ``customers.Transaction``: the
    customer is the retailer's own, and ``import_csv offers`` runs two per-row foreign key
    checks per offer instead of three.
    """

    retailer = models.ForeignKey(
        "retailers.Retailer",
        on_delete=models.CASCADE,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    external_id = models.CharField("offer id", max_length=64)
    customer = models.ForeignKey(
        "customers.Customer",
        on_delete=models.CASCADE,
        related_name="past_offers",
        db_constraint=False,
        # past_offer_customer_idx (customer, sent_on) serves every look-up by customer, the
        # cascade included; a second index on customer alone only slowed each offer written.
        db_index=False,
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
