"""Scoring runs and their stored results: who is worth what, who is leaving, who responds to what.

A :class:`ScoringRun` is one background run of the scoring engine for one retailer at one
``as_of`` date (queued -> running -> succeeded | failed). Big tenants are scored in
:class:`ScoringChunk` s (customer id ranges) by separate tasks; the fitted model is saved once as a
joblib artifact recorded by :class:`ScoringModelVersion`; every scored customer gets one
:class:`CustomerScore` row per run, so that a customer's scores can be followed over time.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypedDict

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from loyalty_site.money import MONEY_DIGITS, MONEY_FIELD
from optimizer.engine.settings import (
    AllocationSettings,
    PromotionSettings,
    SettingsInvalid,
    budget_parse,
)
from retailers.runs import ACTIVE_STATUSES, BackgroundRun, RunState
from retailers.tenancy import RetailerOwned

#: Probabilities and shares are stored with four decimals (0.0000 - 1.0000).
Validator = Callable[[Any], None]


class _ProbabilityFieldKwargs(TypedDict):
    max_digits: int
    decimal_places: int
    validators: list[Validator]


PROBABILITY_FIELD: _ProbabilityFieldKwargs = {
    "max_digits": 5,
    "decimal_places": 4,
    "validators": [MinValueValidator(0), MaxValueValidator(1)],
}


class ScoringRun(BackgroundRun):
    """One run of the scoring engine for a retailer, with its progress, metrics and timings."""

    as_of = models.DateField(help_text="Scoring date: only data before this day is used.")
    horizon_weeks = models.PositiveSmallIntegerField(
        default=8, validators=[MinValueValidator(1), MaxValueValidator(52)]
    )
    chunks_total = models.PositiveIntegerField(default=0)
    chunks_done = models.PositiveIntegerField(default=0)
    customers_scored = models.PositiveIntegerField(default=0)
    bonus_types = models.JSONField(
        default=list, blank=True, help_text="Bonus type codes with a response score."
    )
    metrics = models.JSONField(
        default=dict, blank=True, help_text="Holdout metrics (models, BG/NBD, rules) and notes."
    )
    segment_profile = models.JSONField(
        default=list, blank=True, help_text="[{segment, size, share, KPI means}]"
    )
    segment_state = models.JSONField(
        null=True, blank=True, help_text="Centroids and names: keeps names stable next run."
    )

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["retailer"],
                condition=Q(status__in=ACTIVE_STATUSES),
                name="scoring_run_one_active_per_retailer",
                violation_error_message="This retailer already has a queued or running run.",
            )
        ]
        indexes = [models.Index(fields=["retailer", "-created_at"], name="scoring_run_recent_idx")]

    def __str__(self) -> str:
        return f"Scoring run #{self.pk} as of {self.as_of} ({self.status})"


class ScoringChunk(RetailerOwned, RunState):
    """A range of customer ids of a run, scored by one task (big tenants have many)."""

    run = models.ForeignKey(ScoringRun, on_delete=models.CASCADE, related_name="chunks")
    index = models.PositiveIntegerField()
    first_customer_id = models.BigIntegerField()
    last_customer_id = models.BigIntegerField()
    customers = models.PositiveIntegerField(help_text="Customers in the range.")

    class Meta:
        ordering = ["run", "index"]
        constraints = [
            models.UniqueConstraint(fields=["run", "index"], name="scoring_chunk_unique_index")
        ]

    def __str__(self) -> str:
        return f"chunk {self.index} of run #{self.run_id} ({self.status})"


class ScoringModelVersion(RetailerOwned):
    """The fitted engine model of a run, saved with joblib under ``settings.ARTIFACTS_DIR``.

    The model itself never goes into the database (STYLE rule 13): only where it is, its
    checksum and what it was trained with.
    """

    run = models.OneToOneField(ScoringRun, on_delete=models.CASCADE, related_name="model_version")
    artifact_path = models.CharField(max_length=500, help_text="Relative to ARTIFACTS_DIR.")
    sha256 = models.CharField(max_length=64)
    size_bytes = models.PositiveBigIntegerField(default=0)
    sklearn_version = models.CharField(max_length=32)
    feature_names = models.JSONField(default=list)
    training_customers = models.PositiveIntegerField(default=0)
    metrics = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"model of run #{self.run_id} ({self.sha256[:12]})"


class CustomerScore(RetailerOwned):
    """Scores of one customer in one run, with the KPIs they were computed from."""

    # The unique (run, customer) and (customer, run) indexes cover both foreign keys.
    run = models.ForeignKey(
        ScoringRun, on_delete=models.CASCADE, related_name="scores", db_index=False
    )
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.CASCADE, related_name="scores", db_index=False
    )
    churn_probability = models.DecimalField(**PROBABILITY_FIELD)
    p_alive = models.DecimalField("P(alive)", **PROBABILITY_FIELD)
    expected_visits = models.DecimalField(max_digits=8, decimal_places=2)
    expected_spend = models.DecimalField(**MONEY_FIELD)
    clv = models.DecimalField("CLV (52 weeks)", **MONEY_FIELD)
    responses = models.JSONField(
        default=dict, blank=True, help_text="{bonus type code: redemption probability}"
    )
    segment = models.CharField(max_length=64)
    reason = models.CharField(max_length=255, blank=True)
    # KPI snapshot at as_of.
    recency_days = models.PositiveIntegerField()
    frequency = models.PositiveIntegerField(help_text="Visits (days with a purchase) ever.")
    frequency_52w = models.PositiveIntegerField(help_text="Visits in the last 52 weeks.")
    monetary_52w = models.DecimalField(**MONEY_FIELD)
    avg_basket = models.DecimalField(**MONEY_FIELD)
    tenure_days = models.PositiveIntegerField()
    discount_share = models.DecimalField(**PROBABILITY_FIELD)
    offers_received = models.PositiveIntegerField(default=0)
    offers_redeemed = models.PositiveIntegerField(default=0)
    redemption_rate = models.DecimalField(**PROBABILITY_FIELD)

    class Meta:
        ordering = ["-run_id", "-customer_id"]
        constraints = [
            models.UniqueConstraint(fields=["run", "customer"], name="customer_score_unique")
        ]
        indexes = [models.Index(fields=["customer", "run"], name="customer_score_history_idx")]

    def __str__(self) -> str:
        return f"{self.customer_id} in run #{self.run_id}"


def validate_budget(value: Any) -> None:
    """The model's side of the one budget rule (:func:`optimizer.engine.settings.budget_parse`)."""
    try:
        budget_parse(value)
    except SettingsInvalid as exc:
        raise ValidationError(str(exc), code="budget") from exc


