"""The chunk half of the run lifecycle: one customer-id range of a chunked run (scoring,
recommendations), claimed by one worker, done in one transaction, counted under the run's lock.

Each chunked run kind supplies only its work (read, compute, replace its range's rows) and its
finalise step; this module does the rest the same way for every kind:

* :func:`chunk_claim` locks the chunk and marks it running if this worker should do it;
* :func:`chunk_execute` runs the work as a lifecycle step of the run (a failure fails the run);
* :func:`chunk_complete`, inside the work's transaction, re-checks the run's attempt under its
  row lock (:class:`ChunkStale` rolls the chunk's rows back), marks the chunk done, adds its
  counters with ``F()`` and lets the chunk that completes the set, and only that one, finalise
  the run in the same transaction; the others move its progress bar;
* :func:`chunk_timings_sum` adds the chunks' stage timings up for the finalise step.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from django.db import models, transaction
from django.db.models import F
from django.utils import timezone

from optimizer.services.common import FIT_PROGRESS
from retailers.lifecycle import RunKind, run_step, state_claim
from retailers.models import RunStatus


class ChunkStale(Exception):
    """The run failed or moved to another attempt while this chunk was working."""


def chunk_claim(chunks: models.QuerySet[Any], attempt: int) -> tuple[Any | None, str]:
    """Lock the chunk of ``chunks`` (one row, its ``run`` selected) and mark it running.

    Returns ``(chunk, "")`` to go ahead, else ``(None, why)``: ``"stale"`` (the run finished,
    failed or restarted), ``"succeeded"`` (already done: a re-delivered task) or ``"running"``
    (another worker has it and is still beating).
    """

    def stale(chunk: Any) -> str:
        run = chunk.run
        return "stale" if run.attempt != attempt or run.status != RunStatus.RUNNING else ""

    with transaction.atomic():
        chunk, why = state_claim(chunks, guard=stale)
        if why:
            return None, "stale" if why in ("missing", RunStatus.FAILED) else why
        chunk.save(update_fields=["status", "started_at", "heartbeat_at", "finished_at"])
        type(chunk.run).objects.filter(pk=chunk.run_id).update(heartbeat_at=chunk.started_at)
    return chunk, ""


def chunk_execute(
    kind: RunKind,
    chunk: Any,
    work: Callable[[], None],
    *,
    describe: Callable[[Exception], tuple[str, dict[str, Any]]] | None = None,
) -> str:
    """Run ``work`` as a lifecycle step of the chunk's run; the chunk's outcome:
    ``"succeeded"``, ``"stale"`` (:class:`ChunkStale` raised) or ``"failed"`` (the run is
    failed with the error, and the chunk marked failed)."""
    outcome = "succeeded"

    def step(run: Any) -> None:
        nonlocal outcome
        try:
            work()
        except ChunkStale:
            outcome = "stale"

    extra = {"describe": describe} if describe is not None else {}
    if not run_step(kind, chunk.run, step, beat=(chunk,), **extra):
        type(chunk).objects.filter(pk=chunk.pk).update(status=RunStatus.FAILED)
        return "failed"
    return outcome


def chunk_complete(
    chunk: Any,
    attempt: int,
    *,
    timings: Mapping[str, float],
    counters: Mapping[str, int],
    finalise: Callable[[Any], None],
    verb: str,
) -> Any:
    """Count the chunk as done (call inside the transaction that wrote its rows); returns the
    run as locked and updated (its ``progress`` and ``stage`` for the caller's callback).

    ``counters``: run fields to increase (``{"customers_scored": 812}``); ``verb`` names the
    work in the run's stage ("scored 3 of 10 chunks").

    Raises:
        ChunkStale: the run is no longer running this attempt (rolls the caller's rows back).
    """
    run_model = type(chunk.run)
    locked = run_model.objects.select_for_update(no_key=True).get(pk=chunk.run_id)
    if locked.attempt != attempt or locked.status != RunStatus.RUNNING:
        raise ChunkStale
    now = timezone.now()
    chunk.status, chunk.finished_at, chunk.timings = RunStatus.SUCCEEDED, now, dict(timings)
    chunk.save(update_fields=["status", "finished_at", "timings"])
    increments = {field: F(field) + value for field, value in counters.items()}
    run_model.objects.filter(pk=locked.pk).update(
        chunks_done=F("chunks_done") + 1, heartbeat_at=now, **increments
    )
    locked.refresh_from_db(fields=["chunks_done", "chunks_total", *counters])
    if locked.chunks_done >= locked.chunks_total:
        finalise(locked)
    else:
        share = locked.chunks_done / max(locked.chunks_total, 1)
        locked.progress = min(99, FIT_PROGRESS + int((100 - FIT_PROGRESS) * share))
        locked.stage = f"{verb} {locked.chunks_done} of {locked.chunks_total} chunks"
        locked.save(update_fields=["progress", "stage"])
    return locked


def chunk_timings_sum(
    chunk_timings: Iterable[Mapping[str, Any]], stages: Iterable[str], suffix: str = ""
) -> dict[str, float]:
    """Each stage's seconds summed over the chunks, keyed ``stage + suffix``."""
    names = list(stages)
    out = {stage + suffix: 0.0 for stage in names}
    for timings in chunk_timings:
        for stage in names:
            out[stage + suffix] = round(out[stage + suffix] + float(timings.get(stage, 0.0)), 3)
    return out
