"""Database session settings for loading millions of rows (demo and synthetic retailers only).

SQLite: a bigger page cache keeps the indexes in memory while they grow.

PostgreSQL checks every foreign key with its own per-row triggers (no session switches them
off: see :mod:`loyalty_site.bulk`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from django.db import connection, models

__all__ = ["analyze", "bulk_session"]


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
