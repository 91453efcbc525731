"""The two database ends of a scoring run's fit stage: reading the training sample, and recording
the fitted model with the chunk plan.

The fit itself (``fit_scoring_models``) and the stage order stay in :mod:`optimizer.services.runs`
(``_fit_stage``); these helpers keep that function a list of its timed stages.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from django.db import transaction
from django.utils import timezone

from optimizer import frames
from optimizer.engine.types import ScoringModel
from optimizer.exceptions import NothingToScore
from optimizer.models import ScoringChunk, ScoringModelVersion, ScoringRun
from optimizer.selectors import customer_id_ranges
from optimizer.services.artifacts import SavedArtifact
from optimizer.services.common import FIT_PROGRESS, RANDOM_STATE, chunk_customers, json_ready
from retailers.lifecycle import task_enqueue
from retailers.models import RunStatus


@dataclass(frozen=True)
class TrainingSample:
    """What the fit reads (see ``fit_scoring_models``) and the chunk plan of the whole run."""

    customers: pd.DataFrame
    baskets: pd.DataFrame
    category_days: pd.DataFrame
    offers: pd.DataFrame
    ranges: list[tuple[int, int, int]]


def _training_filter(member_ids: np.ndarray, limit: int) -> frames.CustomerFilter:
    """All customers, or the same seeded sample ``fit_scoring_models`` would draw."""
    if member_ids.size <= limit:
        return frames.ALL_CUSTOMERS
    rng = np.random.default_rng(RANDOM_STATE)
    sample = np.sort(rng.choice(member_ids, size=limit, replace=False))
    return frames.CustomerFilter(ids=tuple(int(i) for i in sample))


def _notes(metrics: dict[str, Any]) -> list[str]:
    """One readable line per model: what served it (the model or which fallback) and why."""
    notes = [f"{target}: {why}" for target, why in metrics.get("status", {}).items()]
    holdout = metrics.get("holdout", {})
    if holdout.get("status") not in (None, "ok"):
        notes.append(f"holdout {holdout['status']}")
    return notes


def training_sample_read(*, run: ScoringRun, max_customers: int) -> TrainingSample:
    """Read the members at ``run.as_of``, draw the training sample (at most ``max_customers``)
    and its history, and split all members into chunk ranges.

    Raises:
        NothingToScore: no customer was enrolled before ``run.as_of``.
    """
    retailer, as_of = run.retailer, run.as_of
    members = frames.customers_frame(retailer=retailer, as_of=as_of)
    if members.empty:
        raise NothingToScore(f"{retailer} has no customers enrolled before {as_of}")
    sample = _training_filter(members["customer_id"].to_numpy(), max_customers)
    customers = members[members["customer_id"].isin(sample.ids)] if sample.ids else members
    baskets, category_days = frames.history_frames(retailer=retailer, as_of=as_of, customers=sample)
    offers = frames.offers_frame(retailer=retailer, as_of=as_of, customers=sample)
    ranges = customer_id_ranges(retailer=retailer, as_of=as_of, chunk_size=chunk_customers())
    return TrainingSample(
        customers=customers,
        baskets=baskets,
        category_days=category_days,
        offers=offers,
        ranges=ranges,
    )


def scoring_fit_record(
    *,
    run: ScoringRun,
    model: ScoringModel,
    saved: SavedArtifact,
    ranges: list[tuple[int, int, int]],
    timings: dict[str, float],
    inline: bool,
) -> bool:
    """Record the fitted model and the chunk plan on ``run``, and queue the chunks (on commit)
    unless ``inline``.

    Returns ``False`` (and writes nothing) when this attempt is void: the run failed or another
    attempt took it over meanwhile.
    """
    metrics = json_ready(model.metrics)
    with transaction.atomic():
        locked = ScoringRun.objects.select_for_update(no_key=True).get(pk=run.pk)
        if locked.attempt != run.attempt or locked.status != RunStatus.RUNNING:
            return False
        ScoringModelVersion.objects.create(
            retailer=run.retailer,
            run=locked,
            artifact_path=saved.path,
            sha256=saved.sha256,
            size_bytes=saved.size_bytes,
            sklearn_version=model.sklearn_version,
            feature_names=list(model.feature_columns),
            training_customers=int(metrics.get("counts", {}).get("training_customers", 0)),
            metrics=metrics,
        )
        ScoringChunk.objects.bulk_create(
            ScoringChunk(
                retailer=run.retailer,
                run=locked,
                index=index,
                first_customer_id=first,
                last_customer_id=last,
                customers=count,
            )
            for index, (first, last, count) in enumerate(ranges)
        )
        _run_planned(locked, model=model, metrics=metrics, chunks=len(ranges), timings=timings)
        if not inline:
            for index in range(len(ranges)):
                task_enqueue("optimizer.tasks.scoring_chunk_task", locked.pk, locked.attempt, index)
    return True


def _run_planned(
    locked: ScoringRun,
    *,
    model: ScoringModel,
    metrics: dict[str, Any],
    chunks: int,
    timings: dict[str, float],
) -> None:
    """Save the fit's results on the (locked) run and move it on to scoring its chunks."""
    locked.metrics = {**metrics, "notes": _notes(metrics)}
    locked.segment_state = json_ready(model.segments.state()) if model.segments else None
    locked.bonus_types = list(model.bonus_types)
    locked.chunks_total = chunks
    locked.timings = timings
    locked.progress = FIT_PROGRESS
    locked.stage = f"scoring {chunks} chunk(s)"
    locked.heartbeat_at = timezone.now()
    locked.save(
        update_fields=[
            "metrics",
            "segment_state",
            "bonus_types",
            "chunks_total",
            "timings",
            "progress",
            "stage",
            "heartbeat_at",
        ]
    )
