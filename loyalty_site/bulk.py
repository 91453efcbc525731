"""Bulk insertion of DataFrames: PostgreSQL ``COPY`` where available, ``executemany`` elsewhere.

The one fast write path for big loads (bulk transaction files, the demo, generated retailers).
Rows are written as they are: callers validate first and call this inside ``transaction.atomic``.
"""

from __future__ import annotations

import io

import pandas as pd
from django.db import connections, models

#: Rows per COPY buffer / executemany batch: bounds memory for very large frames.
CHUNK_ROWS = 200_000


def insert_frame(model: type[models.Model], frame: pd.DataFrame, *, using: str = "default") -> int:
    """Insert every row of ``frame`` into ``model``'s table and return the number of rows.

    ``frame`` columns must be database column names of ``model`` (``retailer_id``, not
    ``retailer``). Missing values (NaN, None, NaT) become NULL. Auto-increment keys are left to
    the database unless ``id`` is a column. No model ``save()``, signals or validation run.
    """
    if frame.empty:
        return 0
    table = model._meta.db_table
    connection = connections[using]
    columns = list(frame.columns)
    quoted = ", ".join(connection.ops.quote_name(c) for c in columns)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            for start in range(0, len(frame), CHUNK_ROWS):
                chunk = frame.iloc[start : start + CHUNK_ROWS]
                buffer = io.StringIO()
                chunk.to_csv(buffer, index=False, header=False, na_rep="\\N")
                sql = (
                    f"COPY {connection.ops.quote_name(table)} ({quoted}) "
                    "FROM STDIN WITH (FORMAT csv, NULL '\\N')"
                )
                with cursor.cursor.copy(sql) as copy:
                    copy.write(buffer.getvalue())
        else:
            frame = _sqlite_ready(frame)
            placeholders = ", ".join(["%s"] * len(columns))
            sql = (
                f"INSERT INTO {connection.ops.quote_name(table)} ({quoted}) VALUES ({placeholders})"  # noqa: S608
            )
            for start in range(0, len(frame), CHUNK_ROWS):
                chunk = frame.iloc[start : start + CHUNK_ROWS]
                rows = chunk.astype(object).where(chunk.notna(), None).itertuples(index=False)
                cursor.executemany(sql, [tuple(r) for r in rows])
    return len(frame)


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


def id_map(queryset: models.QuerySet, key: str) -> dict[str, int]:
    """``{key value: primary key}`` for every row of ``queryset`` (e.g. SKU -> product id).

    Used to resolve natural keys of a whole file at once instead of one query per row.
    """
    return dict(queryset.values_list(key, "pk").iterator(chunk_size=50_000))
