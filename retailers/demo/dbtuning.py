"""Database session settings for loading millions of rows (demo and synthetic retailers only).

SQLite: a bigger page cache keeps the indexes in memory while they grow.

PostgreSQL: Django's foreign keys are checked by one trigger call per inserted row and foreign
key, which costs more than the ``COPY`` itself (about 4.4 million checks for the demo's 1.46
million lines). When the role may set ``session_replication_role`` (superusers, or a role
granted ``SET`` on it), :func:`foreign_keys_checked_in_bulk` switches those per-row triggers off
for the current transaction only (``SET LOCAL``, as ``pg_restore --disable-triggers`` does);
the writers record the foreign key values they insert (:func:`note_foreign_keys`) and each
distinct referenced id is looked up once at the end, raising ``IntegrityError`` on a dangling
reference. Other roles keep the per-row triggers.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

import numpy as np
import pandas as pd
from django.db import DatabaseError, IntegrityError, connection, models, transaction

_state = threading.local()  # per thread: generate_retailer writes chunks in worker threads


@contextmanager
def bulk_session(cache_mb: int = 256) -> Iterator[None]:
    """On SQLite, a page cache of ``cache_mb`` for the ``with`` block (about twice as fast
    for millions of index entries). No-op on other databases."""
    if connection.vendor != "sqlite":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA cache_size")
        (previous,) = cursor.fetchone()
        cursor.execute(f"PRAGMA cache_size = {-1024 * int(cache_mb)}")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"PRAGMA cache_size = {int(previous)}")


def analyze(tables: Iterable[type[models.Model]]) -> None:
    """PostgreSQL: refresh the planner statistics of these models' tables (no-op elsewhere).

    After loading or before deleting millions of rows: with stale statistics (autovacuum
    lagging, or off as on this machine) the per-row foreign key checks of a delete were planned
    as sequential scans and the demo's purge ran for minutes instead of seconds.
    """
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        for model in tables:
            cursor.execute(f"ANALYZE {connection.ops.quote_name(model._meta.db_table)}")


def _skip_row_triggers() -> bool:
    """Try ``SET LOCAL session_replication_role = replica``; False when not permitted."""
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET LOCAL session_replication_role = replica")
    except DatabaseError:
        return False
    return True


def note_foreign_keys(model: type[models.Model], frame: pd.DataFrame) -> None:
    """Record the foreign key values of ``frame`` (about to be inserted into ``model``) for the
    check at the end of :func:`foreign_keys_checked_in_bulk`; a no-op outside of it."""
    refs = getattr(_state, "refs", None)
    if refs is None:
        return
    for field in model._meta.concrete_fields:
        if field.many_to_one and field.db_constraint and field.column in frame:
            values = pd.unique(frame[field.column].dropna().to_numpy(dtype=np.int64))
            refs.setdefault(field.related_model, []).append(values)


def missing_references(refs: dict[type[models.Model], list[np.ndarray]]) -> list[str]:
    """``"Model=id"`` for referenced ids that have no row (at most one example per model)."""
    quote = connection.ops.quote_name
    problems = []
    with connection.cursor() as cursor:
        for parent, parts in refs.items():
            ids = np.unique(np.concatenate(parts)).tolist()
            table, pk = quote(parent._meta.db_table), quote(parent._meta.pk.column)
            cursor.execute(
                f"SELECT i FROM unnest(%s::bigint[]) AS i "  # noqa: S608
                f"WHERE NOT EXISTS (SELECT 1 FROM {table} p WHERE p.{pk} = i) LIMIT 1",
                [ids],
            )
            row = cursor.fetchone()
            if row is not None:
                problems.append(f"{parent._meta.label}={row[0]}")
    return problems


@contextmanager
def foreign_keys_checked_in_bulk() -> Iterator[bool]:
    """Inside ``transaction.atomic``: the foreign keys of rows written in the block through
    :func:`note_foreign_keys` callers are checked set-wise at the end, instead of by one trigger
    per row (PostgreSQL, when permitted; see the module docstring). Yields whether it is in use.

    The check looks up each distinct referenced id once (``= ANY`` on the primary key). Unlike
    the triggers it does not lock the referenced rows: fine for demo and synthetic retailers,
    which only these commands write.

    Raises:
        IntegrityError: a new row references a missing row (the transaction then rolls back).
    """
    if connection.vendor != "postgresql" or not _skip_row_triggers():
        yield False
        return
    refs: dict[type[models.Model], list[np.ndarray]] = {}
    _state.refs = refs
    try:
        yield True
    finally:
        _state.refs = None
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL session_replication_role = DEFAULT")
    problems = missing_references(refs)
    if problems:
        raise IntegrityError(f"dangling foreign keys after bulk insert: {', '.join(problems)}")
