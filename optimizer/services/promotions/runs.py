"""Promotion runs: create (and queue), claim, fail and execute; see the package docstring."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django_q.tasks import async_task

from campaigns.models import (
    CURRENT_PROPOSAL_STATES,
    PromotionProposal,
    ProposalState,
)
from optimizer.engine.promotions import (
    InfeasiblePromotion,
)
from optimizer.exceptions import PromotionRunAlreadyActive, PromotionWeekDecided
from optimizer.models import ACTIVE_STATUSES, PromotionRun
from optimizer.services.common import Progress, run_is_abandoned
from optimizer.services.promotions.config import (
    EXECUTE_TASK,
    promotion_default_week,
    promotion_options_clean,
)
from optimizer.services.promotions.execute import execute_backtest_stage, execute_proposal_stage
from retailers.models import Retailer, RunStatus

logger = logging.getLogger(__name__)


def current_proposal(*, retailer: Retailer, week_start: dt.date) -> PromotionProposal | None:
    """The week's proposed or approved proposal, if any."""
    return (
        PromotionProposal.objects.for_retailer(retailer)
        .filter(week_start=week_start, state__in=CURRENT_PROPOSAL_STATES)
        .first()
    )


def _active(retailer: Retailer, kind: str, week_start: dt.date) -> PromotionRun | None:
    runs = PromotionRun.objects.for_retailer(retailer).filter(kind=kind, week_start=week_start)
    return runs.filter(status__in=ACTIVE_STATUSES).first()


def _enqueue(run_id: int) -> None:
    async_task(EXECUTE_TASK, run_id, cluster=settings.LONG_TASK_CLUSTER)


@transaction.atomic
def promotion_run_create(
    *,
    retailer: Retailer,
    week_start: dt.date | None = None,
    options: dict[str, Any] | None = None,
    kind: str = PromotionRun.Kind.PROPOSAL,
    trigger: str = "manual",
    user: Any = None,
    enqueue: bool = True,
    now: dt.datetime | None = None,
) -> PromotionRun | None:
    """Create a queued promotion run and queue its execution on the long queue (on commit).

    Args:
        retailer: the tenant.
        week_start: Monday of the week to propose (a backtest replays the weeks before it);
            default :func:`promotion_default_week`.
        options: ``k``, ``max_per_category`` (``None``: no cap), ``discount_budget``,
            ``recent_weeks``, ``pinned`` / ``banned`` (SKUs), ``segments`` (target segments of
            the reach; ``None``: all customers), ``backtest_weeks``; see :data:`DEFAULT_OPTIONS`.
        kind: ``"proposal"`` or ``"backtest"``.
        trigger: ``"manual"``, ``"schedule"`` or ``"command"``.
        user: who asked (``created_by``; four eyes compare the approver with it).
        enqueue: ``False`` for callers that execute the run themselves (``--sync``).

    Returns:
        The run; ``None`` when ``trigger="schedule"`` and the week already has a current
        proposal or an active run (the schedule fired twice: nothing to do).

    Raises:
        PromotionRunAlreadyActive: a run of this kind for the week is queued or running.
        PromotionWeekDecided: the week's proposal is already approved.
        ValidationError: bad options, SKUs or a week that is not a Monday.
    """
    week = week_start or promotion_default_week(retailer=retailer, now=now)
    if week.weekday() != 0:
        raise ValidationError({"week_start": f"{week} is not a Monday."})
    cleaned = promotion_options_clean(retailer=retailer, options=options)
    scheduled = trigger == "schedule"
    if kind == PromotionRun.Kind.PROPOSAL:
        current = current_proposal(retailer=retailer, week_start=week)
        if current is not None and scheduled:
            return None
        if current is not None and current.state == ProposalState.APPROVED:
            raise PromotionWeekDecided(f"the week of {week} already has an approved proposal")
    active = _active(retailer, kind, week)
    if active is not None and run_is_abandoned(active):
        _fail(active, "abandoned: no worker reported progress within the long queue's timeout")
        active = None
    if active is not None:
        if scheduled:
            return None
        raise PromotionRunAlreadyActive(
            f"promotion {kind} run #{active.pk} for the week of {week} is {active.status}",
            run_id=active.pk,
        )
    run = PromotionRun(
        retailer=retailer,
        kind=kind,
        week_start=week,
        options=cleaned,
        trigger=trigger,
        created_by=user if getattr(user, "is_authenticated", False) else None,
        stage="queued",
    )
    run.full_clean(validate_constraints=False)
    try:
        with transaction.atomic():
            run.save()
    except IntegrityError as exc:
        if scheduled:
            return None
        raise PromotionRunAlreadyActive(
            f"a promotion {kind} run for the week of {week} is already queued or running"
        ) from exc
    if enqueue:
        transaction.on_commit(lambda: _enqueue(run.pk))
    return run


