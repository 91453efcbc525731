"""Writes of the optimizer app: scoring runs, their chunks and the model artifacts."""

from optimizer.services.artifacts import (
    SavedArtifact,
    scoring_artifact_delete,
    scoring_artifact_load,
    scoring_artifact_save,
)
from optimizer.services.chunks import scoring_chunk_execute, segment_profile_of
from optimizer.services.runs import (
    scoring_run_create,
    scoring_run_delete,
    scoring_run_execute,
    scoring_run_fail,
    scoring_run_prepare,
)

__all__ = [
    "SavedArtifact",
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
