"""django-q2 entry points of the optimizer app (enqueue them by their dotted path)."""

from __future__ import annotations

from optimizer.services import scoring_chunk_execute, scoring_run_execute


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
