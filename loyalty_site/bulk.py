"""Bulk insertion: PostgreSQL ``COPY`` where available, ``executemany`` elsewhere.

The one fast write path for big loads (bulk transaction files, the demo, generated retailers).
Rows are written as they are: callers validate first and call this inside ``transaction.atomic``.

On PostgreSQL the rows travel as CSV text that pyarrow writes (about 7 times faster than
``DataFrame.to_csv``, which formats aware timestamps at about 90 µs a row), through a
``COPY ... FROM STDIN`` fed by a writer thread, so that Python formats the next chunk while the
server stores the previous one.

Foreign keys (:func:`references_checked_in_bulk`): Django's foreign keys are checked by one
trigger call per inserted row and key, at commit; for millions of rows that costs more than the
``COPY`` itself. When the role may set ``session_replication_role`` (superusers, or a role
granted ``SET`` on it: ``GRANT SET ON PARAMETER session_replication_role TO app``), the block
switches those per-row triggers off for the current transaction only (``SET LOCAL``, as
``pg_restore --disable-triggers`` does). The writers record the ids they reference
(:func:`note_references`, done by :func:`insert_frame` / :func:`insert_chunks`) and at the end
each distinct referenced row is looked up once and locked ``FOR KEY SHARE``, as the trigger would
have: a missing row raises ``IntegrityError``, and a row found cannot be deleted (nor its key
changed) by another transaction until this one ends; such a ``DELETE`` waits and then fails on
the foreign key, which sees the committed rows. Other roles, and other databases, keep the
per-row checks. (The grant lets that role's sessions skip every trigger and foreign key check:
give it to the application's own role only.)
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, TypeAlias

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
from django.db import DatabaseError, IntegrityError, connections, models, transaction

#: Rows per COPY buffer / executemany batch: bounds memory for very large frames, and small
#: enough that formatting the next batch overlaps with the server storing this one.
CHUNK_ROWS = 50_000
#: Formatted chunks waiting for the COPY writer thread: bounds memory and keeps progress
#: reports at most this many chunks ahead of the server.
COPY_QUEUE_CHUNKS = 2
_CSV = pacsv.WriteOptions(include_header=False, quoting_style="needed")
_state = threading.local()  # per thread: the demo generator writes chunks in worker threads

Rows: TypeAlias = pd.DataFrame | pa.Table | pa.RecordBatch


def insert_frame(model: type[models.Model], frame: Rows, *, using: str = "default") -> int:
    """Insert every row of ``frame`` into ``model``'s table and return the number of rows.

    ``frame`` (a DataFrame or a pyarrow Table) has database column names of ``model``
    (``retailer_id``, not ``retailer``). Missing values (NaN, None, NaT, null) become NULL.
    Auto-increment keys are left to the database unless ``id`` is a column. No model
    ``save()``, signals or validation run.
    """
    if not len(frame):
        return 0
    if isinstance(frame, pd.DataFrame):
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
) -> int:
    """Insert the rows of every chunk (DataFrames, pyarrow Tables or RecordBatches with
    ``columns``) with ONE ``COPY`` on PostgreSQL; return the number of rows.

    ``chunks`` may be a generator: on PostgreSQL the next chunk is produced while the server
    stores the previous one, and only a bounded queue of formatted text is held in between.
    """
    connection = connections[using]
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    names = ", ".join(quote(c) for c in columns)
    written = 0
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            sql = f"COPY {table} ({names}) FROM STDIN WITH (FORMAT csv)"
            with _copy_in_background(cursor.cursor, sql) as send:
                for chunk in chunks:
                    if not len(chunk):
                        continue
                    note_references(model, chunk)
                    note_created(model, chunk)
                    send(csv_text(_select(chunk, columns)))
                    written += len(chunk)
            return written
        placeholders = ", ".join(["%s"] * len(columns))
        sql = f"INSERT INTO {table} ({names}) VALUES ({placeholders})"  # noqa: S608
        for chunk in chunks:
            if not len(chunk):
                continue
            frame = _select(chunk, columns)
            frame = _sqlite_ready(
                frame
                if isinstance(frame, pd.DataFrame)
                else frame.to_pandas(integer_object_nulls=True)
            )
            rows = frame.astype(object).where(frame.notna(), None).itertuples(index=False)
            cursor.executemany(sql, [tuple(r) for r in rows])
            written += len(frame)
    return written


class DanglingReferences(IntegrityError):
    """Rows written in bulk reference rows that do not exist (any more)."""


@contextmanager
def _copy_in_background(cursor: Any, sql: str) -> Iterator[Callable[[Any], None]]:
    """Run ``COPY ... FROM STDIN`` and yield ``send(buffer)``: a writer thread feeds the buffers
    to the server while the caller prepares the next one (formatting and the server's work
    overlap on two cores). At most :data:`COPY_QUEUE_CHUNKS` buffers wait in between."""
    pending: queue.Queue[Any] = queue.Queue(maxsize=COPY_QUEUE_CHUNKS)
    failed: list[BaseException] = []
    with cursor.copy(sql) as copy:

        def pump() -> None:
            try:
                while (data := pending.get()) is not None:
                    copy.write(memoryview(data))
            except BaseException as exc:  # handed to the caller's thread below
                failed.append(exc)
                while pending.get() is not None:  # unblock the producer until it stops
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
    return rows[columns] if isinstance(rows, pd.DataFrame) else rows.select(columns)


def csv_text(rows: Rows) -> pa.Buffer:
    """``rows`` as headerless CSV that PostgreSQL's ``COPY ... (FORMAT csv)`` reads back exactly:
    NULL is an unquoted empty field, text is always quoted (so ``""`` is an empty string)."""
    if isinstance(rows, pd.DataFrame):
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


def _sqlite_ready(frame: pd.DataFrame) -> pd.DataFrame:
    """Convert columns SQLite's driver cannot adapt: aware datetimes become UTC text as Django
    stores them."""
    out = frame.copy(deep=False)
    for name in out.columns:
        column = out[name]
        if isinstance(column.dtype, pd.DatetimeTZDtype):
            out[name] = column.dt.tz_convert("UTC").dt.strftime("%Y-%m-%d %H:%M:%S.%f")
        elif pd.api.types.is_datetime64_dtype(column.dtype):
            raise ValueError(f"column {name!r} holds naive datetimes; localise them first")
    return out


def allocate_ids(model: type[models.Model], count: int, *, using: str = "default") -> np.ndarray:
    """``count`` new primary keys of ``model`` from its PostgreSQL sequence (one query), so
    rows can be copied with their ids instead of being read back by natural key.

    Without concurrent inserts the values are consecutive and only their range travels back;
    otherwise the list of values does.
    """
    connection = connections[using]
    table, pk = model._meta.db_table, model._meta.pk.column
    with connection.cursor() as cursor:
        cursor.execute(
            "WITH ids AS (SELECT nextval(pg_get_serial_sequence(%s, %s)) AS id "
            "FROM generate_series(1, %s)) "
            "SELECT min(id), max(id), CASE WHEN max(id) - min(id) + 1 = count(*) THEN NULL "
            "ELSE string_agg(id::text, ',') END FROM ids",
            [connection.ops.quote_name(table), pk, count],
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


# --- foreign keys checked set-wise ---------------------------------------------------------


def _skip_row_triggers(using: str) -> bool:
    """Try ``SET LOCAL session_replication_role = replica``; False when not permitted."""
    try:
        with transaction.atomic(using=using), connections[using].cursor() as cursor:
            cursor.execute("SET LOCAL session_replication_role = replica")
    except DatabaseError:
        return False
    return True


def note_references(model: type[models.Model], rows: Rows | Mapping[str, Any]) -> None:
    """Record the foreign key values of ``rows`` (about to be inserted into ``model``) for the
    check at the end of :func:`references_checked_in_bulk`; a no-op outside of it.

    ``rows`` is a DataFrame, a pyarrow Table/RecordBatch or ``{column: values}``; foreign keys
    without a database constraint (``db_constraint=False``) are not checked.
    """
    refs = getattr(_state, "refs", None)
    if refs is None:
        return
    names = rows.column_names if isinstance(rows, pa.Table | pa.RecordBatch) else list(rows)
    for field in model._meta.concrete_fields:
        if not (
            isinstance(field, models.ForeignKey)
            and field.db_constraint  # type: ignore[attr-defined]  # missing in django-stubs 6.1.2
            and field.column in names
        ):
            continue
        values = rows[field.column]
        if isinstance(values, pa.ChunkedArray | pa.Array):
            values = pc.unique(values.drop_null()).to_numpy()
        else:
            values = pd.unique(pd.Series(values).dropna().to_numpy(dtype=np.int64))
        refs.setdefault(field.related_model, []).append(np.asarray(values, dtype=np.int64))


def note_created(model: type[models.Model], rows: Rows) -> None:
    """Record the primary keys of rows this transaction inserts with explicit ids: references
    to them need no check nor lock (no other transaction can see them before commit)."""
    created = getattr(_state, "created", None)
    pk = model._meta.pk.column
    if created is None or pk not in (
        rows.column_names if isinstance(rows, pa.Table | pa.RecordBatch) else list(rows)
    ):
        return
    values = rows[pk]
    values = values.to_numpy() if isinstance(values, pa.ChunkedArray | pa.Array) else values
    created.setdefault(model, []).append(np.asarray(values, dtype=np.int64))


def lock_references(
    refs: Mapping[type[models.Model], list[np.ndarray]],
    *,
    created: Mapping[type[models.Model], list[np.ndarray]] | None = None,
    using: str = "default",
) -> list[str]:
    """Lock every referenced row ``FOR KEY SHARE`` (one query per model), except those in
    ``created``; return ``"Model=id"`` for referenced ids that have no row (at most one example
    per model)."""
    connection = connections[using]
    quote = connection.ops.quote_name
    problems = []
    with connection.cursor() as cursor:
        for parent, parts in refs.items():
            ids = pd.unique(np.concatenate(parts)) if parts else np.empty(0, np.int64)
            if created and created.get(parent):
                ids = ids[~pd.Series(ids).isin(np.concatenate(created[parent])).to_numpy()]
            ids = np.sort(ids)
            if not len(ids):
                continue
            # A primary key is a concrete field: its column is never None (the stubs allow it).
            table, pk = quote(parent._meta.db_table), quote(parent._meta.pk.column)  # type: ignore[arg-type]
            # Ordered, so that two loaders lock shared parents in the same order.
            cursor.execute(
                f"SELECT {pk} FROM {table} WHERE {pk} = ANY(%s::bigint[]) "  # noqa: S608
                f"ORDER BY {pk} FOR KEY SHARE",
                [ids.tolist()],
            )
            found = np.fromiter((row[0] for row in cursor.fetchall()), np.int64)
            missing = ids[~pd.Series(ids).isin(found).to_numpy()]
            if len(missing):
                problems.append(f"{parent._meta.label}={int(missing[0])}")
    return problems


def missing_references(refs: Mapping[type[models.Model], list[np.ndarray]]) -> list[str]:
    """Same as :func:`lock_references` (kept for the demo's callers)."""
    return lock_references(refs)


@contextmanager
def references_checked_in_bulk(*, using: str = "default") -> Iterator[bool]:
    """Inside ``transaction.atomic``: the foreign keys of rows written in the block by
    :func:`insert_frame` / :func:`insert_chunks` (or recorded with :func:`note_references`) are
    checked and their rows locked set-wise at the end, instead of by one trigger per row
    (PostgreSQL, when the role is permitted; see the module docstring). Yields whether it is in
    use; when not, the database's own per-row checks run as usual.

    Rows written by other means inside the block are NOT checked: write only through these.

    Raises:
        IntegrityError: a new row references a missing row (the transaction then rolls back).
    """
    connection = connections[using]
    if connection.vendor != "postgresql" or not _skip_row_triggers(using):
        yield False
        return
    refs: dict[type[models.Model], list[np.ndarray]] = {}
    created: dict[type[models.Model], list[np.ndarray]] = {}
    _state.refs, _state.created = refs, created
    try:
        yield True
    finally:
        _state.refs = _state.created = None
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL session_replication_role = DEFAULT")
    problems = lock_references(refs, created=created, using=using)
    if problems:
        raise DanglingReferences(f"dangling foreign keys after bulk insert: {', '.join(problems)}")
