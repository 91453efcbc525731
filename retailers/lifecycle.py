"""One lifecycle for every background run: create (exclusive), claim, stage and heartbeat, fail,
finish, abandoned-run detection and restart.

A run kind (:class:`RunKind`) names its model, its django-q2 task and what a new attempt resets;
its service supplies only the execute step (:func:`run_execute`). Every write that moves a run
is attempt-checked: a worker whose attempt was taken over or failed meanwhile changes nothing.

Heartbeats: every :func:`run_stage` call beats, and :func:`beating` beats from a thread while a
step runs, so a run whose worker died stops beating and is *abandoned* after
``RUN_ABANDONED_AFTER_SECONDS`` (default 300). An abandoned run no longer blocks new runs: the
next create, claim or restart fails it with a reason starting ``"abandoned:"``. A worker stopped
by SIGTERM (:class:`loyalty_site.workers.WorkerStopping`) fails its run the same way at once.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

from django.conf import settings
from django.db import IntegrityError, connections, models, transaction
from django.utils import timezone
from django_q.tasks import async_task

from loyalty_site.workers import WorkerStopping
from retailers.exceptions import RunNotRestartable
from retailers.runs import (
    ABANDONED,
    FINISHED_STATUSES,
    BackgroundRun,
    RunState,
    RunStatus,
    abandoned_after,
)

logger = logging.getLogger(__name__)

R = TypeVar("R", bound=BackgroundRun)
#: ``progress(percent, stage)``: told of every stage change (the ``--sync`` commands' bars).
Progress = Callable[[int, str], None]


def _no_discard(run: Any) -> None:
    return None


@dataclass(frozen=True)
class RunKind:
    """What the lifecycle needs to know of one kind of run.

    Attributes:
        model: the concrete :class:`BackgroundRun` model.
        task: dotted path of the django-q2 task that executes a run (takes the run id).
        first_stage: stage (and ``first_progress`` percent) a new attempt starts with.
        reset: further fields a new attempt sets back to their defaults (partial results).
        discard: drops what a failed or abandoned attempt wrote outside the run row (called
            after the failure commits, outside the row lock).
        prepare: called under the row lock when an attempt starts, to clear what an earlier
            attempt left; returns ``True`` when that attempt had in fact finished the work (the
            run is then marked succeeded instead of started again).
    """

    model: type[BackgroundRun]
    task: str
    first_stage: str = "starting"
    first_progress: int = 0
    reset: tuple[str, ...] = ()
    discard: Callable[[Any], None] = _no_discard
    prepare: Callable[[Any], bool] = field(default=lambda run: False)

    def enqueue(self, run_id: int) -> None:
        """Queue the run's task on the long queue once the current transaction commits."""
        task_enqueue(self.task, run_id)


def task_enqueue(task: str, *args: Any) -> None:
    """Queue ``task(*args)`` on the long queue once the current transaction commits."""
    transaction.on_commit(lambda: async_task(task, *args, cluster=settings.LONG_TASK_CLUSTER))


# --- Create ------------------------------------------------------------------------------------


def refusal(
    error: Callable[..., Exception], *, raced: str, active: Callable[[Any], str]
) -> Callable[[Any], Exception]:
    """The ``conflict`` of :func:`run_create`: ``error(active(run), run_id=run.pk)`` for a live
    run, ``error(raced)`` when the database constraint refused a concurrent second one."""

    def conflict(run: Any) -> Exception:
        return error(raced) if run is None else error(active(run), run_id=run.pk)

    return conflict


def run_create(
    *,
    kind: RunKind,
    run: R,
    active: models.QuerySet | None = None,
    conflict: Callable[[Any], Exception] = lambda active: RuntimeError("run refused"),
    enqueue: bool = True,
) -> R:
    """Save the new queued ``run`` unless a live run of ``active`` overlaps it; queue its task.

    ``active`` selects the runs the new one may not run beside (queued or running ones of the
    same retailer, week...). Abandoned ones among them are failed first; a live one raises
    ``conflict(that run)`` (``conflict(None)`` when a concurrent request won the race and the
    database constraint refused this one). ``active=None``: runs of this kind may overlap.
    Call inside the caller's transaction.
    """
    for other in active.select_for_update(no_key=True) if active is not None else ():
        if other.is_abandoned():
            _abandon(kind, other, "no worker reported progress")
        else:
            raise conflict(other)
    run.stage = run.stage or "queued"
    run.full_clean(validate_constraints=False)
    try:
        with transaction.atomic():
            run.save()
    except IntegrityError as exc:
        if active is None:
            raise
        raise conflict(active.first()) from exc
    if enqueue:
        kind.enqueue(run.pk)
    return run


# --- Failing and finishing ---------------------------------------------------------------------


