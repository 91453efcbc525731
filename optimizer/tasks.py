"""django-q2 entry points of the optimizer app (enqueue them by their dotted path)."""

from __future__ import annotations

import logging

from optimizer.services import scoring_chunk_execute, scoring_run_execute
from optimizer.services.campaign_results import campaign_results_close_due

logger = logging.getLogger(__name__)


def scoring_run_execute_task(run_id: int) -> str | None:
    """Fit the queued scoring run ``run_id`` and queue its chunks; safe to deliver twice.

    Returns the run's status afterwards, which django-q2 stores as the task result.
    """
    run = scoring_run_execute(run_id=run_id)
    return run.status if run is not None else None


def scoring_chunk_task(run_id: int, attempt: int, index: int) -> str:
    """Score chunk ``index`` of attempt ``attempt`` of run ``run_id``; safe to deliver twice.

    Returns the chunk's outcome (see ``scoring_chunk_execute``).
    """
    return scoring_chunk_execute(run_id=run_id, attempt=attempt, index=index)


def allocation_run_execute_task(run_id: int) -> str | None:
    """Solve the queued allocation run ``run_id`` and write its proposal; safe to deliver twice.

    Returns the run's status afterwards.
    """
    from optimizer.services.allocation import allocation_run_execute

    run = allocation_run_execute(run_id=run_id)
    return run.status if run is not None else None


def allocation_pricing_chunk_task(
    key: str, index: int, folder: str, multipliers: dict
) -> tuple[int, float, tuple, int]:
    """Price chunk ``index`` of the allocation pricing fan-out ``key`` at ``multipliers``.

    Enqueued per pass by ``optimizer.services.allocation_fanout`` (the solving process waits
    for the group's results); pure reads, safe to deliver twice.
    """
    from optimizer.services.allocation_fanout import allocation_pricing_chunk

    return allocation_pricing_chunk(key=key, index=index, folder=folder, multipliers=multipliers)


def promotion_run_execute_task(run_id: int) -> str | None:
    """Execute the queued promotion run ``run_id`` (proposal or backtest); safe to deliver twice.

    Returns the run's status afterwards (stored by django-q2 as the task result).
    """
    from optimizer.services import promotion_run_execute

    run = promotion_run_execute(run_id=run_id)
    return run.status if run is not None else None


def promotion_schedule_task(retailer_id: int) -> str:
    """Weekly schedule of one retailer: queue the proposal of the coming week (nothing if that
    week already has a current proposal or an active run), then re-align the schedule's next
    run to the retailer's local weekday and hour (django-q2 adds 7 x 24 h, which drifts by an
    hour across a daylight-saving change)."""
    from optimizer.services import promotion_run_create, promotion_schedules_sync
    from retailers.models import Retailer

    retailer = Retailer.objects.filter(pk=retailer_id).first()
    if retailer is None:
        return f"retailer {retailer_id} no longer exists"
    run = promotion_run_create(retailer=retailer, trigger="schedule")
    promotion_schedules_sync(retailers=[retailer])
    if run is None:
        return f"{retailer.slug}: the coming week already has a proposal or an active run"
    return f"{retailer.slug}: promotion run #{run.pk} queued for the week of {run.week_start}"


def campaign_results_task() -> int:
    """Daily: measure and close the issued campaigns whose measurement window has ended."""
    closed = campaign_results_close_due()
    logger.info("closed %s campaigns with their results", closed)
    return closed


def recommendation_run_execute_task(run_id: int) -> str | None:
    """Evaluate and fit the queued recommendation run ``run_id`` and queue its chunks; safe to
    deliver twice. Returns the run's status afterwards."""
    from optimizer.services.recommend import recommendation_run_execute

    run = recommendation_run_execute(run_id=run_id)
    return run.status if run is not None else None


def recommendation_chunk_task(run_id: int, attempt: int, index: int) -> str:
    """Recommend chunk ``index`` of attempt ``attempt`` of recommendation run ``run_id``; safe
    to deliver twice. Returns the chunk's outcome."""
    from optimizer.services.recommend import recommendation_chunk_execute

    return recommendation_chunk_execute(run_id=run_id, attempt=attempt, index=index)
