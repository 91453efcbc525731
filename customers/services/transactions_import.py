"""Bulk import of transactions.csv: millions of lines without the ORM's row-by-row path.

Contract (one row per basket line; the lines of a basket share ``transaction_id``)::

    transaction_id, customer_id, store_id, timestamp, sku, quantity, amount, discount

``store_id`` may be empty (online or unknown store: NULL). ``amount`` is what was paid after the
discount, ``discount`` the reduction; money has at most 2 decimals, quantity at most 3. A return
has a negative quantity and a negative amount (and a discount <= 0); opposite signs are row
errors. Every natural key resolves inside the given retailer only. ``line_no`` is the position of
the row among its transaction's rows in the file. Cells are trimmed of surrounding spaces; blank
rows are skipped. Time zones and row numbers: see ``transactions_checks`` / ``transactions_csv``.

Design: two streaming passes over the file, so memory grows with the number of *distinct*
transactions, customers, stores and SKUs (under 100 bytes per distinct transaction: its id as
Arrow text plus four int64s), never with the number of lines: a chunk of about 100,000 lines is
the only per-line data in memory (Arrow-backed ``str`` columns, int64 code arrays), plus at most
``bulk.COPY_QUEUE_CHUNKS`` chunks of COPY text waiting for the server.

1. Validation pass (no database): pyarrow's streaming CSV reader (``pandas.read_csv`` for
   irregular files, see ``transactions_csv``) reads text columns chunk by chunk; each chunk is
   checked with vectorised string operations (``transactions_checks.Validator``), the
   distinct keys get integer codes, and each transaction's header (first row, customer, store,
   UTC microseconds) is kept in int64 arrays indexed by its code.
2. Inside ONE ``transaction.atomic()`` (``transactions_load.LoadPlan``): natural keys are resolved
   with one query per kind (customers, stores, products, existing transactions), each bound to
   the file's distinct keys as one JSON parameter, so a retailer with millions of customers is
   not read whole. A transaction that already exists with the same header is skipped
   (re-importing a file creates nothing); a different header is a row error. If anything is
   wrong, a second pass only locates the rows with unknown keys, and ``ImportRejected`` lists
   the errors (sorted, at most ``MAX_LISTED_ERRORS``, all counted). Otherwise the missing
   customers (if asked), then the new transactions are written with ``insert_frame``, and the
   load pass re-reads the file chunk by chunk and streams the lines with ``insert_chunks``.
   Any failure rolls everything back. A unique-key conflict with an import of the same
   transactions running at the same time, or a referenced row deleted under the import, is
   reported as row 0.

The rows travel by ``COPY`` (``loyalty_site.bulk``): pyarrow writes the CSV text of a chunk
while a writer thread sends the previous one, and transaction ids come from the sequence (no
read-back). Every constraint stays on, for any role (no superuser, no special grant). An
import of at least ``settings.IMPORT_PARTITION_MIN_LINES`` new lines loads them as a partition
of their own (``customers.line_partitions``): its indexes are built in one sort each and its
foreign keys checked set-wise when it is attached. Otherwise the database checks each foreign
key of each new line with its own trigger, as it does for every new transaction: the import
sets the constraints ``IMMEDIATE`` and sends each chunk as its own ``COPY``, so the server
checks one chunk while Python formats the next, instead of running every check at commit with
Python idle; they are ``DEFERRED`` again (Django's default) when the load ends. The customers,
stores and products are also locked ``FOR KEY SHARE`` as they are resolved, so a concurrent
delete waits for the import and then fails on the foreign key (see ``transactions_load``). The
seconds of each stage are logged (logger ``customers.services.transactions_import``, ``extra``
keys ``stages`` and ``result``); see ``bench/import_transactions.py``.

``progress(lines_done, total)`` is called after each chunk: ``total`` is ``None`` during the
validation pass and the number of lines during the load pass (``lines_done`` restarts at 0).
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
from django.db import IntegrityError, connections, transaction

from customers.services.transactions_checks import Validator
from customers.services.transactions_csv import CsvSource, FrameSource, ReadAgain
from customers.services.transactions_load import LoadPlan, Progress
from retailers.exceptions import ImportRejected, RowError

if TYPE_CHECKING:
    from retailers.models import Retailer

logger = logging.getLogger(__name__)
_FOREIGN_KEY_VIOLATION = "23503"


def _sqlstate(exc: BaseException) -> str | None:
    """The SQLSTATE of a driver error, also when Django wraps it."""
    return getattr(exc, "sqlstate", None) or getattr(exc.__cause__, "sqlstate", None)


class _Stages:
    """Wall-clock seconds of each stage of an import, measured lap by lap."""

    def __init__(self) -> None:
        self.started = self._last = time.perf_counter()
        self.seconds: dict[str, float] = {}

    def lap(self, stage: str) -> None:
        now = time.perf_counter()
        self.seconds[stage] = round(self.seconds.get(stage, 0.0) + now - self._last, 3)
        self._last = now

    def total(self) -> float:
        return round(time.perf_counter() - self.started, 3)


@dataclass(frozen=True)
class TransactionImportResult:
    """What an import wrote. ``transactions_skipped`` already existed with the same header."""

    transactions_created: int
    lines_created: int
    customers_created: int
    transactions_skipped: int
    lines_read: int
    seconds: float

    def as_dict(self) -> dict[str, int | float]:
        """The counts as a plain dict (for ``ImportJob.summary`` or JSON)."""
        return asdict(self)


def transactions_bulk_import(
    *,
    retailer: Retailer,
    path: str | Path,
    create_missing_customers: bool = False,
    progress: Progress | None = None,
) -> TransactionImportResult:
    """Import a transactions CSV file (UTF-8, BOM allowed) for ``retailer``, all or nothing.

    Args:
        retailer: the tenant; customers, stores, SKUs and transactions resolve only inside it.
        path: the CSV file (header row required, comma-separated).
        create_missing_customers: create unknown customers (``enrolled_on`` = local date of
            their earliest transaction in the file, no marketing consent) instead of
            rejecting their rows.
        progress: called as ``progress(lines_done, total_or_None)`` after each chunk. On
            PostgreSQL the load pass calls it while the lines' ``COPY`` holds the default
            connection: it must not query through that connection (``JobProgress`` writes
            through its own).

    Returns:
        The counts of what was written and skipped, and the seconds it took.

    Raises:
        ImportRejected: the file is empty, not UTF-8 CSV, has missing or extra columns, or has
            bad rows (all listed up to 1,000, all counted); nothing was written.
    """
    return _import(retailer, CsvSource(path), create_missing_customers, progress)


def transactions_import_frame(
    *,
    retailer: Retailer,
    frame: pd.DataFrame,
    create_missing_customers: bool = False,
    progress: Progress | None = None,
) -> TransactionImportResult:
    """Import transaction lines already in a DataFrame (columns named as the CSV contract).

    Same rules, result and ``ImportRejected`` as :func:`transactions_bulk_import`; values are
    read as text and row numbers are the frame position + 2 (as if the frame were a CSV file).
    """
    return _import(retailer, FrameSource(frame), create_missing_customers, progress)


def _validate(
    retailer: Retailer, source: CsvSource | FrameSource, progress: Progress | None
) -> Validator:
    """The validation pass: every chunk of the file through a ``Validator``."""
    while True:
        check = Validator(retailer.tz)
        try:
            for first_row, chunk in source.chunks():
                check.validate(first_row, chunk)
                if progress:
                    progress(check.lines, None)
        except ReadAgain:  # the source now reads with pandas (see transactions_csv)
            continue
        return check


def _import(
    retailer: Retailer,
    source: CsvSource | FrameSource,
    create_missing_customers: bool,
    progress: Progress | None,
) -> TransactionImportResult:
    stages = _Stages()
    check = _validate(retailer, source, progress)
    if not check.lines and not check.errors:
        # A header and nothing else: a nightly export with nothing new imports nothing.
        return TransactionImportResult(0, 0, 0, 0, 0, seconds=stages.total())
    stages.lap("read and validate")
    # COPY errors come from the driver unwrapped (psycopg's own IntegrityError), so catch both.
    # Every backend wrapper has ``Database`` (its DB-API module); django-stubs 6.1.2 omits it.
    driver_integrity_error = connections["default"].Database.IntegrityError  # type: ignore[attr-defined]
    try:
        with transaction.atomic():
            with connections["default"].cursor() as cursor:
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # see the module docstring
            plan = LoadPlan(retailer, check, create_missing_customers, stages.lap)
            if plan.has_key_errors:
                plan.locate_key_errors(source)
            if check.errors:
                raise check.errors.rejection()
            counts = plan.load(source, progress)
            with connections["default"].cursor() as cursor:
                cursor.execute("SET CONSTRAINTS ALL DEFERRED")  # Django's default again
        stages.lap("commit")
    except (IntegrityError, driver_integrity_error) as exc:
        reason = str(exc).strip()
        if _sqlstate(exc) == _FOREIGN_KEY_VIOLATION:
            cause = "a customer, store or product of the file was deleted during the import"
        else:
            cause = "another import of the same transactions may have run at the same time"
        message = f"the database refused the rows ({reason}); {cause}: import the file again"
        raise ImportRejected([RowError(0, "", message)], total_errors=1) from exc
    result = TransactionImportResult(**counts, seconds=stages.total())
    logger.info(
        "imported %s lines for %s in %.1f s: %s",
        result.lines_read,
        retailer.slug,
        result.seconds,
        ", ".join(f"{stage} {seconds:.1f} s" for stage, seconds in stages.seconds.items()),
        extra={"stages": stages.seconds, "result": result.as_dict()},
    )
    return result
