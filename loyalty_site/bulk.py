"""Bulk insertion into PostgreSQL with ``COPY``.

The one fast write path for big loads (bulk transaction files, the demo, generated retailers).
Rows are written as they are: callers validate first and call this inside ``transaction.atomic``.

The rows travel as CSV text that pyarrow writes (about 7 times faster than
``DataFrame.to_csv``, which formats aware timestamps at about 90 µs a row), through
``COPY ... FROM STDIN`` fed by a writer thread, so that Python formats the next chunk while the
server stores the previous one.

Every constraint stays on: the database checks each foreign key of each row with its own
trigger (Django's foreign keys are ``DEFERRABLE INITIALLY DEFERRED``, so by default at commit).
There is no switch to skip those triggers: ``session_replication_role = replica`` needs a
superuser (or a grant that lets the role skip every trigger of every table), and an ordinary
owner role may not disable a constraint's triggers. With ``statement_per_chunk`` each chunk is
its own ``COPY`` statement, so that under ``SET CONSTRAINTS ALL IMMEDIATE`` the server checks the
foreign keys of one chunk while Python formats the next (see ``customers.services
.transactions_import``).
"""

from __future__ import annotations

import queue
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeAlias, TypeGuard

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
from django.db import connections, models

#: Rows per COPY buffer: bounds memory for very large frames, and small
#: enough that formatting the next batch overlaps with the server storing this one.
CHUNK_ROWS = 50_000
#: Formatted chunks waiting for the COPY writer thread: bounds memory and keeps progress
#: reports at most this many chunks ahead of the server.
COPY_QUEUE_CHUNKS = 2
_CSV = pacsv.WriteOptions(include_header=False, quoting_style="needed")

if TYPE_CHECKING:
    import pandas as pd

    Rows: TypeAlias = pd.DataFrame | pa.Table | pa.RecordBatch


def _is_frame(rows: Any) -> TypeGuard[pd.DataFrame]:
    """Whether ``rows`` is a pandas DataFrame, without importing pandas: the contract imports
    write pyarrow tables only, and need not pay pandas' 0.4 s import (nor does a start-up)."""
    pandas = sys.modules.get("pandas")
    return pandas is not None and isinstance(rows, pandas.DataFrame)


def insert_frame(model: type[models.Model], frame: Rows, *, using: str = "default") -> int:
    """Insert every row of ``frame`` into ``model``'s table and return the number of rows.

    ``frame`` (a DataFrame or a pyarrow Table) has database column names of ``model``
    (``retailer_id``, not ``retailer``). Missing values (NaN, None, NaT, null) become NULL.
    Auto-increment keys are left to the database unless ``id`` is a column. No model
    ``save()``, signals or validation run.
    """
    if not len(frame):
        return 0
    if _is_frame(frame):
        columns = list(frame.columns)
        parts: Iterable[Rows] = (
            frame.iloc[start : start + CHUNK_ROWS] for start in range(0, len(frame), CHUNK_ROWS)
        )
    else:
        columns, parts = frame.column_names, frame.to_batches(CHUNK_ROWS)
    return insert_chunks(model, columns, parts, using=using)


def insert_chunks(
    model: type[models.Model],
    columns: list[str],
    chunks: Iterable[Rows],
    *,
    using: str = "default",
    statement_per_chunk: bool = False,
    table: str | None = None,
) -> int:
    """Insert the rows of every chunk (DataFrames, pyarrow Tables or RecordBatches with
    ``columns``) with ``COPY``; return the number of rows.

    ``chunks`` may be a generator: the next chunk is produced while the server stores the
    previous one, and only a bounded queue of formatted text is held in between. One ``COPY``
    takes every chunk, unless ``statement_per_chunk``: then each chunk is its own statement, and
    the triggers of constraints set ``IMMEDIATE`` run at the end of each (while the next chunk
    is formatted) instead of all at the end. ``table`` names another table with ``model``'s
    columns (a partition being loaded, see ``loyalty_site.partitions``).
    """
    connection = connections[using]
    quote = connection.ops.quote_name
    target = quote(table or model._meta.db_table)
    names = ", ".join(quote(c) for c in columns)
    sql = f"COPY {target} ({names}) FROM STDIN WITH (FORMAT csv)"
    written = 0
    with (
        connection.cursor() as cursor,
        _copy_in_background(cursor.cursor, sql, statement_per_chunk) as send,
    ):
        for chunk in chunks:
            if not len(chunk):
                continue
            send(csv_text(_select(chunk, columns)))
            written += len(chunk)
    return written


@contextmanager
def _copy_in_background(
    cursor: Any, sql: str, statement_per_chunk: bool = False
) -> Iterator[Callable[[Any], None]]:
    """Run ``COPY ... FROM STDIN`` and yield ``send(buffer)``: a writer thread feeds the buffers
    to the server while the caller prepares the next one (formatting and the server's work
    overlap on two cores). At most :data:`COPY_QUEUE_CHUNKS` buffers wait in between. With
    ``statement_per_chunk`` every buffer is a ``COPY`` statement of its own."""
    pending: queue.Queue[Any] = queue.Queue(maxsize=COPY_QUEUE_CHUNKS)
    failed: list[BaseException] = []
    ended = threading.Event()  # the producer's end marker (None) was taken

    def buffers() -> Iterator[Any]:
        while (data := pending.get()) is not None:
            yield data
        ended.set()

    def pump() -> None:
        try:
            if statement_per_chunk:
                for data in buffers():
                    with cursor.copy(sql) as copy:
                        copy.write(memoryview(data))
            else:
                with cursor.copy(sql) as copy:
                    for data in buffers():
                        copy.write(memoryview(data))
        except BaseException as exc:  # handed to the caller's thread below
            failed.append(exc)
            if not ended.is_set():
                for _ in buffers():  # unblock the producer until it stops
                    pass

    def send(data: Any) -> None:
        if failed:
            raise failed[0]
        pending.put(data)

    writer = threading.Thread(target=pump, name="bulk-copy", daemon=True)
    writer.start()
    try:
        yield send
    finally:
        pending.put(None)
        writer.join()
    if failed:
        raise failed[0]


