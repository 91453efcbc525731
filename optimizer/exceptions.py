"""Domain errors of the optimizer app (the scoring runs' glue; the engine has its own)."""

from __future__ import annotations


class ScoringError(Exception):
    """Base class of the scoring errors a person can act on."""


class ScoringRunAlreadyActive(ScoringError):
    """The retailer already has a queued or running scoring run (one at a time per retailer)."""

    def __init__(self, message: str, *, run_id: int | None = None) -> None:
        super().__init__(message)
        self.run_id = run_id


class NothingToScore(ScoringError):
    """The retailer has no customers (or no transactions) to score at the requested date."""


class ScoringArtifactInvalid(ScoringError):
    """A saved model file is missing or does not match its recorded checksum."""


class AllocationError(Exception):
    """Base class of the allocation errors a person can act on."""


class AllocationRunAlreadyActive(AllocationError):
    """The retailer already has a queued or running allocation run."""

    def __init__(self, message: str, *, run_id: int | None = None) -> None:
        super().__init__(message)
        self.run_id = run_id


class AllocationSettingsInvalid(AllocationError):
    """The budget, constraints or scoring run of an allocation request cannot be used;
    ``field`` names the setting at fault when there is one."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class PromotionError(Exception):
    """Base class of the promotion-run errors a person can act on."""


class PromotionRunAlreadyActive(PromotionError):
    """A run of this kind for this week is already queued or running."""

    def __init__(self, message: str, *, run_id: int | None = None) -> None:
        super().__init__(message)
        self.run_id = run_id


class PromotionWeekDecided(PromotionError):
    """The week already has an approved proposal: it is not proposed again."""
