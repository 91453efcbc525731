"""Recommendation runs: create (and queue), evaluate + fit, recommend chunk by chunk, finish.

The same lifecycle as scoring (``retailers.lifecycle``): ``recommendation_run_execute`` claims
the run, chooses the list it serves (recommender, popularity or buy-again baseline) on a
validation window before the holdout and calibrates P(buy anyway) there
(``optimizer.services.recommend_champion``), reports all three lists on the temporal holdout
(trained ``holdout_weeks`` before ``as_of``, scored on the purchases of those weeks), fits it
on everything before ``as_of``, saves the fitted recommender (with the served list and the
calibration) as a joblib artifact and splits the members into customer id ranges
(:class:`~optimizer.models.RecommendationChunk`), each served by its own
``optimizer.tasks.recommendation_chunk_task`` that any worker may take. A chunk replaces its
range's candidates in one transaction; the chunk that completes the set finishes the run.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import hashlib
import os
import time
from typing import TYPE_CHECKING, Any

import joblib
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from optimizer.engine.recommend.champion import calibration_points
from optimizer.engine.recommend.lists import serve
from optimizer.engine.recommend.model import RecommendConfig, Recommender, fit_recommender
from optimizer.exceptions import NothingToRecommend, RecommendationRunAlreadyActive
from optimizer.frames.common import CustomerFilter
from optimizer.frames.recommend import (
    member_segments_frame,
    offer_candidates_write,
    product_history_frame,
    products_frame,
)
from optimizer.models import OfferCandidate, RecommendationChunk, RecommendationRun
from optimizer.selectors import (
    customer_id_ranges,
    member_count,
    retailer_default_as_of,
    scoring_run_latest_succeeded,
)
from optimizer.services.artifacts import artifact_path
from optimizer.services.chunk_runs import (
    chunk_claim,
    chunk_complete,
    chunk_execute,
    chunk_timings_sum,
)
from optimizer.services.common import Progress, StageTimer, chunk_customers, json_ready
from optimizer.services.recommend_champion import day_number, recommendation_choose
from retailers.lifecycle import (
    RunKind,
    refusal,
    run_create,
    run_execute,
    run_finish,
    run_stage,
    task_enqueue,
)
from retailers.models import Retailer, RunStatus
from retailers.runs import ACTIVE_STATUSES

if TYPE_CHECKING:
    from loyalty_site.users import User

#: Share of the progress bar reached when the recommender is fitted; the chunks fill the rest.
FIT_PROGRESS = 40
CHUNK_STAGES: tuple[str, ...] = ("read", "recommend", "write")


def recommend_config(run: RecommendationRun) -> RecommendConfig:
    """The engine config of ``run``: defaults, ``settings.RECOMMEND_ENGINE_CONFIG`` (a dict),
    the run's ``top_k`` and its holdout weeks as the value horizon."""
    options = dict(getattr(settings, "RECOMMEND_ENGINE_CONFIG", {}))
    options["top_k"] = run.top_k
    if run.holdout_weeks:
        options["horizon_weeks"] = run.holdout_weeks
    return RecommendConfig(**options)


def _discard(run: RecommendationRun) -> None:
    OfferCandidate.objects.filter(run_id=run.pk).delete()


def _prepare(run: RecommendationRun) -> bool:
    RecommendationChunk.objects.filter(run=run).delete()
    OfferCandidate.objects.filter(run=run).delete()
    return False


RECOMMENDATION = RunKind(
    model=RecommendationRun,
    task="optimizer.tasks.recommendation_run_execute_task",
    first_stage="evaluating on the holdout",
    reset=("chunks_total", "chunks_done", "customers_done", "candidates_written", "metrics"),
    discard=_discard,
    prepare=_prepare,
)


