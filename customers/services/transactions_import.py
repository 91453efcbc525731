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
transactions, customers, stores and SKUs (about 150 bytes per distinct transaction, as a dict
entry plus four int64s), never with the number of lines: a chunk of ``CHUNK_LINES`` lines is the
only per-line data in memory (Arrow-backed ``str`` columns, int64 code arrays).

1. Validation pass (no database): ``pandas.read_csv(dtype=str, chunksize=CHUNK_LINES)``; each
   chunk is checked with vectorised string operations (``transactions_checks.Validator``), the
   distinct keys get integer codes, and each transaction's header (first row, customer, store,
   UTC microseconds) is kept in int64 arrays indexed by its code.
2. Inside ONE ``transaction.atomic()`` (``transactions_load.LoadPlan``): natural keys are resolved
   with one query per kind (customers, stores, products, existing transactions), each bound to
   the file's distinct keys as one JSON parameter, so a retailer with millions of customers is
   not read whole. A transaction that already exists with the same header is skipped
   (re-importing a file creates nothing); a different header is a row error. If anything is
   wrong, a second pass only locates the rows with unknown keys, and ``ImportRejected`` lists
   the errors (sorted, at most ``MAX_LISTED_ERRORS``, all counted). Otherwise the missing
   customers (if asked), then the new transactions are written with ``insert_frame`` (COPY on
   PostgreSQL), their ids read back in one query, and the load pass re-reads the file chunk by
   chunk and COPYs the lines. Any failure rolls everything back. A unique-key conflict with an
   import of the same transactions running at the same time is reported as row 0.

On PostgreSQL most of the time is the server's: COPY maintains the indexes, and at commit it runs
the deferred foreign-key checks, one per row and key (3 per line, 2-3 per transaction); see
``bench/import_transactions.py``.

``progress(lines_done, total)`` is called after each chunk: ``total`` is ``None`` during the
validation pass and the number of lines during the load pass (``lines_done`` restarts at 0).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
from django.db import IntegrityError, connections, transaction

from customers.services.transactions_checks import Validator
from customers.services.transactions_csv import CsvSource, FrameSource, file_error
from customers.services.transactions_load import LoadPlan, Progress
from retailers.exceptions import ImportRejected, RowError

if TYPE_CHECKING:
    from retailers.models import Retailer


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
        progress: called as ``progress(lines_done, total_or_None)`` after each chunk.

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


def _import(
    retailer: Retailer,
    source: CsvSource | FrameSource,
    create_missing_customers: bool,
    progress: Progress | None,
) -> TransactionImportResult:
    started = time.perf_counter()
    check = Validator(retailer.tz)
    for first_row, chunk in source.chunks():
        check.validate(first_row, chunk)
        if progress:
            progress(check.lines, None)
    if not check.lines and not check.errors:
        raise file_error("the file has a header but no data rows")
    # COPY errors come from the driver unwrapped (psycopg's own IntegrityError), so catch both.
    driver_integrity_error = connections["default"].Database.IntegrityError
    try:
        with transaction.atomic():
            plan = LoadPlan(retailer, check, create_missing_customers)
            if plan.has_key_errors:
                plan.locate_key_errors(source)
            if check.errors:
                raise check.errors.rejection()
            counts = plan.load(source, progress)
    except (IntegrityError, driver_integrity_error) as exc:
        message = (
            f"the database refused the rows ({str(exc).strip()}); another import of the same "
            "transactions may have run at the same time: import the file again"
        )
        raise ImportRejected([RowError(0, "", message)], total_errors=1) from exc
    return TransactionImportResult(**counts, seconds=round(time.perf_counter() - started, 3))