class AllocationRun(BackgroundRun):
    """One run of the allocation engine: a scoring run, a budget and rules in, a campaign out."""

    scoring_run = models.ForeignKey(
        ScoringRun, on_delete=models.PROTECT, related_name="allocation_runs"
    )
    week_start = models.DateField(help_text="First day of the campaign week.")
    budget = models.DecimalField(**MONEY_FIELD, validators=[validate_budget])
    spend_limit = models.DecimalField(
        **MONEY_DIGITS,
        default=None,
        null=True,
        blank=True,
        help_text="Hard limit on redeemed cost; empty: the budget.",
    )
    constraints = models.JSONField(
        default=dict,
        blank=True,
        help_text="Per-type caps, segment coverage minimums, excluded customers, bonus types...",
    )
    control_share = models.DecimalField(
        max_digits=4,
        decimal_places=3,
        default=0.1,
        validators=[MinValueValidator(0), MaxValueValidator(0.5)],
    )
    random_state = models.PositiveIntegerField(default=0)
    time_limit_seconds = models.PositiveIntegerField(default=120)
    replaces = models.ForeignKey(
        "campaigns.Campaign",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The proposal this re-run supersedes when it succeeds.",
    )
    result = models.JSONField(
        default=dict, blank=True, help_text="Solver status, objective, bound, gap, binding."
    )

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["retailer"],
                condition=Q(status__in=ACTIVE_STATUSES),
                name="allocation_run_one_active_per_retailer",
                violation_error_message="This retailer already has a queued or running allocation.",
            )
        ]

    def __str__(self) -> str:
        return f"Allocation run #{self.pk} for the week of {self.week_start} ({self.status})"

    @property
    def settings(self) -> AllocationSettings:
        """The run's typed settings: its columns and its ``constraints`` JSON (rows written
        before the typed settings parse the same way)."""
        return AllocationSettings.from_json(
            {
                **(self.constraints or {}),
                "budget": self.budget,
                "spend_limit": self.spend_limit,
                "control_share": self.control_share,
            }
        )