@transaction.atomic(durable=True)
def recommendation_run_create(
    *,
    retailer: Retailer,
    as_of: dt.date | None = None,
    top_k: int = 10,
    holdout_weeks: int = 4,
    user: User | None = None,
    enqueue: bool = True,
) -> RecommendationRun:
    """Create a queued recommendation run of ``retailer`` and queue its execution.

    Args:
        as_of: recommendation date; default the day after the latest transaction.
        top_k: candidates per customer (1-50).
        holdout_weeks: weeks before ``as_of`` held out for the evaluation (0: none).
        enqueue: ``False`` for callers that execute it themselves (``recommend_offers --sync``).

    Raises:
        RecommendationRunAlreadyActive: a queued or running run of the retailer exists.
        NothingToRecommend: no transactions, or no members before ``as_of``.
        django.core.exceptions.ValidationError: ``top_k`` or ``holdout_weeks`` out of range.
    """
    if as_of is None:
        as_of = retailer_default_as_of(retailer=retailer)
        if as_of is None:
            raise NothingToRecommend(f"{retailer} has no transactions yet")
    if member_count(retailer=retailer, as_of=as_of) == 0:
        raise NothingToRecommend(f"{retailer} has no customers enrolled before {as_of}")
    return run_create(
        kind=RECOMMENDATION,
        run=RecommendationRun(
            retailer=retailer,
            as_of=as_of,
            top_k=top_k,
            holdout_weeks=holdout_weeks,
            created_by=user,
        ),
        active=RecommendationRun.objects.for_retailer(retailer).filter(status__in=ACTIVE_STATUSES),
        conflict=refusal(
            RecommendationRunAlreadyActive,
            raced=f"a recommendation run for {retailer} exists",
            active=lambda run: f"a recommendation run for {retailer} is active (run #{run.pk})",
        ),
        enqueue=enqueue,
    )


def recommendation_run_execute(
    *, run_id: int, inline: bool = False, progress: Progress | None = None
) -> RecommendationRun | None:
    """Execute a queued run: evaluate, fit, save, then recommend the chunks (here when
    ``inline``, else as queued tasks). Idempotent like scoring: a finished run is returned
    untouched; any error fails the run with its text, earlier runs' candidates stay."""
    chunks: list[int] = []

    def fit(run: RecommendationRun) -> None:
        chunks.extend(_fit_stage(run, inline=inline, progress=progress))

    run = run_execute(kind=RECOMMENDATION, run_id=run_id, step=fit)
    if run is None:
        return None
    for index in chunks if inline else []:
        recommendation_chunk_execute(
            run_id=run_id, attempt=run.attempt, index=index, progress=progress
        )
    return RecommendationRun.objects.filter(pk=run_id).first()


def _artifact_relative(run: RecommendationRun) -> str:
    return f"recommend/{run.retailer_id}/run-{run.pk}-attempt-{run.attempt}.joblib"


def _fit_stage(run: RecommendationRun, *, inline: bool, progress: Progress | None) -> list[int]:
    timer, retailer, config = StageTimer(), run.retailer, recommend_config(run)
    excluded = tuple(retailer.excluded_category_list)
    scoring = scoring_run_latest_succeeded(retailer=retailer)
    with timer("read"):
        products = products_frame(retailer=retailer)
        members = member_segments_frame(
            retailer=retailer, as_of=run.as_of, scoring_run_id=scoring.pk if scoring else None
        )
    metrics: dict[str, Any] = {"segments_from_scoring_run": scoring.pk if scoring else None}
    choice = None
    if run.holdout_weeks:
        run_stage(run, 5, "choosing the list on a validation window", progress)
        with timer("evaluate"):
            choice = recommendation_choose(
                run=run, products=products, members=members, excluded=excluded, config=config
            )
        metrics.update(choice.report)
    run_stage(run, 25, "fitting the recommender", progress)
    # Read after the evaluation, so that at most two histories are in memory at once.
    with timer("read"):
        history = product_history_frame(retailer=retailer, start=None, end=run.as_of)
    with timer("fit"):
        model = fit_recommender(
            history,
            products,
            members,
            as_of_day=day_number(run.as_of),
            excluded_categories=excluded,
            config=config,
        )
    del history
    if choice is not None:
        model = dataclasses.replace(model, served=choice.served, calibration=choice.calibration)
    with timer("save_model"):
        saved = _save(run, model)
    metrics["model"] = {
        **saved,
        "items": len(model.item_ids),
        "links": model.similarity.nnz,
        "served": model.served,
        "calibration_points": calibration_points(model.calibration),
    }
    ranges = customer_id_ranges(retailer=retailer, as_of=run.as_of, chunk_size=chunk_customers())
    with transaction.atomic():
        locked = RecommendationRun.objects.select_for_update(no_key=True).get(pk=run.pk)
        if locked.attempt != run.attempt or locked.status != RunStatus.RUNNING:
            return []
        RecommendationChunk.objects.bulk_create(
            RecommendationChunk(
                retailer=retailer,
                run=locked,
                index=index,
                first_customer_id=first,
                last_customer_id=last,
                customers=count,
            )
            for index, (first, last, count) in enumerate(ranges)
        )
        locked.metrics = json_ready(metrics)
        locked.chunks_total = len(ranges)
        locked.timings = timer.seconds
        locked.progress, locked.stage = FIT_PROGRESS, f"recommending {len(ranges)} chunk(s)"
        locked.save(update_fields=["metrics", "chunks_total", "timings", "progress", "stage"])
        if not ranges:
            run_finish(locked)
        elif not inline:
            for index in range(len(ranges)):
                task_enqueue(
                    "optimizer.tasks.recommendation_chunk_task", locked.pk, locked.attempt, index
                )
    return list(range(len(ranges)))