def _set_failed(run: BackgroundRun, message: str, extra: Mapping[str, Any] | None) -> None:
    for name, value in (extra or {}).items():
        setattr(run, name, value)
    run.status, run.error, run.stage = RunStatus.FAILED, message, "failed"
    run.finished_at = timezone.now()
    run.save(update_fields=["status", "error", "stage", "finished_at", *(extra or {})])


def _abandon(kind: RunKind, run: BackgroundRun, why: str) -> None:
    """Fail an abandoned run (its row lock held); its partial output goes after the commit."""
    since = run.heartbeat_at or run.started_at
    when = f" since {timezone.localtime(since):%Y-%m-%d %H:%M:%S %Z}" if since else ""
    _set_failed(run, f"{ABANDONED}: {why}{when} (stage: {run.stage or 'none'})", None)
    transaction.on_commit(lambda: kind.discard(run))


def run_fail(
    *,
    kind: RunKind,
    run_id: int,
    attempt: int,
    message: str,
    extra: Mapping[str, Any] | None = None,
) -> bool:
    """Fail attempt ``attempt`` of a running run with ``message`` (and set the ``extra`` fields).

    The run's partial output is discarded after the status is committed. Returns ``False`` (and
    changes nothing) when the run finished or moved on to another attempt meanwhile.
    """
    with transaction.atomic():
        run = kind.model.objects.select_for_update(no_key=True).filter(pk=run_id).first()
        if run is None or run.attempt != attempt or run.status != RunStatus.RUNNING:
            return False
        _set_failed(run, message, extra)
    kind.discard(run)
    return True


def run_finish(
    run: BackgroundRun, *, fields: tuple[str, ...] = (), stage: str = "finished"
) -> None:
    """Mark ``run`` succeeded (the caller holds its row lock and set ``fields`` on it)."""
    run.status, run.progress, run.stage, run.error = RunStatus.SUCCEEDED, 100, stage, ""
    run.finished_at = run.heartbeat_at = timezone.now()
    run.save(
        update_fields=[
            "status",
            "progress",
            "stage",
            "error",
            "finished_at",
            "heartbeat_at",
            *fields,
        ]
    )


# --- Claim, stages and heartbeats --------------------------------------------------------------


def state_claim(
    queryset: models.QuerySet, *, guard: Callable[[Any], str] = lambda row: ""
) -> tuple[Any, str]:
    """Lock the one row of ``queryset`` and mark it running if this worker should work on it.

    Returns ``(row, "")`` to go ahead, else ``(row or None, why)``: ``"missing"``, what
    ``guard(row)`` objects, ``"succeeded"`` / ``"failed"`` (finished: a re-delivered task), or
    ``"running"`` (a live worker has it). A running row that is abandoned is taken over.
    Call inside a transaction.
    """
    row = queryset.select_for_update(no_key=True, of=("self",)).first()
    if row is None:
        return None, "missing"
    why = guard(row)
    if why:
        return row, why
    if row.status in FINISHED_STATUSES:
        return row, row.status
    now = timezone.now()
    if row.status == RunStatus.RUNNING and not row.is_abandoned(now):
        return row, "running"
    row.status, row.started_at, row.heartbeat_at = RunStatus.RUNNING, now, now
    row.finished_at = None
    return row, ""


#: What a new attempt sets on the run row (besides the kind's ``reset`` fields).
ATTEMPT_FIELDS: tuple[str, ...] = ("status", "started_at", "heartbeat_at", "finished_at", "attempt")
ATTEMPT_FIELDS += ("progress", "stage", "error", "timings")


def run_claim(kind: RunKind, run_id: int) -> tuple[Any, bool]:
    """Lock the run and start a new attempt if it is queued or abandoned.

    Returns ``(run, started)``; ``started`` is ``False`` when this worker must leave it alone.
    """
    with transaction.atomic():
        run, why = state_claim(kind.model.objects.filter(pk=run_id))
        if why:
            return run, False
        if kind.prepare(run):
            run.refresh_from_db()
            run_finish(run, stage="succeeded")  # an earlier attempt did the work, then died
            return run, False
        run.attempt += 1
        run.progress, run.stage, run.error = kind.first_progress, kind.first_stage, ""
        run.timings = {}
        for name in kind.reset:
            setattr(run, name, run._meta.get_field(name).get_default())
        run.save(update_fields=[*ATTEMPT_FIELDS, *kind.reset])
    return run, True


def run_stage(
    run: BackgroundRun, percent: int, stage: str, progress: Progress | None = None
) -> None:
    """Record the progress of ``run``'s attempt (a heartbeat too) and tell ``progress``."""
    type(run).objects.filter(pk=run.pk, attempt=run.attempt).update(
        progress=percent, stage=stage[:100], heartbeat_at=timezone.now()
    )
    if progress is not None:
        progress(percent, stage)


