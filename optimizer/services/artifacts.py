"""Fitted models as joblib files under ``settings.ARTIFACTS_DIR`` (never in database fields)."""

from __future__ import annotations

import functools
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import joblib
from django.conf import settings

from optimizer.engine.types import ScoringModel
from optimizer.exceptions import ScoringArtifactInvalid
from optimizer.models import ScoringModelVersion, ScoringRun


@dataclass(frozen=True)
class SavedArtifact:
    """Where a model was saved (relative to ``ARTIFACTS_DIR``), its checksum and size."""

    path: str
    sha256: str
    size_bytes: int


def _digest(path: Path) -> str:
    sha = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            sha.update(block)
    return sha.hexdigest()


def artifact_path(relative: str) -> Path:
    """Absolute path of an artifact recorded as ``relative``."""
    return Path(settings.ARTIFACTS_DIR) / relative


def scoring_artifact_save(*, run: ScoringRun, model: ScoringModel) -> SavedArtifact:
    """Save ``model`` for attempt ``run.attempt`` of ``run``; written to a temporary file and
    renamed, so a reader never sees half a file."""
    relative = f"scoring/{run.retailer_id}/run-{run.pk}-attempt-{run.attempt}.joblib"
    path = artifact_path(relative)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    joblib.dump(model, partial)
    digest = _digest(partial)
    os.replace(partial, path)
    return SavedArtifact(path=relative, sha256=digest, size_bytes=path.stat().st_size)


def scoring_artifact_delete(*, relative: str) -> None:
    """Remove an artifact file if it is there (a run restarted from scratch replaces it)."""
    artifact_path(relative).unlink(missing_ok=True)


@functools.lru_cache(maxsize=2)
def _load(path: str, sha256: str) -> ScoringModel:
    file = Path(path)
    if not file.is_file():
        raise ScoringArtifactInvalid(f"model file {path} is missing")
    if _digest(file) != sha256:
        raise ScoringArtifactInvalid(f"model file {path} does not match its recorded sha256")
    model = joblib.load(file)
    if not isinstance(model, ScoringModel):
        raise ScoringArtifactInvalid(f"{path} does not hold a scoring model")
    return model


def scoring_artifact_load(*, version: ScoringModelVersion) -> ScoringModel:
    """The model recorded by ``version``, checked against its sha256 (cached per process: a
    worker scoring several chunks of one run loads it once).

    Raises:
        ScoringArtifactInvalid: the file is missing, altered, or not a scoring model.
    """
    return _load(str(artifact_path(version.artifact_path)), version.sha256)