def _save(run: RecommendationRun, model: Recommender) -> dict[str, Any]:
    relative = _artifact_relative(run)
    path = artifact_path(relative)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    joblib.dump(model, partial)
    digest = hashlib.sha256(partial.read_bytes()).hexdigest()
    os.replace(partial, path)
    return {"path": relative, "sha256": digest, "size_bytes": path.stat().st_size}


@functools.lru_cache(maxsize=2)
def _load(relative: str, sha256: str) -> Recommender:
    path = artifact_path(relative)
    if hashlib.sha256(path.read_bytes()).hexdigest() != sha256:
        raise RuntimeError(f"recommender artifact {relative} does not match its checksum")
    model: Recommender = joblib.load(path)
    return model


def recommendation_chunk_execute(
    *, run_id: int, attempt: int, index: int, progress: Progress | None = None
) -> str:
    """Recommend chunk ``index`` of attempt ``attempt`` of a run; safe to deliver twice.

    Returns ``"succeeded"``, ``"failed"`` (the run is failed with the error) or why nothing
    was done (``"stale"``, ``"running"``, ``"succeeded"`` for a chunk already done).
    """
    chunk, why = chunk_claim(
        RecommendationChunk.objects.select_related("run", "run__retailer").filter(
            run_id=run_id, index=index
        ),
        attempt,
    )
    if chunk is None:
        return why
    return chunk_execute(RECOMMENDATION, chunk, lambda: _recommend_chunk(chunk, attempt, progress))


def _recommend_chunk(chunk: RecommendationChunk, attempt: int, progress: Progress | None) -> None:
    run, timer = chunk.run, StageTimer()
    saved = run.metrics["model"]
    model = _load(saved["path"], saved["sha256"])
    scoring_id = run.metrics.get("segments_from_scoring_run")
    selection = CustomerFilter(first_id=chunk.first_customer_id, last_id=chunk.last_customer_id)
    with timer("read"):
        members = member_segments_frame(
            retailer=run.retailer, as_of=run.as_of, scoring_run_id=scoring_id, customers=selection
        )
        history = product_history_frame(
            retailer=run.retailer, start=None, end=run.as_of, customers=selection
        )
    with timer("recommend"):
        candidates = serve(model, history, members, recommend_config(run))
    started = time.perf_counter()
    with transaction.atomic():
        OfferCandidate.objects.filter(
            run_id=run.pk,
            customer_id__gte=chunk.first_customer_id,
            customer_id__lte=chunk.last_customer_id,
        ).delete()
        written = offer_candidates_write(
            retailer_id=run.retailer_id, run_id=run.pk, candidates=candidates
        )
        locked = chunk_complete(
            chunk,
            attempt,
            timings={**timer.seconds, "write": round(time.perf_counter() - started, 3)},
            counters={"customers_done": len(members), "candidates_written": written},
            finalise=_finalise,
            verb="recommended",
        )
    if progress is not None:
        progress(locked.progress, locked.stage)


def _finalise(run: RecommendationRun) -> None:
    """Close a run whose chunks are all done (under its row lock): sum the chunk timings."""
    chunks = RecommendationChunk.objects.filter(run=run).values_list("timings", flat=True)
    timings = {**run.timings, **chunk_timings_sum(chunks, CHUNK_STAGES, suffix="_chunks")}
    if run.started_at is not None:
        timings["total"] = round((timezone.now() - run.started_at).total_seconds(), 3)
    run.timings = timings
    run_finish(run, fields=("timings",))
