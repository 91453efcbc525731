"""Writes of the optimizer app: scoring runs, their chunks and the model artifacts."""

from optimizer.services.artifacts import (
    SavedArtifact,
    scoring_artifact_delete,
    scoring_artifact_load,
    scoring_artifact_save,
)
from optimizer.services.chunks import scoring_chunk_execute, segment_profile_of
from optimizer.services.promotions import (
    PromotionError,
    PromotionRunAlreadyActive,
    PromotionWeekDecided,
    promotion_default_week,
    promotion_run_create,
    promotion_run_execute,
    promotion_run_fail,
    promotion_schedules_sync,
)
from optimizer.services.runs import (
    scoring_run_create,
    scoring_run_delete,
    scoring_run_execute,
    scoring_run_fail,
    scoring_run_prepare,
)

__all__ = [
    "PromotionError",
    "PromotionRunAlreadyActive",
    "PromotionWeekDecided",
    "SavedArtifact",
    "promotion_default_week",
    "promotion_run_create",
    "promotion_run_execute",
    "promotion_run_fail",
    "promotion_schedules_sync",
    "scoring_artifact_delete",
    "scoring_artifact_load",
    "scoring_artifact_save",
    "scoring_chunk_execute",
    "scoring_run_create",
    "scoring_run_delete",
    "scoring_run_execute",
    "scoring_run_fail",
    "scoring_run_prepare",
    "segment_profile_of",
]