class PromotionRun(BackgroundRun):
    """One run of the promotion engine: a week's proposal, or a backtest of the lift model."""

    class Kind(models.TextChoices):
        PROPOSAL = "proposal", "Weekly proposal"
        BACKTEST = "backtest", "Backtest"

    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.PROPOSAL)
    week_start = models.DateField(null=True, blank=True, help_text="Proposals: the week.")
    options = models.JSONField(default=dict, blank=True)
    trigger = models.CharField(
        max_length=16, default="manual", help_text="manual, schedule or command."
    )
    result = models.JSONField(default=dict, blank=True, help_text="Solver or backtest figures.")

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["retailer", "kind", "week_start"],
                condition=Q(status__in=ACTIVE_STATUSES),
                name="promotion_run_one_active_per_week",
                violation_error_message="A run for this week is already queued or running.",
            )
        ]

    def __str__(self) -> str:
        return f"Promotion {self.kind} #{self.pk} ({self.status})"

    @property
    def settings(self) -> PromotionSettings:
        """The run's typed settings, parsed from ``options`` (older rows parse the same way)."""
        return PromotionSettings.from_json(self.options)


class RecommendationRun(BackgroundRun):
    """One run of the recommendation engine: per customer, the products worth an offer.

    It trains on the history before ``as_of`` and, when ``holdout_weeks`` > 0, first evaluates
    the same engine on a temporal holdout (trained before ``as_of - holdout_weeks``) against the
    popularity and "buy again" baselines; the figures land in ``metrics``.
    """

    as_of = models.DateField(help_text="Recommendation date: only data before this day is used.")
    top_k = models.PositiveSmallIntegerField(
        default=10, validators=[MinValueValidator(1), MaxValueValidator(50)]
    )
    holdout_weeks = models.PositiveSmallIntegerField(
        default=4,
        validators=[MaxValueValidator(26)],
        help_text="Weeks held out for the evaluation (0: no evaluation).",
    )
    chunks_total = models.PositiveIntegerField(default=0)
    chunks_done = models.PositiveIntegerField(default=0)
    customers_done = models.PositiveIntegerField(default=0)
    candidates_written = models.PositiveIntegerField(default=0)
    metrics = models.JSONField(
        default=dict, blank=True, help_text="Holdout table and incremental value."
    )

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["retailer"],
                condition=Q(status__in=ACTIVE_STATUSES),
                name="recommendation_run_one_active_per_retailer",
                violation_error_message="This retailer already has a queued or running run.",
            )
        ]

    def __str__(self) -> str:
        return f"Recommendation run #{self.pk} as of {self.as_of} ({self.status})"


class RecommendationChunk(RetailerOwned, RunState):
    """A range of customer ids of a recommendation run, recommended by one task."""

    run = models.ForeignKey(RecommendationRun, on_delete=models.CASCADE, related_name="chunks")
    index = models.PositiveIntegerField()
    first_customer_id = models.BigIntegerField()
    last_customer_id = models.BigIntegerField()
    customers = models.PositiveIntegerField(help_text="Customers in the range.")

    class Meta:
        ordering = ["run", "index"]
        constraints = [
            models.UniqueConstraint(
                fields=["run", "index"], name="recommendation_chunk_unique_index"
            )
        ]

    def __str__(self) -> str:
        return f"chunk {self.index} of recommendation run #{self.run_id} ({self.status})"


class OfferCandidate(RetailerOwned):
    """A product worth a personal offer to one customer, from one recommendation run.

    ``incremental_value`` is the expected incremental margin of an offer on it (before the
    discount's cost): (P(buy | offer) - P(buy anyway)) x unit margin; see
    docs/recommendations.md.
    """

    class Kind(models.TextChoices):
        BUY_AGAIN = "buy_again", "Buy again"
        TRY = "try", "Try"
        POPULAR = "popular", "Popular"

    run = models.ForeignKey(
        RecommendationRun, on_delete=models.CASCADE, related_name="candidates", db_index=False
    )
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.CASCADE, related_name="offer_candidates"
    )
    product = models.ForeignKey(
        "retailers.Product", on_delete=models.CASCADE, related_name="offer_candidates"
    )
    kind = models.CharField(max_length=16, choices=Kind.choices)
    score = models.FloatField()
    rank = models.PositiveSmallIntegerField(help_text="1 = best for this customer in this run.")
    incremental_value = models.DecimalField(**MONEY_FIELD)
    reason = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["run", "customer", "rank"]
        constraints = [
            models.UniqueConstraint(
                fields=["run", "customer", "product"], name="offer_candidate_unique_product"
            ),
            models.UniqueConstraint(
                fields=["run", "customer", "rank"], name="offer_candidate_unique_rank"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.product_id} for {self.customer_id} (#{self.rank}, run #{self.run_id})"
