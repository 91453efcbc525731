"""django-q2 entry points of the retailers app (enqueue them by their dotted path)."""

from __future__ import annotations

from retailers.services import import_job_run


def import_job_run_task(job_id: int) -> str | None:
    """Run the queued import job ``job_id``; safe to deliver twice (see ``import_job_run``).

    Returns the job's final status, which django-q2 stores as the task result.
    """
    job = import_job_run(job_id=job_id)
    return job.status if job is not None else None
