"""CSV imports: runs of a file or dataset, and background import jobs.

Every import is all or nothing: a file with any invalid row raises
:class:`retailers.exceptions.ImportRejected` listing every bad row, and nothing is written.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import tablib
from django.core.files import File
from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.utils import timezone

from loyalty_site.collector import collector_paused
from retailers.contract_import import contract_rows_import
from retailers.csvio import file_chunks, inspect_csv, read_csv
from retailers.exceptions import ImportRejected
from retailers.import_kinds import bulk_import, bulk_loader_for, resource_class_for
from retailers.lifecycle import RunKind, run_create, run_execute, run_finish
from retailers.models import ImportJob, ImportKind, Retailer, RunStatus
from retailers.resources import PROGRESS_EVERY
from retailers.services.csv_files import header_check

if TYPE_CHECKING:
    from loyalty_site.users import User

logger = logging.getLogger(__name__)

Progress = Callable[[int, int | None], None]


# --- Running imports --------------------------------------------------------------------------


def _summary(result: Any) -> dict[str, int]:
    totals = result.totals
    return {
        "rows": result.total_rows,
        "new": totals["new"],
        "updated": totals["update"],
        "skipped": totals["skip"],
    }


def import_dataset_run(
    *, retailer: Retailer, kind: str, dataset: tablib.Dataset, progress: Progress | None = None
) -> dict[str, int]:
    """Import a dataset (from :func:`read_csv`) of ``kind`` into ``retailer``, all or nothing.

    Returns the counts of rows: ``{"rows", "new", "updated", "skipped"}``. Transactions go
    through their import-export resource, which hands the dataset to the bulk loader (as
    :func:`import_file_run` does with a file); every other kind through the set-wise
    ``contract_rows_import``.

    Raises:
        ImportRejected: any row is invalid (nothing was written).
    """
    if kind != ImportKind.TRANSACTIONS:
        return contract_rows_import(
            retailer=retailer, kind=kind, dataset=dataset, progress=progress
        )
    resource = resource_class_for(kind)(retailer=retailer, progress=progress)
    with transaction.atomic():
        result = resource.import_data(
            dataset,
            dry_run=False,
            raise_errors=False,
            use_transactions=True,
            rollback_on_validation_errors=True,
        )
    errors = result.row_error_list()
    if errors:
        raise ImportRejected(errors)
    return _summary(result)


def import_file_run(
    *,
    retailer: Retailer,
    kind: str,
    path: str | Path,
    create_missing_customers: bool = False,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Import the contract CSV file at ``path`` of ``kind`` into ``retailer``, all or nothing.

    Transactions go through their registered bulk loader (``retailers.import_kinds``; the
    customers app registers ``transactions_bulk_import``), the other kinds through their
    import-export resource. ``create_missing_customers`` is only for transactions. Returns
    the counts of what was written.

    Raises:
        ImportRejected: the file is not a readable contract CSV file, or any row is invalid.
        ValueError: ``create_missing_customers`` for a kind other than transactions.
    """
    if bulk_loader_for(kind) is not None:
        # The bulk loader checks the file itself (encoding, header, rows) in its own passes.
        return bulk_import(
            kind=kind,
            retailer=retailer,
            path=path,
            create_missing_customers=create_missing_customers,
            progress=progress,
        )
    if create_missing_customers:
        raise ValueError("create_missing_customers applies to transactions only")
    with collector_paused():  # the file's rows live until the end: see loyalty_site.collector
        dataset = read_csv(file_chunks(path))
        return import_dataset_run(retailer=retailer, kind=kind, dataset=dataset, progress=progress)


# --- Background jobs --------------------------------------------------------------------------

#: Imports run on the long queue; several may run at once (each is one all-or-nothing
#: transaction).
IMPORT = RunKind(
    model=ImportJob, task="retailers.tasks.import_job_run_task", first_stage="importing"
)