def _beat(rows: tuple[RunState, ...]) -> None:
    now = timezone.now()
    for row in rows:
        same = {"attempt": row.attempt} if isinstance(row, BackgroundRun) else {}
        type(row)._default_manager.filter(pk=row.pk, status=RunStatus.RUNNING, **same).update(
            heartbeat_at=now
        )


def beat_every() -> float:
    """Seconds between two beats of :func:`beating`: a fifth of the abandoned threshold."""
    return max(1.0, abandoned_after().total_seconds() / 5)


@contextmanager
def beating(*rows: RunState) -> Iterator[None]:
    """Beat the heartbeat of ``rows`` every :func:`beat_every` seconds while the block runs.

    The beats come from a thread with its own database connection, so that a long engine step
    (a fit, a solve) keeps its run alive. A beat that fails (a lock held by the step itself) is
    logged and tried again at the next one.
    """
    stop = threading.Event()

    def loop() -> None:
        try:
            while not stop.wait(beat_every()):
                try:
                    _beat(rows)
                except Exception:
                    logger.warning("heartbeat of %s failed", rows, exc_info=True)
        finally:
            connections.close_all()

    thread = threading.Thread(target=loop, name="run-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=30)


# --- Execute -----------------------------------------------------------------------------------


def _describe(exc: Exception) -> tuple[str, dict[str, Any]]:
    return f"{type(exc).__name__}: {exc}", {}


def run_step(
    kind: RunKind,
    run: BackgroundRun,
    step: Callable[[Any], None],
    *,
    describe: Callable[[Exception], tuple[str, dict[str, Any]]] = _describe,
    beat: tuple[RunState, ...] = (),
) -> bool:
    """Run ``step(run)`` for ``run``'s attempt, beating ``run`` (and ``beat``) meanwhile.

    An error fails the attempt with ``describe(error)`` (message, extra fields); a worker
    stopped by SIGTERM fails it as abandoned, so that it may be restarted. Returns ``True`` when
    the step returned.
    """
    try:
        with beating(run, *beat):
            step(run)
    except WorkerStopping:
        if not connections["default"].in_atomic_block:
            connections["default"].close()  # an interrupted query may have left it unusable
        stage = kind.model.objects.filter(pk=run.pk).values_list("stage", flat=True).first()
        message = f"{ABANDONED}: the worker was stopped (SIGTERM) during {stage or 'the run'!r}"
        run_fail(kind=kind, run_id=run.pk, attempt=run.attempt, message=message)
        logger.warning("%s #%s interrupted: its worker is stopping", kind.model.__name__, run.pk)
        return False
    except Exception as exc:
        logger.exception("%s #%s failed", kind.model.__name__, run.pk)
        message, extra = describe(exc)
        run_fail(kind=kind, run_id=run.pk, attempt=run.attempt, message=message, extra=extra)
        return False
    return True


def run_execute(
    *,
    kind: RunKind,
    run_id: int,
    step: Callable[[Any], None],
    describe: Callable[[Exception], tuple[str, dict[str, Any]]] = _describe,
) -> Any:
    """Claim run ``run_id`` and :func:`run_step` ``step`` on it; safe to deliver twice.

    A finished run is returned untouched, and so is one running on a live worker. ``step``
    finishes the run itself (:func:`run_finish`) once its work is written. Returns the run
    afterwards (``None`` if it does not exist).
    """
    run, started = run_claim(kind, run_id)
    if run is None or not started:
        return run
    run_step(kind, run, step, describe=describe)
    return kind.model.objects.filter(pk=run_id).first()


# --- Restart -----------------------------------------------------------------------------------


def run_requeue(
    *, kind: RunKind, run_id: int, conflict: Callable[[Any], Exception]
) -> tuple[Any, str]:
    """Queue an abandoned run again, as it is (same settings, next attempt).

    Returns the run and why it had been abandoned.

    A running run that stopped beating is failed as abandoned first. Call inside the caller's
    transaction (which records who restarted it).

    Raises:
        RunNotRestartable: the run did not die (it finished, failed on its own or is alive).
        ``conflict(None)``: another run it may not run beside is queued or running meanwhile.
    """
    run = kind.model.objects.select_for_update(no_key=True).get(pk=run_id)
    if run.is_abandoned():
        _abandon(kind, run, "no worker reported progress")
    if not run.was_abandoned:
        raise RunNotRestartable(
            f"run #{run.pk} is {run.status}: only a run whose worker died or was stopped can be "
            "restarted"
        )
    reason = run.error
    run.status, run.stage, run.progress, run.error = RunStatus.QUEUED, "queued", 0, ""
    run.finished_at = None
    try:
        with transaction.atomic():
            run.save(update_fields=["status", "stage", "progress", "error", "finished_at"])
    except IntegrityError as exc:
        raise conflict(None) from exc
    kind.enqueue(run.pk)
    return run, reason