# --- Execute -----------------------------------------------------------------------------------
RESTART_FIELDS = ["attempt", "status", "started_at", "heartbeat_at", "finished_at", "progress"]
RESTART_FIELDS += ["stage", "error", "result", "timings"]


def _fail(run: PromotionRun, message: str, result: dict[str, Any] | None = None) -> None:
    run.status, run.error, run.stage = RunStatus.FAILED, message, "failed"
    run.finished_at = timezone.now()
    run.result = result or run.result
    run.save(update_fields=["status", "error", "stage", "finished_at", "result"])


def promotion_run_fail(
    *, run_id: int, attempt: int, message: str, result: dict[str, Any] | None = None
) -> bool:
    """Fail attempt ``attempt`` of a running run; ``False`` if it finished or moved on."""
    with transaction.atomic():
        run = PromotionRun.objects.select_for_update(no_key=True).filter(pk=run_id).first()
        if run is None or run.attempt != attempt or run.status != RunStatus.RUNNING:
            return False
        _fail(run, message, result)
    return True


def _claim(run_id: int) -> tuple[PromotionRun | None, bool]:
    """Lock the run and start a new attempt if it is queued or abandoned."""
    with transaction.atomic():
        run = PromotionRun.objects.select_for_update(no_key=True).filter(pk=run_id).first()
        if run is None or run.status in (RunStatus.SUCCEEDED, RunStatus.FAILED):
            return run, False
        now = timezone.now()
        if run.status == RunStatus.RUNNING and not run_is_abandoned(run, now):
            return run, False
        run.attempt += 1
        run.status, run.started_at, run.heartbeat_at, run.finished_at = (
            RunStatus.RUNNING,
            now,
            now,
            None,
        )
        run.progress, run.stage, run.error, run.result, run.timings = 0, "reading data", "", {}, {}
        run.save(update_fields=RESTART_FIELDS)
    return run, True


def promotion_run_execute(*, run_id: int, progress: Progress | None = None) -> PromotionRun | None:
    """Execute a queued run (proposal or backtest); safe to deliver twice.

    A finished run is returned untouched, and so is one running on a live worker. Infeasible
    settings fail the run with the engine's message naming the constraint (``result`` holds
    ``constraint``); any other error fails it with the error text. Nothing else changes then:
    the week's current proposal stays as it was.

    Returns:
        The run as it is afterwards (``None`` if it does not exist).
    """
    run, started = _claim(run_id)
    if run is None or not started:
        return run
    try:
        if run.kind == PromotionRun.Kind.BACKTEST:
            execute_backtest_stage(run, progress)
        else:
            execute_proposal_stage(run, progress)
    except InfeasiblePromotion as exc:
        message = f"Infeasible settings ({exc.constraint} constraint): {exc}"
        promotion_run_fail(
            run_id=run_id,
            attempt=run.attempt,
            message=message,
            result={"constraint": exc.constraint},
        )
    except Exception as exc:
        logger.exception("promotion run %s failed", run_id)
        promotion_run_fail(
            run_id=run_id, attempt=run.attempt, message=f"{type(exc).__name__}: {exc}"
        )
    return PromotionRun.objects.get(pk=run_id)