@transaction.atomic(durable=True)
def import_job_create(
    *,
    retailer: Retailer,
    kind: str,
    upload: File,
    created_by: User | None = None,
    options: dict[str, Any] | None = None,
) -> ImportJob:
    """Save an uploaded file as an :class:`ImportJob` and queue its import on the long queue.

    The file's encoding and header are checked now, so that such mistakes show at once; its rows
    are checked by the job.

    Raises:
        ImportRejected: the file is not UTF-8 CSV, is empty, or lacks required columns.
    """
    info = inspect_csv(upload.chunks())
    header_check(kind=kind, headers=info.headers)
    name = Path(upload.name or f"{kind}.csv").name
    job = ImportJob(
        retailer=retailer,
        kind=kind,
        original_name=name,
        options=options or {},
        total_rows=info.data_rows,
        created_by=created_by,
    )
    job.file.save(name, upload, save=False)
    return run_create(kind=IMPORT, run=job)


class JobProgress:
    """Records a running job's ``processed_rows`` every :data:`PROGRESS_EVERY` rows.

    The import itself runs in one database transaction (all or nothing), in which an update would
    stay invisible until the end. The count is therefore written through a second, autocommit
    connection, so the admin shows it live.
    """

    def __init__(self, job_id: int) -> None:
        self.job_id = job_id
        self._next = 0
        self._side: Any = None

    def __call__(self, processed: int, total: int | None) -> None:
        if processed < self._next and processed != total:
            return
        self._next = processed + PROGRESS_EVERY
        values: dict[str, Any] = {"processed_rows": processed, "heartbeat_at": timezone.now()}
        if total is not None:
            values["total_rows"] = total
        try:
            self._write(values)
        except Exception:
            logger.warning("could not record progress of import job %s", self.job_id, exc_info=True)

    def _write(self, values: dict[str, Any]) -> None:
        if self._side is None:
            self._side = connections.create_connection(DEFAULT_DB_ALIAS)
        quote = self._side.ops.quote_name
        assignments = ", ".join(f"{quote(column)} = %s" for column in values)
        sql = f"UPDATE {quote(ImportJob._meta.db_table)} SET {assignments} WHERE id = %s"  # noqa: S608
        with self._side.cursor() as cursor:
            cursor.execute(sql, [*values.values(), self.job_id])

    def close(self) -> None:
        if self._side is not None:
            self._side.close()
            self._side = None


def import_job_run(*, job_id: int) -> ImportJob | None:
    """Run a queued :class:`ImportJob` and record its outcome on the job.

    Idempotent: a job that is not queued any more (running, succeeded or failed) is left alone and
    returned as it is; ``None`` when the job no longer exists. The exception is a job whose worker
    stopped beating (:mod:`retailers.lifecycle`): its worker died (the import is one database
    transaction, so it wrote nothing) and the re-delivered task runs it again. A rejected file
    ends the job as failed with every bad row in ``errors`` and nothing written; an unexpected
    error ends it as failed with that error.
    """
    return run_execute(kind=IMPORT, run_id=job_id, step=_import, describe=_describe)


def _import(job: ImportJob) -> None:
    progress = JobProgress(job.pk)
    try:
        summary = import_file_run(
            retailer=job.retailer,
            kind=job.kind,
            path=job.file.path,
            create_missing_customers=bool(job.options.get("create_missing_customers")),
            progress=progress,
        )
    finally:
        progress.close()
    with transaction.atomic():
        locked = ImportJob.objects.select_for_update().get(pk=job.pk)
        if locked.attempt != job.attempt or locked.status != RunStatus.RUNNING:
            return
        locked.summary = summary
        locked.processed_rows = locked.total_rows or int(summary.get("rows") or 0)
        run_finish(locked, fields=("summary", "processed_rows"))


def _describe(exc: Exception) -> tuple[str, dict[str, Any]]:
    if isinstance(exc, ImportRejected):
        errors = [dataclasses.asdict(error) for error in exc.errors]
        return str(exc), {"errors": errors, "summary": {"errors": exc.total_errors}}
    message = f"import failed: {exc}"
    return message, {"errors": [{"row": None, "column": "", "message": message}]}
