"""Scoring one chunk (customer id range) of a run, and finalising the run after the last one.

Each chunk reads its customers' history, computes their features, scores them with the run's
saved model and replaces the run's rows of that id range, all in one transaction: a chunk is
idempotent, and a worker dying half-way wrote nothing. ``chunks_done`` is incremented with
``F()`` under the run's row lock, so the chunk that completes the set (and only that one) sees
it and finalises the run in the same transaction: status, progress 100, segment profile and
timings.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping
from typing import Any

from django.db import connection, transaction
from django.db.models import Avg, Count
from django.utils import timezone

from optimizer import frames
from optimizer.engine.features import compute_features
from optimizer.engine.scoring import PROFILE_COLUMNS, score_customers
from optimizer.models import CustomerScore, ScoringChunk, ScoringRun
from optimizer.services.artifacts import scoring_artifact_load
from optimizer.services.chunk_runs import (
    chunk_claim,
    chunk_complete,
    chunk_execute,
    chunk_timings_sum,
)
from optimizer.services.common import Progress, StageTimer
from optimizer.services.runs import SCORING
from retailers.lifecycle import run_finish

logger = logging.getLogger(__name__)

#: Stage timings summed over the chunks into the run's ``timings``.
CHUNK_STAGES: tuple[str, ...] = ("read", "features", "score", "write")
#: Means shown per segment: the engine's profile columns, all of them CustomerScore fields.
PROFILE_FIELDS: tuple[str, ...] = PROFILE_COLUMNS


def scoring_chunk_execute(
    *, run_id: int, attempt: int, index: int, progress: Progress | None = None
) -> str:
    """Score chunk ``index`` of attempt ``attempt`` of a run; safe to deliver twice.

    Returns the chunk's outcome: ``"succeeded"``, ``"failed"`` (the run is failed with the
    error and its partial scores dropped; as abandoned when the worker was stopped), or why
    nothing was done (``"stale"``, ``"running"``, ``"succeeded"`` for a chunk already scored).
    """
    chunk, why = chunk_claim(
        ScoringChunk.objects.select_related("run", "run__retailer", "run__model_version").filter(
            run_id=run_id, index=index
        ),
        attempt,
    )
    if chunk is None:
        return why

    def describe(exc: Exception) -> tuple[str, dict[str, Any]]:
        total = chunk.run.chunks_total
        return f"chunk {index + 1} of {total}: {type(exc).__name__}: {exc}", {}

    return chunk_execute(
        SCORING, chunk, lambda: _score_chunk(chunk, attempt, progress), describe=describe
    )


def _score_chunk(chunk: ScoringChunk, attempt: int, progress: Progress | None) -> None:
    run, timer = chunk.run, StageTimer()
    model = scoring_artifact_load(version=run.model_version)
    selection = frames.CustomerFilter(
        first_id=chunk.first_customer_id, last_id=chunk.last_customer_id
    )
    with timer("read"):
        data = frames.scoring_frames_read(
            retailer=run.retailer, as_of=run.as_of, customers=selection
        )
    with timer("features"):
        features = compute_features(
            data.baskets,
            data.customers,
            run.as_of,
            category_days=data.category_days,
            offers=data.offers,
            bonus_types=model.bonus_types,
        )
    del data
    with timer("score"):
        scores = score_customers(model, features)
    del features
    write_started = time.perf_counter()
    with transaction.atomic():
        CustomerScore.objects.filter(
            run_id=run.pk,
            customer_id__gte=chunk.first_customer_id,
            customer_id__lte=chunk.last_customer_id,
        ).delete()
        written = frames.customer_scores_write(
            retailer_id=run.retailer_id, run_id=run.pk, scores=scores, codes=run.bonus_types
        )
        _check_deferred_constraints()
        locked = chunk_complete(
            chunk,
            attempt,
            timings={**timer.seconds, "write": round(time.perf_counter() - write_started, 3)},
            counters={"customers_scored": written},
            finalise=_finalise,
            verb="scored",
        )
    if progress is not None:
        progress(locked.progress, locked.stage)


def _check_deferred_constraints() -> None:
    """Run PostgreSQL's deferred foreign-key checks of the new rows now, before the run's row
    lock is taken: left to the commit they would hold that lock for seconds while other chunks
    wait for it (and hit the lock timeout)."""
    connection.check_constraints()


def _number(value: Any) -> float | None:
    if value is None:
        return None
    return round(float(value), 4)


def segment_profile_of(run: ScoringRun) -> list[dict[str, Any]]:
    """Size, share and KPI means per segment of the run's stored scores, largest first."""
    # Mapping: the annotated KPI names are computed, so no TypedDict of the row lists them.
    rows: Iterable[Mapping[str, Any]] = (
        CustomerScore.objects.filter(run=run)
        .values("segment")
        .annotate(size=Count("pk"), **{f: Avg(f) for f in PROFILE_FIELDS})
        .order_by("-size", "segment")
    )
    total = sum(row["size"] for row in rows) or 1
    return [
        {
            "segment": row["segment"],
            "size": row["size"],
            "share": round(row["size"] / total, 4),
            **{f: _number(row[f]) for f in PROFILE_FIELDS},
        }
        for row in rows
    ]


def _finalise(run: ScoringRun) -> None:
    """Close a run whose chunks are all scored (called under its row lock)."""
    started = timezone.now()
    chunks = ScoringChunk.objects.filter(run=run).values_list("timings", flat=True)
    timings: dict[str, float] = {**run.timings, **chunk_timings_sum(chunks, CHUNK_STAGES)}
    run.segment_profile = segment_profile_of(run)
    now = timezone.now()
    timings["finalise"] = round((now - started).total_seconds(), 3)
    if run.started_at is None:  # never: a run is started before its chunks are queued
        raise RuntimeError(f"scoring run #{run.pk} has chunks but was never started")
    timings["total"] = round((now - run.started_at).total_seconds(), 3)
    run.timings = timings
    run_finish(run, fields=("segment_profile", "timings"))
