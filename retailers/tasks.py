"""django-q2 entry points of the retailers app (enqueue them by their dotted path)."""

from __future__ import annotations

from retailers.export_jobs import export_job_run, export_jobs_expire
from retailers.services import import_job_run


def import_job_run_task(job_id: int) -> str | None:
    """Run the queued import job ``job_id``; safe to deliver twice (see ``import_job_run``).

    Returns the job's final status, which django-q2 stores as the task result.
    """
    job = import_job_run(job_id=job_id)
    return job.status if job is not None else None


def export_job_run_task(job_id: int) -> str | None:
    """Write the queued export job ``job_id``'s file; safe to deliver twice (``export_job_run``).

    The rows are the admin's Export of the job's model admin and list filters, as its creator
    asked for them (``retailers.admin_exports.admin_export_queryset``).
    """
    from retailers.admin_exports import admin_export_queryset

    job = export_job_run(job_id=job_id, queryset_for=admin_export_queryset)
    return job.status if job is not None else None


def export_jobs_expire_task() -> int:
    """Daily: delete the files of exports older than ``EXPORT_KEEP_DAYS``."""
    return export_jobs_expire()


def outbox_events_purge_task() -> int:
    """Daily: delete finished webhook events older than ``WEBHOOK_KEEP_DAYS``."""
    from retailers.webhooks import outbox_events_purge

    return outbox_events_purge()


def webhook_deliveries_dispatch_task() -> dict[str, int]:
    """Send every due webhook delivery (nudged after commits that wrote events; every minute).

    Safe to run in parallel: each delivery is claimed by one sender (``SKIP LOCKED``).
    """
    from dataclasses import asdict

    from retailers.webhook_delivery import webhook_deliveries_dispatch

    return asdict(webhook_deliveries_dispatch())
