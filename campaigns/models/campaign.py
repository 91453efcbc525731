"""Campaigns: an allocation proposal, its approval, and the customers it treats or holds out.

A :class:`Campaign` is produced by an ``optimizer.AllocationRun`` in state ``proposed``. An approver
approves or rejects it (four eyes when the retailer asks for it); approval issues the bonuses of its
treated members exactly once (``issued``), and the campaign is ``closed`` when its week is over and
its results are measured against the control group. Re-running an allocation supersedes the
previous proposal instead of editing it, so every proposal stays as it was when it was reviewed.
"""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q

from loyalty_site.money import MONEY_FIELD
from retailers.tenancy import RetailerOwned


class CampaignState(models.TextChoices):
    """proposed -> approved | rejected | superseded; approved -> issued -> closed."""

    PROPOSED = "proposed", "Proposed"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
    SUPERSEDED = "superseded", "Superseded by a re-run"
    ISSUED = "issued", "Issued"
    CLOSED = "closed", "Closed"


class Campaign(RetailerOwned):
    """One week's bonus allocation for a retailer, from proposal to measured results."""

    name = models.CharField(max_length=200)
    allocation_run = models.OneToOneField(
        "optimizer.AllocationRun",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="campaign",
        help_text="The run that proposed it; one run yields at most one campaign.",
    )
    week_start = models.DateField(help_text="First day of the campaign week (retailer's time).")
    week_end = models.DateField(help_text="Last day of the campaign week, inclusive.")
    state = models.CharField(
        max_length=16, choices=CampaignState.choices, default=CampaignState.PROPOSED
    )
    budget = models.DecimalField(
        **MONEY_FIELD,
        validators=[MinValueValidator(0)],
        help_text="Expected-cost budget the allocation was solved for.",
    )
    spend_limit = models.DecimalField(
        **MONEY_FIELD,
        validators=[MinValueValidator(0)],
        help_text="Hard limit on the real cost of redeemed bonuses, enforced at redemption.",
    )
    spent = models.DecimalField(
        **MONEY_FIELD, help_text="Real cost of the bonuses redeemed so far."
    )
    control_share = models.DecimalField(
        max_digits=4,
        decimal_places=3,
        default=0.1,
        validators=[MinValueValidator(0), MaxValueValidator(0.5)],
    )
    estimator = models.CharField(
        max_length=255, blank=True, help_text="How the expected incremental value was estimated."
    )
    totals = models.JSONField(
        default=dict, blank=True, help_text="Expected cost, incremental revenue and margin, ROI."
    )
    breakdown = models.JSONField(
        default=dict, blank=True, help_text="Counts and totals by segment and by bonus type."
    )
    solver = models.JSONField(
        default=dict,
        blank=True,
        help_text="Status, method, objective, LP bound, gap, binding constraints, budget value.",
    )
    results = models.JSONField(
        default=dict, blank=True, help_text="Treated vs control results once measured."
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_comment = models.TextField(blank=True)
    issued_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-week_start", "-created_at"]
        constraints = [
            # The database, not only the redemption code, makes overspending impossible.
            models.CheckConstraint(
                condition=Q(spent__gte=0) & Q(spent__lte=F("spend_limit")),
                name="campaign_spent_within_limit",
            ),
            models.CheckConstraint(
                condition=Q(week_end__gte=F("week_start")), name="campaign_week_ordered"
            ),
        ]
        indexes = [models.Index(fields=["retailer", "state"], name="campaign_state_idx")]

    def __str__(self) -> str:
        return self.name


class CampaignMember(RetailerOwned):
    """A customer of a campaign: treated (with the bonus chosen for them) or held out as control.

    Control members keep the bonus type they would have received, so results compare like with
    like (treated vs would-have-been-treated).
    """

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="members")
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.CASCADE, related_name="campaign_memberships"
    )
    is_control = models.BooleanField(default=False)
    bonus_type = models.ForeignKey(
        "campaigns.BonusType",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    segment = models.CharField(max_length=64, blank=True)
    send_on = models.DateField(null=True, blank=True)
    expires_on = models.DateField(null=True, blank=True)
    expected_value = models.DecimalField(
        **MONEY_FIELD, help_text="Expected incremental margin minus expected cost."
    )
    expected_cost = models.DecimalField(**MONEY_FIELD)
    expected_revenue = models.DecimalField(**MONEY_FIELD, help_text="Expected incremental revenue.")
    redemption_probability = models.DecimalField(
        max_digits=5,
        decimal_places=4,
        default=0,
        validators=[MinValueValidator(0), MaxValueValidator(1)],
    )
    reason = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["campaign", "-expected_value"]
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "customer"], name="campaign_member_unique_customer"
            ),
            models.CheckConstraint(
                condition=Q(send_on__isnull=True)
                | Q(expires_on__isnull=True)
                | Q(expires_on__gte=F("send_on")),
                name="campaign_member_expiry_after_send",
            ),
        ]
        indexes = [
            models.Index(fields=["customer", "campaign"], name="campaign_member_customer_idx")
        ]

    def __str__(self) -> str:
        role = "control" if self.is_control else str(self.bonus_type_id)
        return f"{self.customer_id} in campaign #{self.campaign_id} ({role})"


class CampaignOffer(RetailerOwned):
    """A personalised product offer chosen for one campaign member (up to N per member).

    Control members keep the offers they would have received, never issued, so that the
    purchases of the offered products compare treated against control. Money is the expected
    amount per offer (probability of redemption x discount), split between retailer and supplier.
    """

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="offers")
    member = models.ForeignKey(CampaignMember, on_delete=models.CASCADE, related_name="offers")
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.CASCADE, related_name="campaign_offers"
    )
    product = models.ForeignKey("retailers.Product", on_delete=models.PROTECT, related_name="+")
    bonus_type = models.ForeignKey(
        "campaigns.BonusType", on_delete=models.PROTECT, related_name="campaign_offers"
    )
    rank = models.PositiveSmallIntegerField(help_text="1 for the member's best offer.")
    candidate_kind = models.CharField(
        max_length=16, blank=True, help_text="buy_again, try or popular (the recommender's)."
    )
    discount_percent = models.DecimalField(
        max_digits=5, decimal_places=2, validators=[MinValueValidator(0), MaxValueValidator(100)]
    )
    supplier = models.CharField(max_length=200, blank=True)
    redemption_probability = models.DecimalField(
        max_digits=5,
        decimal_places=4,
        default=0,
        validators=[MinValueValidator(0), MaxValueValidator(1)],
    )
    incremental_value = models.DecimalField(
        **MONEY_FIELD, help_text="Expected incremental margin (the recommender's estimate)."
    )
    expected_retailer_cost = models.DecimalField(**MONEY_FIELD)
    expected_supplier_cost = models.DecimalField(**MONEY_FIELD)
    expected_value = models.DecimalField(
        **MONEY_FIELD, help_text="Incremental value minus the retailer's expected cost."
    )
    reason = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["campaign", "member", "rank"]
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "customer", "product"], name="campaign_offer_unique_product"
            ),
        ]
        indexes = [
            models.Index(fields=["campaign", "product"], name="campaign_offer_product_idx"),
            models.Index(fields=["customer", "campaign"], name="campaign_offer_customer_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.product_id} for {self.customer_id} in campaign #{self.campaign_id}"