def _select(rows: Rows, columns: list[str]) -> Rows:
    return rows[columns] if _is_frame(rows) else rows.select(columns)


def csv_text(rows: Rows) -> pa.Buffer:
    """``rows`` as headerless CSV that PostgreSQL's ``COPY ... (FORMAT csv)`` reads back exactly:
    NULL is an unquoted empty field, text is always quoted (so ``""`` is an empty string)."""
    if _is_frame(rows):
        try:
            table = pa.Table.from_pandas(rows, preserve_index=False)
        except (pa.ArrowException, TypeError, ValueError):  # an object column of mixed types
            mixed = rows.select_dtypes("object").columns
            table = pa.Table.from_pandas(
                rows.astype(dict.fromkeys(mixed, "str")), preserve_index=False
            )
    elif isinstance(rows, pa.RecordBatch):
        table = pa.Table.from_batches([rows])
    else:
        table = rows
    for i, field in enumerate(table.schema):
        if pa.types.is_timestamp(field.type):
            table = table.set_column(i, field.name, timestamp_text(table.column(i), field.type))
    sink = pa.BufferOutputStream()
    pacsv.write_csv(table, sink, _CSV)
    return sink.getvalue()


def timestamp_text(column: pa.ChunkedArray | pa.Array, kind: pa.DataType) -> pa.Array:
    """ISO text of a timestamp column (``2024-06-01 07:30:00.500000+00`` when time-zone aware).

    Arrow's own formatting of sub-second timestamps costs about 5 µs a value; this splits them
    into whole seconds (fast) and zero-padded microseconds.
    """
    micros = pc.cast(column, pa.timestamp("us", kind.tz)).cast(pa.int64())
    if isinstance(micros, pa.ChunkedArray):
        micros = micros.combine_chunks()
    mask = micros.is_null().to_numpy(zero_copy_only=False)
    values = micros.fill_null(0).to_numpy()
    seconds = pa.array(np.floor_divide(values, 1_000_000), pa.timestamp("s"), mask=mask)
    fraction = pc.utf8_lpad(pc.cast(pa.array(np.remainder(values, 1_000_000)), pa.string()), 6, "0")
    suffix = "+00" if kind.tz else ""
    return pc.binary_join_element_wise(
        pc.cast(seconds, pa.string()), pa.scalar("."), fraction, pa.scalar(suffix), ""
    )


def allocate_ids(model: type[models.Model], count: int, *, using: str = "default") -> np.ndarray:
    """``count`` new primary keys of ``model`` from its sequence (one query), so
    rows can be copied with their ids instead of being read back by natural key.

    Without concurrent inserts the values are consecutive and only their range travels back;
    otherwise the list of values does.

    The sequence is looked up first, on its own: inside the ``nextval`` call PostgreSQL
    evaluated ``pg_get_serial_sequence`` once per value (also from a subquery, which it
    flattens), about 3.5 us each, 0.9 s of the server's time for 250,000 transactions; on a
    ``regclass`` parameter ``nextval`` costs about 0.6 us.
    """
    connection = connections[using]
    table, pk = model._meta.db_table, model._meta.pk.column
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_get_serial_sequence(%s, %s)::regclass::oid",
            [connection.ops.quote_name(table), pk],
        )
        (sequence,) = cursor.fetchone()
        cursor.execute(
            "WITH ids AS (SELECT nextval(%s::oid::regclass) AS id FROM generate_series(1, %s)) "
            "SELECT min(id), max(id), CASE WHEN max(id) - min(id) + 1 = count(*) THEN NULL "
            "ELSE string_agg(id::text, ',') END FROM ids",
            [sequence, count],
        )
        low, high, listed = cursor.fetchone()
    if listed is None:
        return np.arange(low, high + 1, dtype=np.int64)
    return np.array(listed.split(","), dtype=np.int64)


def id_map(queryset: models.QuerySet, key: str) -> dict[str, int]:
    """``{key value: primary key}`` for every row of ``queryset`` (e.g. SKU -> product id).

    Used to resolve natural keys of a whole file at once instead of one query per row.
    """
    return dict(queryset.values_list(key, "pk").iterator(chunk_size=50_000))


def analyze(tables: Iterable[type[models.Model]], *, using: str = "default") -> None:
    """Refresh the planner statistics of these models' tables (``ANALYZE``, allowed inside a
    transaction).

    After a bulk write: with autovacuum lagging (or off, as on the project's CI machines) the
    planner still believes a freshly filled table is empty, and plans the next import's lookup
    of tens of thousands of keys as a sequential scan compared with every key.
    """
    connection = connections[using]
    with connection.cursor() as cursor:
        for model in tables:
            cursor.execute(f"ANALYZE {connection.ops.quote_name(model._meta.db_table)}")
