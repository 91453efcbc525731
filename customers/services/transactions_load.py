"""The database side of a transactions import: resolve keys, judge transactions, write rows.

Runs inside the caller's ``transaction.atomic()`` after the validation pass
(``transactions_checks.Validator``) has coded every distinct key of the file.

Referential integrity under concurrent writers: the retailer, customers, stores and
products are resolved ``FOR KEY SHARE``, the lock a foreign key trigger takes. From then until
the import ends, another transaction cannot delete them (nor change their key): its ``DELETE``
waits, then fails on the foreign key once the lines are committed. A row deleted before it was
resolved is simply unknown (a row error). The transactions and lines reference only these locked
rows and transactions written by the import itself, which nobody else can see before commit.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
from django.db import connections, models
from django.db.models.expressions import RawSQL
from django.utils import timezone

from customers import line_partitions
from customers.models import Customer, Transaction, TransactionLine
from customers.services.transactions_checks import INVALID, NO_STORE, Validator
from customers.services.transactions_csv import CsvSource, FrameSource
from loyalty_site.bulk import allocate_ids, insert_chunks, insert_frame
from retailers.models import Product, Retailer, Store

Progress = Callable[[int, int | None], None]
Lap = Callable[[str], None]
_LINE_COLUMNS = [
    "retailer_id",
    "transaction_id",
    "line_no",
    "product_id",
    "quantity",
    "amount",
    "discount",
]
_LOAD_COLUMNS = ("transaction_id", "sku", "quantity", "amount", "discount")
_KEY_COLUMNS = ("transaction_id", "customer_id", "store_id", "sku")


def _lookup(
    queryset: models.QuerySet, key: str, values: Sequence[str], *fields: str, lock: bool = False
) -> list[tuple[Any, ...]]:
    """``(key, *fields)`` of the rows of ``queryset`` whose ``key`` is in ``values``: one query.

    ``values`` travel as ONE JSON text parameter, not as one placeholder each (PostgreSQL
    allows 65,535 placeholders per statement; a text[] parameter is adapted item by item in
    Python, JSON is dumped in C). Rows come straight from the driver (no model converters).
    ``lock`` locks the rows found ``FOR KEY SHARE`` (``queryset`` must then read one table).

    Each value is looked up through a ``LATERAL`` subquery, so the plan is one index probe per
    value whatever the statistics say. Right after a bulk load they are stale (a retailer "has
    1 transaction"), and ``key IN (SELECT json_array_elements_text(...))`` was then planned as a
    nested loop over both sides: re-importing 250,000 transactions ran for more than 10 minutes
    instead of under a second.
    """
    if not values:
        return []
    rows = queryset.order_by().filter(**{key: RawSQL("_keys.value", ())}).values_list(key, *fields)
    inner, params = rows.query.sql_with_params()
    if lock:
        inner += " FOR KEY SHARE"
    sql = (
        "SELECT _found.* FROM json_array_elements_text(%s::json) AS _keys(value) "  # noqa: S608
        f"CROSS JOIN LATERAL ({inner}) AS _found"
    )
    with connections[queryset.db].cursor() as cursor:
        cursor.execute(sql, (json.dumps(list(values)), *params))
        return cursor.fetchall()


def _ids(
    queryset: models.QuerySet, key: str, values: list[str], *, lock: bool = False
) -> np.ndarray:
    """Primary key of each of ``values`` (``INVALID`` where the row does not exist)."""
    out = np.full(len(values), INVALID, dtype=np.int64)
    rows = _lookup(queryset, key, values, "pk", lock=lock)
    if rows:
        found = pd.DataFrame(rows, columns=["key", "pk"])
        out[pd.Index(values).get_indexer(found["key"])] = found["pk"].to_numpy()
    return out


def _at(ids: np.ndarray, codes: np.ndarray, missing: int = INVALID) -> np.ndarray:
    """``ids[codes]`` where ``codes >= 0``, ``missing`` elsewhere."""
    return np.where(codes >= 0, ids[np.maximum(codes, 0)], missing) if len(ids) else codes


class LoadPlan:
    """The database side of one import: resolved ids, per-transaction verdicts, the load."""

    #: Reasons a transaction's lines are rejected, by code (0 = fine).
    _DIFFERS = {1: "customer_id", 2: "store_id", 3: "timestamp"}

    def __init__(
        self, retailer: Retailer, check: Validator, create_missing: bool, lap: Lap | None = None
    ) -> None:
        self.retailer = retailer
        self.check = check
        self.create_missing = create_missing
        self.lap: Lap = lap or (lambda stage: None)
        # The parent rows stay until commit (see the module docstring).
        rows = Retailer.objects.filter(pk=retailer.pk).values_list("pk")
        sql, params = rows.query.sql_with_params()
        with connections[rows.db].cursor() as cursor:
            cursor.execute(f"{sql} FOR KEY SHARE", params)
        self.customer_ids = _ids(
            Customer.objects.for_retailer(retailer),
            "external_id",
            check.customers.strings,
            lock=True,
        )
        self.store_ids = _ids(
            Store.objects.for_retailer(retailer), "external_id", check.stores.strings, lock=True
        )
        self.product_ids = _ids(
            Product.objects.for_retailer(retailer), "sku", check.skus.strings, lock=True
        )
        count = len(check.transactions)
        self.tx_customer = _at(self.customer_ids, check.customer)
        stores = _at(self.store_ids, check.store)
        self.tx_store = np.where(check.store == NO_STORE, NO_STORE, stores)
        self.tx_ids = np.full(count, INVALID, dtype=np.int64)
        self.skipped = np.zeros(count, dtype=bool)
        self.problem = np.zeros(count, dtype=np.int8)
        self.existing: dict[int, tuple[str, str | None, Any]] = {}
        self._compare_existing()
        unknown_customer = (self.customer_ids < 0).any() and not create_missing
        self.has_key_errors = bool(
            self.problem.any()
            or unknown_customer
            or (self.store_ids < 0).any()
            or (self.product_ids < 0).any()
        )
        self.lap("resolve keys")

    def _compare_existing(self) -> None:
        """Skip transactions already stored with the same header; flag those that differ."""
        check = self.check
        rows = _lookup(
            Transaction.objects.for_retailer(self.retailer),
            "external_id",
            check.transactions.strings,
            "pk",
            "customer_id",
            "customer__external_id",
            "store_id",
            "store__external_id",
            "timestamp",
        )
        if not rows:
            return
        codes = check.transactions.codes_of([row[0] for row in rows])
        customers = np.array([row[2] for row in rows], dtype=np.int64)
        stores = np.array([NO_STORE if row[4] is None else row[4] for row in rows], np.int64)
        stamps = pd.DatetimeIndex(pd.to_datetime([row[6] for row in rows], utc=True))
        micros = stamps.as_unit("us").asi8
        problem = np.select(
            [
                customers != self.tx_customer[codes],
                stores != self.tx_store[codes],
                micros != check.timestamp[codes],
            ],
            [1, 2, 3],
            0,
        ).astype(np.int8)
        self.problem[codes] = problem
        same = problem == 0
        self.skipped[codes[same]] = True
        self.tx_ids[codes[same]] = [row[1] for row, ok in zip(rows, same, strict=True) if ok]
        for i in np.flatnonzero(~same)[:10_000]:
            row = rows[i]
            self.existing[int(codes[i])] = (row[3], row[5], stamps[i])

    def _differs_message(self, code: int) -> str:
        column = self._DIFFERS[int(self.problem[code])]
        customer, store, stamp = self.existing.get(code, ("?", "?", "?"))
        stored = {"customer_id": repr(customer), "store_id": repr(store or ""), "timestamp": stamp}
        tx = self.check.transactions.strings[code]
        return (
            f"transaction {tx!r} already exists with {column} {stored[column]}; "
            "a transaction cannot be changed by importing it again"
        )

    def locate_key_errors(self, source: CsvSource | FrameSource) -> None:
        """Re-read the key columns and add a row error for each unknown or conflicting key."""
        check, errors = self.check, self.check.errors
        slug = self.retailer.slug
        for first_row, chunk in source.chunks(_KEY_COLUMNS):
            rows = np.arange(first_row, first_row + len(chunk), dtype=np.int64)
            codes = {
                name: interner.encode(chunk[name], chunk[name].str.len().to_numpy() > 0, add=False)
                for name, interner in (
                    ("transaction_id", check.transactions),
                    ("customer_id", check.customers),
                    ("store_id", check.stores),
                    ("sku", check.skus),
                )
            }
            tx = codes["transaction_id"]
            for name, ids, values, label in (
                ("customer_id", self.customer_ids, check.customers.strings, "customer"),
                ("store_id", self.store_ids, check.stores.strings, "store"),
                ("sku", self.product_ids, check.skus.strings, "SKU"),
            ):
                if name == "customer_id" and self.create_missing:
                    continue
                code = codes[name]
                at = np.flatnonzero((code >= 0) & (_at(ids, code) < 0))
                messages = [
                    f"unknown {label} {values[c]!r} (not found for retailer {slug!r})"
                    for c in code[at[:1_000]]
                ]
                errors.add(rows[at], name, messages)
            problem = np.where(tx >= 0, self.problem[np.maximum(tx, 0)], 0)
            for kind, column in self._DIFFERS.items():
                at = np.flatnonzero(problem == kind)
                messages = [self._differs_message(int(c)) for c in tx[at[:1_000]]]
                errors.add(rows[at], column, messages)

    def load(self, source: CsvSource | FrameSource, progress: Progress | None) -> dict[str, int]:
        """Write customers, transactions and lines; return the counts of the result."""
        check = self.check
        new = ~self.skipped
        customers_created = self._create_customers(new) if self.create_missing else 0
        self.lap("create customers")
        codes = np.flatnonzero(new)
        # A big import's lines become a partition of their own (see customers.line_partitions).
        partition = line_partitions.wants_partition(int(check.line_count[codes].sum()))
        self._write_transactions(codes, partition)
        self.lap("write transactions")
        # A re-imported file has nothing new: no need to read it a third time.
        lines_created = 0
        if len(codes):
            lines = self._line_chunks(source, new, progress)
            if partition:
                ids = self.tx_ids[codes]
                lines_created = line_partitions.load_lines(ids, _LINE_COLUMNS, lines)
            else:
                # One COPY per chunk: the server checks the foreign keys of a chunk (the
                # constraints are IMMEDIATE, see transactions_import) while the next one is
                # formatted.
                lines_created = insert_chunks(
                    TransactionLine, _LINE_COLUMNS, lines, statement_per_chunk=True
                )
        elif progress:
            progress(check.lines, check.lines)
        self.lap("write lines")
        return {
            "transactions_created": len(codes),
            "lines_created": lines_created,
            "customers_created": customers_created,
            "transactions_skipped": int(self.skipped.sum()),
            "lines_read": check.lines,
        }

    def _write_transactions(self, codes: np.ndarray, partition: bool) -> None:
        """Insert the new transactions (``codes``) and note their ids in ``tx_ids``: the ids
        are taken from the sequence first (a block of the import sequence when the lines
        become a ``partition``) and copied with the rows (no read-back)."""
        if not len(codes):
            return
        check = self.check
        stores = self.tx_store[codes]
        if partition:
            self.tx_ids[codes] = line_partitions.import_ids(len(codes))
        else:
            self.tx_ids[codes] = allocate_ids(Transaction, len(codes))
        columns: dict[str, Any] = {
            "id": self.tx_ids[codes],
            "retailer_id": np.full(len(codes), self.retailer.pk, dtype=np.int64),
            "external_id": check.transactions.known.take(pa.array(codes)),
            "customer_id": self.tx_customer[codes],
            "store_id": pa.array(stores, pa.int64(), mask=stores < 0),
            "timestamp": pa.array(check.timestamp[codes], pa.timestamp("us", tz="UTC")),
        }
        insert_frame(Transaction, pa.table(columns))

    def _create_customers(self, new: np.ndarray) -> int:
        """Create the unknown customers of new transactions, enrolled on their first day."""
        check = self.check
        wanted = new & (self.tx_customer < 0)
        if not wanted.any():
            return 0
        first = (
            pd.DataFrame({"code": check.customer[wanted], "ts": check.timestamp[wanted]})
            .groupby("code")["ts"]
            .min()
        )
        local = pd.to_datetime(first.to_numpy(), unit="us", utc=True).tz_convert(self.retailer.tz)
        external = [check.customers.strings[c] for c in first.index]
        insert_frame(
            Customer,
            pd.DataFrame(
                {
                    "retailer_id": self.retailer.pk,
                    "external_id": external,
                    "enrolled_on": local.date,
                    "age_band": "",
                    "income_band": "",
                    "household_size": None,
                    "email": "",
                    "marketing_consent": False,
                    "created_at": pd.Timestamp(timezone.now()),
                }
            ),
        )
        created = _ids(Customer.objects.for_retailer(self.retailer), "external_id", external)
        self.customer_ids[first.index.to_numpy()] = created
        self.tx_customer = _at(self.customer_ids, check.customer)
        return len(external)

    def _line_chunks(
        self, source: CsvSource | FrameSource, new: np.ndarray, progress: Progress | None
    ) -> Iterator[pa.Table]:
        """Re-read the file and yield the lines of new transactions, chunk by chunk."""
        check = self.check
        retailer = self.retailer.pk
        seen = np.zeros(len(check.transactions), dtype=np.int64)
        done = 0
        if progress:
            progress(0, check.lines)
        for _first_row, chunk in source.chunks(_LOAD_COLUMNS):
            live = chunk["transaction_id"].str.len().to_numpy() > 0
            count = int(live.sum())
            if count < len(chunk):  # blank rows
                chunk = chunk[live].reset_index(drop=True)
            everything = np.ones(len(chunk), dtype=bool)
            tx = check.transactions.encode(chunk["transaction_id"], everything, add=False)
            sku = check.skus.encode(chunk["sku"], everything, add=False)
            position = pd.Series(tx).groupby(tx, sort=False).cumcount().to_numpy()
            line_no = seen[tx] + position + 1
            present, counts = np.unique(tx, return_counts=True)
            seen[present] += counts
            keep = new[tx]
            if not keep.all():
                tx, sku, line_no = tx[keep], sku[keep], line_no[keep]
                chunk = chunk[keep]
            # Money and quantities go as the validated text: PostgreSQL's numeric input reads
            # it exactly (a leading "+" included).
            yield pa.table(
                {
                    "retailer_id": np.full(len(tx), retailer, dtype=np.int64),
                    "transaction_id": self.tx_ids[tx],
                    "line_no": line_no,
                    "product_id": self.product_ids[sku],
                    **{
                        name: pa.array(chunk[name], pa.string())
                        for name in ("quantity", "amount", "discount")
                    },
                }
            )
            done += count
            if progress:
                progress(done, check.lines)
