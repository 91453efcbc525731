"""Helpers shared by the scoring services: settings, timers, JSON-ready values."""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
from django.conf import settings

from optimizer.engine.types import ScoringConfig
from retailers.lifecycle import Progress

#: Seed of every sample and estimator of a run: the same data gives the same scores.
RANDOM_STATE = 0
#: Customers per chunk task unless ``settings.SCORING_CHUNK_CUSTOMERS`` says otherwise.
DEFAULT_CHUNK_CUSTOMERS = 100_000
#: Share of the progress bar reached when the model is fitted; the chunks fill the rest.
FIT_PROGRESS = 30

__all__ = ["Progress"]  # re-exported: the lifecycle's progress callback type


def chunk_customers() -> int:
    """Customers per chunk task (``settings.SCORING_CHUNK_CUSTOMERS``, default 100,000)."""
    return int(getattr(settings, "SCORING_CHUNK_CUSTOMERS", DEFAULT_CHUNK_CUSTOMERS))


def engine_config() -> ScoringConfig:
    """The engine config: defaults, overridden by ``settings.SCORING_ENGINE_CONFIG`` (a dict)."""
    return ScoringConfig(**getattr(settings, "SCORING_ENGINE_CONFIG", {}))


def json_ready(value: Any) -> Any:
    """``value`` with numpy scalars and arrays turned into Python ones and NaN/inf into None."""
    if isinstance(value, dict):
        return {str(key): json_ready(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [json_ready(item) for item in value]
    if isinstance(value, np.ndarray):
        return json_ready(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


class StageTimer:
    """Wall-clock seconds per named stage (a stage timed twice adds up)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextmanager
    def __call__(self, stage: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            elapsed = time.perf_counter() - start
            self.seconds[stage] = round(self.seconds.get(stage, 0.0) + elapsed, 3)
