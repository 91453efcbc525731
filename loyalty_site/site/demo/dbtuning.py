"""Database session settings for loading millions of rows (demo and synthetic retailers only).

The per-row foreign key triggers are replaced by one set-wise check (and lock) of
the referenced rows per model, for the current transaction only, when the role is permitted:
:func:`foreign_keys_checked_in_bulk`, a thin wrapper of
:func:`loyalty_site.bulk.references_checked_in_bulk`, which the transaction loader uses too.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager

import pandas as pd
from django.db import connection, models

from loyalty_site.bulk import missing_references, note_references, references_checked_in_bulk

__all__ = [
    "analyze",
    "foreign_keys_checked_in_bulk",
    "missing_references",
    "note_foreign_keys",
]


def analyze(tables: Iterable[type[models.Model]]) -> None:
    """Refresh the planner statistics of these models' tables.

    After loading or before deleting millions of rows: with stale statistics (autovacuum
    lagging, or off as on this machine) the per-row foreign key checks of a delete were planned
    as sequential scans and the demo's purge ran for minutes instead of seconds.
    """
    with connection.cursor() as cursor:
        for model in tables:
            cursor.execute(f"ANALYZE {connection.ops.quote_name(model._meta.db_table)}")


def note_foreign_keys(model: type[models.Model], frame: pd.DataFrame) -> None:
    """Record the foreign key values of ``frame`` for the check at the end of
    :func:`foreign_keys_checked_in_bulk` (``insert_frame`` records them too); a no-op outside."""
    note_references(model, frame)


@contextmanager
def foreign_keys_checked_in_bulk() -> Iterator[bool]:
    """Inside ``transaction.atomic``: foreign keys of rows written in the block are checked
    set-wise at the end and their parent rows locked ``FOR KEY SHARE``, instead of one trigger
    per row (PostgreSQL, when permitted). Yields whether it is in use. See
    :func:`loyalty_site.bulk.references_checked_in_bulk`.

    Raises:
        IntegrityError: a new row references a missing row (the transaction then rolls back).
    """
    with references_checked_in_bulk() as in_use:
        yield in_use
