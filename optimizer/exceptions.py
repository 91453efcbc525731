"""Domain errors of the optimizer app (the runs' glue; the engine has its own).

Each class is one answer (``code``, HTTP ``status``) of the one error model,
:class:`loyalty_site.errors.ApplicationError`.
"""

from __future__ import annotations

from loyalty_site.errors import ApplicationError


class _RunAlreadyActive:
    """Mixin of the "one run at a time" errors: ``run_id`` names the run to follow instead."""

    def __init__(self, message: str, *, run_id: int | None = None) -> None:
        super().__init__(message)  # type: ignore[call-arg]
        self.run_id = run_id


class ScoringError(ApplicationError):
    """Base class of the scoring errors a person can act on."""

    code = "scoring_error"
    status = 409


class ScoringRunAlreadyActive(_RunAlreadyActive, ScoringError):
    """The retailer already has a queued or running scoring run (one at a time per retailer)."""

    code = "scoring_run_active"


class NothingToScore(ScoringError):
    """The retailer has no customers (or no transactions) to score at the requested date."""

    code = "nothing_to_score"


class ScoringArtifactInvalid(ScoringError):
    """A saved model file is missing or does not match its recorded checksum."""

    # The server's own files are broken: nothing the client can change, so a 5xx.
    code = "scoring_artifact_invalid"
    status = 500


class AllocationError(ApplicationError):
    """Base class of the allocation errors a person can act on."""

    code = "allocation_error"
    status = 400


class AllocationRunAlreadyActive(_RunAlreadyActive, AllocationError):
    """The retailer already has a queued or running allocation run."""

    code = "allocation_run_active"
    status = 409


class AllocationSettingsInvalid(AllocationError):
    """The budget, constraints or scoring run of an allocation request cannot be used;
    ``field`` names the setting at fault when there is one."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field

    code = "allocation_settings_invalid"
    status = 400


class PromotionError(ApplicationError):
    """Base class of the promotion-run errors a person can act on."""

    code = "promotion_error"
    status = 409


class PromotionRunAlreadyActive(_RunAlreadyActive, PromotionError):
    """A run of this kind for this week is already queued or running."""

    code = "promotion_run_active"


class PromotionWeekDecided(PromotionError):
    """The week already has an approved proposal: it is not proposed again."""

    code = "promotion_week_decided"


class OffersUnavailable(ApplicationError):
    """Personalised offers cannot be chosen: no candidate, no product-offer type, or a budget
    that the required generic bonuses alone exceed."""

    code = "offers_unavailable"
    status = 409


class RecommendationError(ApplicationError):
    """Base class of the recommendation-run errors a person can act on."""

    code = "recommendation_error"
    status = 409


class RecommendationRunAlreadyActive(_RunAlreadyActive, RecommendationError):
    """The retailer already has a queued or running recommendation run."""

    code = "recommendation_run_active"


class NothingToRecommend(RecommendationError):
    """The retailer has no transactions (or no members) before the requested date."""

    code = "nothing_to_recommend"
