"""Scoring runs: create (and queue), execute the fit stage, fail.

A run goes queued -> running -> succeeded | failed. ``scoring_run_execute`` fits the engine once
on a sample of customers, saves the model as a joblib artifact and splits the members into
customer id ranges (:class:`~optimizer.models.ScoringChunk`), each scored by its own
``optimizer.tasks.scoring_chunk_task`` that any worker of the long queue may take (see
``chunks.py``); the chunk that completes the set finalises the run.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.utils import timezone

from optimizer import frames
from optimizer.engine.scoring import fit_scoring_models
from optimizer.exceptions import NothingToScore, ScoringRunAlreadyActive
from optimizer.models import CustomerScore, ScoringChunk, ScoringModelVersion, ScoringRun
from optimizer.selectors import (
    member_count,
    retailer_default_as_of,
    scoring_run_latest_succeeded,
)
from optimizer.services.artifacts import scoring_artifact_delete, scoring_artifact_save
from optimizer.services.common import (
    FIT_PROGRESS,
    RANDOM_STATE,
    Progress,
    StageTimer,
    engine_config,
)
from optimizer.services.scoring_fit import scoring_fit_record, training_sample_read
from retailers.lifecycle import (
    RunKind,
    refusal,
    run_create,
    run_execute,
    run_fail,
    run_stage,
)
from retailers.models import Retailer
from retailers.runs import ACTIVE_STATUSES

if TYPE_CHECKING:
    from loyalty_site.users import User

logger = logging.getLogger(__name__)


def _discard(run: ScoringRun) -> None:
    """A failed or abandoned attempt's partial scores go (earlier runs' stay)."""
    CustomerScore.objects.filter(run_id=run.pk).delete()


def _prepare(run: ScoringRun) -> bool:
    """Clear what an earlier attempt of ``run`` left: its model, chunks and scores."""
    old = ScoringModelVersion.objects.filter(run=run).first()
    if old is not None:
        transaction.on_commit(lambda: scoring_artifact_delete(relative=old.artifact_path))
        old.delete()
    ScoringChunk.objects.filter(run=run).delete()
    CustomerScore.objects.filter(run=run).delete()  # this run's rows only
    return False


SCORING = RunKind(
    model=ScoringRun,
    task="optimizer.tasks.scoring_run_execute_task",
    first_stage="reading the training sample",
    reset=(
        "chunks_total",
        "chunks_done",
        "customers_scored",
        "metrics",
        "segment_profile",
        "segment_state",
    ),
    discard=_discard,
    prepare=_prepare,
)


def _active_message(run: ScoringRun) -> str:
    if run.started_at is not None:
        when = f"started {timezone.localtime(run.started_at):%Y-%m-%d %H:%M %Z}"
    else:
        when = f"queued {timezone.localtime(run.created_at):%Y-%m-%d %H:%M %Z}"
    return f"a scoring run for {run.retailer} is already running (run #{run.pk}, {when})"


@transaction.atomic(durable=True)
def scoring_run_create(
    *,
    retailer: Retailer,
    as_of: Any = None,
    horizon_weeks: int = 8,
    user: User | None = None,
    enqueue: bool = True,
) -> ScoringRun:
    """Create a queued scoring run of ``retailer`` and queue its execution on the long queue.

    Args:
        retailer: the tenant to score.
        as_of: scoring date (a ``datetime.date``); default: the day after the retailer's latest
            transaction in its time zone.
        horizon_weeks: forecast horizon H (1-52 weeks).
        user: who asked (recorded as ``created_by``).
        enqueue: queue ``optimizer.tasks.scoring_run_execute_task`` once the transaction
            commits; ``False`` for callers that execute it themselves (``score --sync``).

    A running run whose workers stopped beating (``RUN_ABANDONED_AFTER_SECONDS``) is failed as
    abandoned first (its tasks died or were lost), so that it does not block the retailer.

    Raises:
        ScoringRunAlreadyActive: the retailer already has a queued or running run.
        NothingToScore: no transactions (for the default date) or no customers enrolled before
            ``as_of``.
        django.core.exceptions.ValidationError: a bad horizon or date.
    """
    if as_of is None:
        as_of = retailer_default_as_of(retailer=retailer)
        if as_of is None:
            raise NothingToScore(f"{retailer} has no transactions yet: import them before scoring")
    if member_count(retailer=retailer, as_of=as_of) == 0:
        raise NothingToScore(f"{retailer} has no customers enrolled before {as_of}")
    return run_create(
        kind=SCORING,
        run=ScoringRun(
            retailer=retailer, as_of=as_of, horizon_weeks=horizon_weeks, created_by=user
        ),
        active=ScoringRun.objects.for_retailer(retailer).filter(status__in=ACTIVE_STATUSES),
        conflict=refusal(
            ScoringRunAlreadyActive,
            raced=f"a scoring run for {retailer} exists",
            active=_active_message,
        ),
        enqueue=enqueue,
    )


def scoring_run_fail(*, run_id: int, attempt: int, message: str) -> bool:
    """Fail attempt ``attempt`` of a running run; earlier runs and their scores are untouched.

    The run's partial scores are dropped after the status is committed: a chunk still writing
    checks the status under the run's row lock before it commits, so it finds the run failed
    and rolls back, and the row lock is not held while the rows are deleted.

    Returns ``False`` (and changes nothing) when the run finished or moved on to another
    attempt meanwhile.
    """
    return run_fail(kind=SCORING, run_id=run_id, attempt=attempt, message=message)


@transaction.atomic
def scoring_run_delete(*, run: ScoringRun) -> None:
    """Delete a run with its scores, chunks and model record, and its artifact file (once the
    deletion commits). Other runs are untouched."""
    version = ScoringModelVersion.objects.filter(run=run).first()
    if version is not None:
        relative = version.artifact_path
        transaction.on_commit(lambda: scoring_artifact_delete(relative=relative))
    CustomerScore.objects.filter(run=run).delete()
    run.delete()


def scoring_run_prepare(
    *, run_id: int, enqueue_chunks: bool = True, progress: Progress | None = None
) -> tuple[ScoringRun | None, list[int]]:
    """Claim a run and do its fit stage: read the training sample, fit, save the model and plan
    the chunks (queued as ``scoring_chunk_task`` s on commit when ``enqueue_chunks``).

    Returns:
        ``(run, chunk indexes)``: the indexes are for a caller that scores the chunks itself
        (``enqueue_chunks=False``); empty when this worker must leave the run alone (finished,
        or running on a live worker) or the fit failed (the run is then failed with the error).
    """
    chunks: list[int] = []

    def fit(run: ScoringRun) -> None:
        chunks.extend(_fit_stage(run, inline=not enqueue_chunks, progress=progress))

    run = run_execute(kind=SCORING, run_id=run_id, step=fit)
    return run, [] if enqueue_chunks else chunks


def scoring_run_execute(
    *, run_id: int, inline: bool = False, progress: Progress | None = None
) -> ScoringRun | None:
    """Execute a queued run: fit once, save the model, then score the chunks.

    Idempotent: a finished run is returned untouched, and so is a running one unless its
    workers are dead (no heartbeat for the long queue's timeout), in which case this attempt
    takes it over and starts again, replacing only this run's own scores. Any error ends the
    run as failed with the error text; earlier runs and their scores stay as they were.

    Args:
        run_id: the :class:`ScoringRun` to execute.
        inline: score the chunks here, one after the other, instead of queueing a
            ``scoring_chunk_task`` per chunk (``score --sync``).
        progress: called with ``(percent, stage)`` at every stage.

    Returns:
        The run as it is afterwards (``None`` if it does not exist).
    """
    from optimizer.services.chunks import scoring_chunk_execute

    run, chunks = scoring_run_prepare(run_id=run_id, enqueue_chunks=not inline, progress=progress)
    if run is None:
        return None
    for index in chunks:
        scoring_chunk_execute(run_id=run_id, attempt=run.attempt, index=index, progress=progress)
    return ScoringRun.objects.get(pk=run_id)


def _fit_stage(run: ScoringRun, *, inline: bool, progress: Progress | None) -> list[int]:
    """Read the training sample, fit, save the model and plan the chunks; returns their
    indexes (queued as tasks on commit unless ``inline``)."""
    timer, config, retailer = StageTimer(), engine_config(), run.retailer
    run_stage(run, 1, "reading the training sample", progress)
    with timer("read_sample"):
        sample = training_sample_read(run=run, max_customers=config.max_train_customers)
    ranges = sample.ranges
    run_stage(run, 5, "fitting the models", progress)
    previous = scoring_run_latest_succeeded(retailer=retailer, exclude_id=run.pk)
    with timer("fit"):
        model = fit_scoring_models(
            baskets=sample.baskets,
            customers=sample.customers,
            category_days=sample.category_days,
            offers=sample.offers,
            bonus_types=frames.bonus_type_codes(retailer=retailer),
            as_of=run.as_of,
            horizon_weeks=run.horizon_weeks,
            random_state=RANDOM_STATE,
            config=config,
            previous_segments=previous.segment_state if previous else None,
        )
    del sample
    run_stage(run, FIT_PROGRESS - 2, "saving the model", progress)
    with timer("save_model"):
        saved = scoring_artifact_save(run=run, model=model)
    recorded = scoring_fit_record(
        run=run, model=model, saved=saved, ranges=ranges, timings=timer.seconds, inline=inline
    )
    if not recorded:
        return []  # failed or taken over meanwhile: this attempt's work is void
    if progress is not None:
        progress(FIT_PROGRESS, f"scoring {len(ranges)} chunk(s)")
    return list(range(len(ranges)))
