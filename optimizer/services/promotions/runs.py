"""Promotion runs: create (and queue), claim, fail and execute; see the package docstring."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any, Literal, overload

from django.core.exceptions import ValidationError
from django.db import transaction

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
from optimizer.services.common import Progress
from optimizer.services.promotions.config import (
    EXECUTE_TASK,
    promotion_default_week,
    promotion_options_clean,
)
from optimizer.services.promotions.execute import execute_backtest_stage, execute_proposal_stage
from retailers.lifecycle import RunKind, refusal, run_create, run_execute, run_fail
from retailers.models import Retailer

if TYPE_CHECKING:
    from loyalty_site.users import User

PROMOTION = RunKind(
    model=PromotionRun, task=EXECUTE_TASK, first_stage="reading data", reset=("result",)
)


def current_proposal(*, retailer: Retailer, week_start: dt.date) -> PromotionProposal | None:
    """The week's proposed or approved proposal, if any."""
    return (
        PromotionProposal.objects.for_retailer(retailer)
        .filter(week_start=week_start, state__in=CURRENT_PROPOSAL_STATES)
        .first()
    )


# Only a scheduled run may come back as None (the week is already covered): say so to callers.
@overload
def promotion_run_create(
    *,
    retailer: Retailer,
    week_start: dt.date | None = ...,
    options: dict[str, Any] | None = ...,
    kind: str = ...,
    trigger: Literal["manual", "command"] = ...,
    user: User | None = ...,
    enqueue: bool = ...,
    now: dt.datetime | None = ...,
) -> PromotionRun: ...


@overload
def promotion_run_create(
    *,
    retailer: Retailer,
    week_start: dt.date | None = ...,
    options: dict[str, Any] | None = ...,
    kind: str = ...,
    trigger: str,
    user: User | None = ...,
    enqueue: bool = ...,
    now: dt.datetime | None = ...,
) -> PromotionRun | None: ...


@transaction.atomic(durable=True)
def promotion_run_create(
    *,
    retailer: Retailer,
    week_start: dt.date | None = None,
    options: dict[str, Any] | None = None,
    kind: str = PromotionRun.Kind.PROPOSAL,
    trigger: str = "manual",
    user: User | None = None,
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
            the reach; ``None``: all customers), ``backtest_weeks``; parsed into
            :class:`~optimizer.engine.settings.PromotionSettings` (its defaults fill the gaps).
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
    run = PromotionRun(
        retailer=retailer,
        kind=kind,
        week_start=week,
        options=cleaned.to_json(),
        trigger=trigger,
        created_by=user if getattr(user, "is_authenticated", False) else None,
    )

    runs = PromotionRun.objects.for_retailer(retailer).filter(kind=kind, week_start=week)
    try:
        return run_create(
            kind=PROMOTION,
            run=run,
            active=runs.filter(status__in=ACTIVE_STATUSES),
            conflict=refusal(
                PromotionRunAlreadyActive,
                raced=f"a promotion {kind} run for the week of {week} is already queued or running",
                active=lambda other: (
                    f"promotion {kind} run #{other.pk} for the week of {week} is {other.status}"
                ),
            ),
            enqueue=enqueue,
        )
    except PromotionRunAlreadyActive:
        if scheduled:
            return None  # the schedule fired twice: nothing to do
        raise


def promotion_run_fail(
    *, run_id: int, attempt: int, message: str, result: dict[str, Any] | None = None
) -> bool:
    """Fail attempt ``attempt`` of a running run; ``False`` if it finished or moved on."""
    extra = {"result": result} if result else None
    return run_fail(kind=PROMOTION, run_id=run_id, attempt=attempt, message=message, extra=extra)


def promotion_run_execute(*, run_id: int, progress: Progress | None = None) -> PromotionRun | None:
    """Execute a queued run (proposal or backtest); safe to deliver twice.

    A finished run is returned untouched, and so is one running on a live worker. Infeasible
    settings fail the run with the engine's message naming the constraint (``result`` holds
    ``constraint``); any other error fails it with the error text. Nothing else changes then:
    the week's current proposal stays as it was.

    Returns:
        The run as it is afterwards (``None`` if it does not exist).
    """

    def execute(run: PromotionRun) -> None:
        if run.kind == PromotionRun.Kind.BACKTEST:
            execute_backtest_stage(run, progress)
        else:
            execute_proposal_stage(run, progress)

    return run_execute(kind=PROMOTION, run_id=run_id, step=execute, describe=_describe)


def _describe(exc: Exception) -> tuple[str, dict[str, Any]]:
    if isinstance(exc, InfeasiblePromotion):
        message = f"Infeasible settings ({exc.constraint} constraint): {exc}"
        return message, {"result": {"constraint": exc.constraint}}
    return f"{type(exc).__name__}: {exc}", {}
