"""Fixtures of the optimizer's Django-side tests (the engine's own live in engine/conftest.py)."""

from __future__ import annotations

import pytest

#: Small engine settings: the same code paths, a fraction of the time on tiny tenants.
FAST_ENGINE = {
    "max_iter": 25,
    "segment_k_max": 4,
    "segment_fit_sample": 2_000,
    "silhouette_sample": 500,
}


@pytest.fixture
def scoring_settings(settings, tmp_path):
    """Artifacts in a temporary folder, a fast engine config and the default chunk size."""
    settings.ARTIFACTS_DIR = tmp_path / "artifacts"
    settings.SCORING_ENGINE_CONFIG = FAST_ENGINE
    settings.SCORING_CHUNK_CUSTOMERS = 100_000
    return settings
