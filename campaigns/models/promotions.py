"""Weekly promotion proposals: which products to promote next week, with their evidence."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from loyalty_site.money import MONEY_FIELD
from retailers.tenancy import RetailerOwned


class ProposalState(models.TextChoices):
    """proposed -> approved | rejected | superseded."""

    PROPOSED = "proposed", "Proposed"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
    SUPERSEDED = "superseded", "Superseded by a re-run"


#: States in which a proposal is the week's current one; at most one per retailer and week.
CURRENT_PROPOSAL_STATES: tuple[str, ...] = (ProposalState.PROPOSED, ProposalState.APPROVED)


class PromotionProposal(RetailerOwned):
    """The proposed list of promoted products for one retailer and one week."""

    promotion_run = models.OneToOneField(
        "optimizer.PromotionRun",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="proposal",
    )
    week_start = models.DateField(help_text="Monday of the promoted week (retailer's time).")
    state = models.CharField(
        max_length=16, choices=ProposalState.choices, default=ProposalState.PROPOSED
    )
    options = models.JSONField(
        default=dict, blank=True, help_text="K, category cap, discount budget, pins, bans..."
    )
    totals = models.JSONField(default=dict, blank=True)
    solver = models.JSONField(default=dict, blank=True)
    backtest = models.JSONField(
        default=dict, blank=True, help_text="Latest backtest of the lift model (WAPE, bias)."
    )
    notes = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_comment = models.TextField(blank=True)

    class Meta:
        ordering = ["-week_start", "-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["retailer", "week_start"],
                condition=Q(state__in=CURRENT_PROPOSAL_STATES),
                name="promotion_proposal_one_current_per_week",
                violation_error_message="This week already has a current promotion proposal.",
            )
        ]

    def __str__(self) -> str:
        return f"Promotions for the week of {self.week_start} ({self.state})"


class PromotionItem(RetailerOwned):
    """One proposed product with its forecast and the reason it was chosen."""

    proposal = models.ForeignKey(PromotionProposal, on_delete=models.CASCADE, related_name="items")
    product = models.ForeignKey(
        "retailers.Product", on_delete=models.PROTECT, related_name="promotion_items"
    )
    rank = models.PositiveSmallIntegerField()
    pinned = models.BooleanField(default=False)
    discount_rate = models.DecimalField(max_digits=5, decimal_places=4, default=0)
    baseline_units = models.DecimalField(max_digits=12, decimal_places=2)
    promoted_units = models.DecimalField(max_digits=12, decimal_places=2)
    lift = models.DecimalField(max_digits=8, decimal_places=3, help_text="Promoted / baseline.")
    incremental_units = models.DecimalField(max_digits=12, decimal_places=2)
    incremental_revenue = models.DecimalField(**MONEY_FIELD)
    incremental_margin = models.DecimalField(**MONEY_FIELD)
    discount_cost = models.DecimalField(**MONEY_FIELD)
    on_hand = models.IntegerField(null=True, blank=True)
    stock_cover = models.DecimalField(
        max_digits=8,
        decimal_places=2,
        null=True,
        blank=True,
        help_text="Units on hand / promoted demand forecast.",
    )
    competitor_gap = models.DecimalField(
        max_digits=6,
        decimal_places=4,
        null=True,
        blank=True,
        help_text="(our price - competitor price) / competitor price.",
    )
    reach = models.PositiveIntegerField(default=0, help_text="Target customers who buy it.")
    reason = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["proposal", "rank"]
        constraints = [
            models.UniqueConstraint(
                fields=["proposal", "product"], name="promotion_item_unique_product"
            )
        ]

    def __str__(self) -> str:
        return f"{self.product_id} in proposal #{self.proposal_id}"
