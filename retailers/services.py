"""Writes of the retailers app: retailers, and CSV imports (files, runs and background jobs).

Every import is all or nothing: a file with any invalid row raises
:class:`retailers.exceptions.ImportRejected` listing every bad row, and nothing is written.
"""

from __future__ import annotations

import codecs
import csv
import dataclasses
import logging
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import tablib
from django.core.files import File
from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.utils import timezone

from retailers.contract_import import contract_rows_import
from retailers.exceptions import ImportRejected, RowError
from retailers.import_kinds import bulk_import, bulk_loader_for, resource_class_for
from retailers.lifecycle import RunKind, run_create, run_execute, run_finish
from retailers.models import ImportJob, ImportKind, Retailer, RunStatus
from retailers.resources import PROGRESS_EVERY

if TYPE_CHECKING:
    from loyalty_site.users import User

logger = logging.getLogger(__name__)

Progress = Callable[[int, int | None], None]
CHUNK_BYTES = 1 << 16


@transaction.atomic
def retailer_create(
    *, slug: str, name: str, currency: str = "EUR", time_zone: str = "UTC"
) -> Retailer:
    """Create a retailer (tenant).

    Raises:
        django.core.exceptions.ValidationError: a bad or taken slug, currency or time zone.
    """
    retailer = Retailer(slug=slug, name=name, currency=currency, time_zone=time_zone)
    retailer.full_clean()
    retailer.save()
    return retailer


# --- Reading CSV files ------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class CsvInfo:
    """What a quick pass over a CSV file found: its header and how many data rows follow."""

    headers: list[str]
    data_rows: int


def _reject(row: int, message: str) -> ImportRejected:
    return ImportRejected([RowError(row, "", message)])


def _text_lines(chunks: Iterable[bytes]) -> Iterator[str]:
    """Decode UTF-8 (with or without BOM) and yield lines with their line endings."""
    decoder = codecs.getincrementaldecoder("utf-8-sig")("strict")
    pending, line, first = "", 1, True
    for chunk in chunks:
        if first and chunk:
            first = False
            if chunk.startswith(b"PK\x03\x04"):
                raise _reject(1, "this is a spreadsheet workbook, not CSV: save it as CSV UTF-8")
            if chunk.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
                raise _reject(1, "the file is UTF-16 text, not UTF-8: save it as CSV UTF-8")
            if b"\x00" in chunk:
                raise _reject(1, "this is not a text file (it contains NUL bytes)")
        try:
            pending += decoder.decode(chunk)
        except UnicodeDecodeError as exc:
            bad = line + pending.count("\n") + chunk[: exc.start].count(b"\n")
            byte = chunk[exc.start : exc.start + 1].hex().upper() or "?"
            raise _reject(
                bad,
                f"the file is not UTF-8 text (byte 0x{byte} on line {bad}): save it as CSV UTF-8",
            ) from None
        *lines, pending = pending.split("\n")
        for text in lines:
            line += 1
            yield text + "\n"
    pending += decoder.decode(b"", final=True)
    if pending:
        yield pending


def _records(chunks: Iterable[bytes]) -> Iterator[tuple[int, list[str]]]:
    """``(spreadsheet row, cells)`` of every CSV record (the header is row 1)."""
    reader = csv.reader(_text_lines(chunks))
    number = 0
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise _reject(number + 1, f"cannot be read as CSV: {exc}") from None
        number += 1
        yield number, cells


def _header(records: Iterator[tuple[int, list[str]]]) -> list[str]:
    first = next(records, None)
    # Column names are compared trimmed and case-insensitively (as the bulk loader does).
    headers = [cell.strip().lower() for cell in first[1]] if first else []
    if not any(headers):
        raise _reject(1, "the file is empty: the first row must name the columns")
    duplicates = sorted({h for h in headers if headers.count(h) > 1})
    if duplicates:
        raise ImportRejected([RowError(1, h, "column appears more than once") for h in duplicates])
    return headers


def file_chunks(path: str | Path) -> Iterator[bytes]:
    """The bytes of the file at ``path``, in chunks."""
    with open(path, "rb") as stream:
        yield from iter(lambda: stream.read(CHUNK_BYTES), b"")


def inspect_csv(chunks: Iterable[bytes]) -> CsvInfo:
    """Check that a file is CSV text in UTF-8 with a header, and count its data rows.

    Streams the file (nothing is kept in memory). Blank rows are not counted.

    Raises:
        ImportRejected: the file is empty, not UTF-8 text, or not CSV.
    """
    records = _records(chunks)
    headers = _header(records)
    rows = sum(1 for _, cells in records if any(cell.strip() for cell in cells))
    return CsvInfo(headers=headers, data_rows=rows)


def read_csv(chunks: Iterable[bytes]) -> tablib.Dataset:
    """Read a whole contract CSV file into a dataset for the import resources.

    Blank rows are dropped; ``dataset.row_numbers`` keeps each row's spreadsheet row number so
    that errors still name the right row.

    Raises:
        ImportRejected: the file is empty (not even a header), not UTF-8 text, not CSV, or has
            rows of a different width than the header (every such row is listed). A header with
            no data rows is a valid, empty dataset (a nightly export with nothing new).
    """
    records = _records(chunks)
    headers = _header(records)
    dataset = tablib.Dataset(headers=headers)
    numbers: list[int] = []
    errors: list[RowError] = []
    for number, cells in records:
        if not any(cell.strip() for cell in cells):
            continue
        while len(cells) > len(headers) and not cells[-1].strip():
            cells.pop()  # trailing empty cells, as some spreadsheets write them
        if len(cells) != len(headers):
            errors.append(
                RowError(number, "", f"has {len(cells)} cells, the header has {len(headers)}")
            )
            continue
        dataset.append(cells)
        numbers.append(number)
    if errors:
        raise ImportRejected(errors)
    dataset.row_numbers = numbers
    return dataset


def header_check(*, kind: str, headers: list[str]) -> None:
    """Raise :class:`ImportRejected` when a header lacks required columns or has unknown ones."""
    problems = resource_class_for(kind).header_problems(headers)
    if problems:
        raise ImportRejected(problems)


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
    through their import-export resource row by row (files of any size take the bulk loader,
    :func:`import_file_run`); every other kind through the set-wise ``contract_rows_import``.

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
    dataset = read_csv(file_chunks(path))
    return import_dataset_run(retailer=retailer, kind=kind, dataset=dataset, progress=progress)


# --- Background jobs --------------------------------------------------------------------------

#: Imports run on the long queue; several may run at once (each is one all-or-nothing
#: transaction).
IMPORT = RunKind(
    model=ImportJob, task="retailers.tasks.import_job_run_task", first_stage="importing"
)


@transaction.atomic
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
