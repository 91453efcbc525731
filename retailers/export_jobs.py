"""Writes of background exports (:class:`ExportJob`): large admin exports leave the web request.

An export is written by a django-q2 task on the long queue, streamed: rows come from a queryset
iterator in chunks and go straight to a file under ``MEDIA_ROOT``, so memory does not grow with
the table. Every cell goes through the contract resource's export (``BaseResource.export_field``,
which neutralises spreadsheet formulas): the file is the one the admin's Export answers for a
small table, byte for byte. Finished files expire after ``settings.EXPORT_KEEP_DAYS``.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from django.conf import settings
from django.db import models, transaction
from django.utils import timezone

from loyalty_site import safe_csv
from retailers.import_kinds import resource_class_for
from retailers.lifecycle import RunKind, run_create, run_execute, run_finish
from retailers.models import ExportJob, Retailer, RunStatus
from retailers.resources import BaseResource

if TYPE_CHECKING:
    from loyalty_site.users import User

logger = logging.getLogger(__name__)

#: Rows fetched from the database per round trip (server-side cursor on PostgreSQL).
EXPORT_CHUNK_ROWS = 2000
#: A running export records its progress every this many rows.
EXPORT_PROGRESS_EVERY = 5000

QuerysetFor = Callable[[ExportJob], models.QuerySet]


def export_rows_count(*, queryset: models.QuerySet, limit: int) -> int:
    """Rows of ``queryset``, counted up to ``limit + 1`` only (enough to decide sync or job)."""
    return queryset.order_by()[: limit + 1].count()


def export_csv_write(
    *,
    resource: BaseResource,
    queryset: models.QuerySet,
    stream: TextIO,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Write the contract header and one row per object of ``queryset`` to ``stream``.

    Cells come from ``resource`` (formula-safe); rows are read with a chunked iterator and written
    as they come, never held together. Returns the number of data rows written.
    """
    writer = safe_csv.writer(stream)  # the dialect of the admin's synchronous Export
    writer.writerow(resource.get_export_headers())
    fields = resource.get_export_fields()
    rows = 0
    for instance in resource.filter_export(queryset).iterator(chunk_size=EXPORT_CHUNK_ROWS):
        writer.writerow([resource.export_field(field, instance) for field in fields])
        rows += 1
        if progress is not None and rows % EXPORT_PROGRESS_EVERY == 0:
            progress(rows)
    return rows


#: Exports run on the long queue, several at once (one lifecycle: ``retailers.lifecycle``).
EXPORT = RunKind(
    model=ExportJob,
    task="retailers.tasks.export_job_run_task",
    first_stage="writing",
    reset=("processed_rows",),
)


@transaction.atomic
def export_job_create(
    *,
    retailer: Retailer,
    kind: str,
    options: dict[str, Any],
    total_rows: int | None = None,
    created_by: User | None = None,
) -> ExportJob:
    """Record an export of ``kind`` for ``retailer`` and queue it on the long queue.

    ``options`` says how the task finds the rows again (for the admin: the model admin and its
    list filters, see ``retailers.admin_exports``).
    """
    job = ExportJob(
        retailer=retailer,
        kind=kind,
        options=options,
        total_rows=total_rows,
        created_by=created_by,
    )
    return run_create(kind=EXPORT, run=job)


def _write_file(job: ExportJob, queryset: models.QuerySet) -> tuple[str, int]:
    """Write the job's CSV under MEDIA_ROOT; returns its storage name and the rows written.

    The name carries a random part (it is never guessable, should MEDIA_ROOT ever be served);
    the file appears under it only once complete, so a worker that dies leaves no half file.
    """
    storage = job.file.storage
    wanted = f"{job.kind}-{job.pk}-{secrets.token_hex(8)}.csv"
    name = storage.get_available_name(job.file.field.generate_filename(job, wanted))
    path = Path(storage.path(name))
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".part")
    resource = resource_class_for(job.kind)(retailer=job.retailer)

    def progress(rows: int) -> None:
        ExportJob.objects.filter(pk=job.pk, attempt=job.attempt).update(
            processed_rows=rows, heartbeat_at=timezone.now()
        )

    try:
        with open(partial, "w", encoding="utf-8", newline="") as stream:
            rows = export_csv_write(
                resource=resource, queryset=queryset, stream=stream, progress=progress
            )
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    return name, rows


def export_job_run(*, job_id: int, queryset_for: QuerysetFor) -> ExportJob | None:
    """Write a queued :class:`ExportJob`'s file and record the outcome on the job.

    ``queryset_for(job)`` gives the rows to export (already scoped to the job's retailer and its
    creator). Idempotent like ``import_job_run``: a job that is not queued is left alone, except
    one whose worker stopped beating (it died), which is written again. ``None`` when the job no
    longer exists. An error ends the job as failed with that error.
    """

    def write(job: ExportJob) -> None:
        name, rows = _write_file(job, queryset_for(job))
        with transaction.atomic():
            locked = ExportJob.objects.select_for_update().get(pk=job.pk)
            if locked.attempt != job.attempt or locked.status != RunStatus.RUNNING:
                return
            locked.file.name = name
            locked.total_rows = locked.processed_rows = rows
            locked.expires_at = timezone.now() + dt.timedelta(days=settings.EXPORT_KEEP_DAYS)
            run_finish(locked, fields=("file", "total_rows", "processed_rows", "expires_at"))

    return run_execute(
        kind=EXPORT,
        run_id=job_id,
        step=write,
        describe=lambda exc: (f"export failed: {exc}", {}),
    )


def export_jobs_expire(*, now: dt.datetime | None = None) -> int:
    """Delete the files of exports past ``expires_at`` (the job rows stay, as a record of who
    exported what). Returns the number of files deleted."""
    now = now or timezone.now()
    deleted = 0
    for job in ExportJob.objects.filter(expires_at__lte=now).exclude(file=""):
        job.file.delete(save=False)
        ExportJob.objects.filter(pk=job.pk).update(file="")
        deleted += 1
    return deleted
