"""Loading a big batch of rows as a new partition of a range-partitioned table, and merging
such partitions.

The classic "partition exchange" load of data warehouses, for an ordinary owner role with every
constraint on: the rows are copied into a new plain table (no index, no trigger), its indexes
are built in one sort each and its range checked by a ``CHECK`` constraint (one pass), then it
is attached as the partition for the batch's key range: ``ATTACH PARTITION`` matches the
indexes, trusts the range and checks each foreign key with one anti-join over the new rows,
instead of one index insert per row and index and one trigger query per row and key (about
4.7 us each, more than half of a per-row load's server time).

The price, paid at the end of the load and only until its commit: ``ATTACH PARTITION`` takes
``SHARE UPDATE EXCLUSIVE`` on the partitioned table (reads and writes go on; a second attach or
an index build waits) and, to check the foreign keys, ``SHARE ROW EXCLUSIVE`` on each referenced
table (their reads go on; their inserts, updates and deletes wait). PostgreSQL 15 and 16 offer
nothing lighter that keeps the keys checked.

Hand-written because no maintained library loads partitions this way: pg_partman and
django-postgres-extra create and rotate time partitions, they do not attach a loaded table.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from django.db import connections, models, transaction

from loyalty_site.bulk import insert_chunks

if TYPE_CHECKING:
    from loyalty_site.bulk import Rows

#: First key of pg_advisory_lock's two-integer form for sequence blocks (the second is the
#: sequence's oid): a number of this project's own, distinct from any other lock it takes.
_BLOCK_LOCK = 0x10A1


def allocate_block(sequence: str, count: int, *, using: str = "default") -> int:
    """Reserve ``count`` consecutive values of ``sequence``; return the first.

    A session advisory lock keeps two concurrent reservations from interleaving (``nextval``
    alone hands out values one by one); it is released at once, not at commit. Like any
    sequence value, a reserved block is not given back if the transaction rolls back.
    """
    if count < 1:
        raise ValueError(f"count must be at least 1, not {count}")
    with connections[using].cursor() as cursor:
        cursor.execute("SELECT %s::regclass::oid", [sequence])
        (oid,) = cursor.fetchone()
        cursor.execute("SELECT pg_advisory_lock(%s, %s)", [_BLOCK_LOCK, oid])
        try:
            cursor.execute(
                "SELECT setval(%s::regclass, nextval(%s::regclass) + %s - 1) - %s + 1",
                [sequence, sequence, count, count],
            )
            (first,) = cursor.fetchone()
        finally:
            cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [_BLOCK_LOCK, oid])
    return int(first)


def lock_for_load(model: type[models.Model], *, using: str = "default") -> None:
    """Take now, until commit, the lock that :func:`load_partition`'s attach takes on
    ``model``'s table (``SHARE UPDATE EXCLUSIVE``: reads and writes go on, another load waits).

    A load that writes referenced rows first (new transactions for its lines) must take it
    before them: two such loads at once would deadlock, each attach waiting for the other's
    new rows while holding this lock.
    """
    connection = connections[using]
    with connection.cursor() as cursor:
        table = connection.ops.quote_name(model._meta.db_table)
        cursor.execute(f"LOCK TABLE {table} IN SHARE UPDATE EXCLUSIVE MODE")


def can_attach(model: type[models.Model], *, using: str = "default") -> bool:
    """Whether this session's role may create and attach partitions of ``model``'s table: it
    owns the table (or is a member of its owner) and may create tables in its schema."""
    with connections[using].cursor() as cursor:
        cursor.execute(
            "SELECT pg_has_role(relowner, 'USAGE') AND has_schema_privilege(relnamespace, "
            "'CREATE') FROM pg_class WHERE oid = %s::regclass",
            [model._meta.db_table],
        )
        return bool(cursor.fetchone()[0])


def list_partitions(
    model: type[models.Model], *, using: str = "default"
) -> list[tuple[str, str, int]]:
    """``(name, bound, rows)`` of each partition of ``model``'s table, from the catalogue alone:
    ``bound`` as PostgreSQL writes it (``FOR VALUES FROM ('1') TO ('9')``), ``rows`` the
    planner's estimate (exact after an ``ANALYZE``; 0 if never analysed)."""
    with connections[using].cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid), greatest(c.reltuples, 0) "
            "FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = %s::regclass",
            [model._meta.db_table],
        )
        return [(name, bound, int(rows)) for name, bound, rows in cursor.fetchall()]


def drop_if_empty(names: list[str], *, using: str = "default") -> list[str]:
    """Drop those of the partitions ``names`` that hold no row, in one transaction; return
    their names. Each drop locks the partitioned table (``ACCESS EXCLUSIVE``) until commit."""
    connection = connections[using]
    quote = connection.ops.quote_name
    dropped = []
    with transaction.atomic(using=using), connection.cursor() as cursor:
        for name in names:
            cursor.execute(f"SELECT EXISTS (SELECT FROM {quote(name)})")  # noqa: S608
            if not cursor.fetchone()[0]:
                cursor.execute(f"DROP TABLE {quote(name)}")
                dropped.append(name)
    return dropped


def partition_name(model: type[models.Model], low: int) -> str:
    """The table name of ``model``'s partition that starts at key ``low``."""
    return f"{model._meta.db_table}_{low}"


def load_partition(
    model: type[models.Model],
    key: str,
    low: int,
    high: int,
    columns: list[str],
    chunks: Iterable[Rows],
    *,
    using: str = "default",
) -> int:
    """Copy ``chunks`` into a new table and attach it as the partition of ``model``'s table for
    ``low <= key < high``; return the number of rows.

    Call inside ``transaction.atomic()``: a failure (a row outside the range, a missing foreign
    key, a duplicate key) rolls back the table with the rows. ``model``'s table must be
    partitioned by range of ``key`` and have no partition overlapping the range.
    """
    name = partition_name(model, low)
    _create_like(model, name, using)
    written = insert_chunks(model, columns, chunks, using=using, table=name)
    _prepare(model, name, key, low, high, using)
    _attach(model, name, low, high, using)
    return written


def merge_partitions(
    model: type[models.Model],
    key: str,
    names: list[str],
    low: int,
    high: int,
    *,
    using: str = "default",
) -> str:
    """Replace the partitions ``names`` of ``model``'s table by one for ``low <= key < high``
    (their joint range); return its name. Call inside ``transaction.atomic()``.

    The rows are copied and indexed while the old partitions are only locked against writes
    (``SHARE``); then the old ones are dropped and the new one attached, which holds
    ``ACCESS EXCLUSIVE`` on ``model``'s table (its reads wait too) for the set-wise foreign
    key check, until commit.
    """
    connection = connections[using]
    quote = connection.ops.quote_name
    staging = f"{model._meta.db_table}_merging"
    columns = ", ".join(
        quote(field.column) for field in model._meta.concrete_fields if field.column
    )
    lock_for_load(model, using=using)  # no load meanwhile
    with connection.cursor() as cursor:
        cursor.execute(f"LOCK TABLE {', '.join(quote(name) for name in names)} IN SHARE MODE")
        _create_like(model, staging, using)
        for name in names:
            cursor.execute(
                f"INSERT INTO {quote(staging)} ({columns}) SELECT {columns} FROM {quote(name)}"  # noqa: S608
            )
        _prepare(model, staging, key, low, high, using)
        for name in names:
            cursor.execute(f"DROP TABLE {quote(name)}")
        merged = partition_name(model, low)
        cursor.execute(f"ALTER TABLE {quote(staging)} RENAME TO {quote(merged)}")
    _attach(model, merged, low, high, using, bounds=f"{staging}_bounds")
    return merged


def _create_like(model: type[models.Model], name: str, using: str) -> None:
    """Create table ``name`` with the columns, defaults and checks of ``model``'s table (no
    index: :func:`_prepare` builds them once it is filled; no foreign key: :func:`_attach`
    adds them)."""
    quote = connections[using].ops.quote_name
    with connections[using].cursor() as cursor:
        cursor.execute(
            f"CREATE TABLE {quote(name)} (LIKE {quote(model._meta.db_table)} "
            "INCLUDING DEFAULTS INCLUDING CONSTRAINTS)"
        )


def _prepare(
    model: type[models.Model], name: str, key: str, low: int, high: int, using: str
) -> None:
    """Index the filled table ``name`` like ``model``'s table and check its range with a
    ``CHECK`` constraint (one pass): then :func:`_attach` only matches the indexes and trusts
    the range, and holds its locks for the foreign key checks alone."""
    connection = connections[using]
    quote = connection.ops.quote_name
    table, column = quote(name), quote(key)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.contype, pg_get_constraintdef(c.oid), "
            "regexp_replace(pg_get_indexdef(i.indexrelid), '^.* USING ', '') "
            "FROM pg_index i LEFT JOIN pg_constraint c ON c.conindid = i.indexrelid "
            "AND c.conrelid = i.indrelid WHERE i.indrelid = %s::regclass ORDER BY 1, 2, 3",
            [model._meta.db_table],
        )
        for kind, constraint, index in cursor.fetchall():
            if kind in ("p", "u"):  # a key: the partition's must be a constraint too
                cursor.execute(f"ALTER TABLE {table} ADD {constraint}")
            else:
                cursor.execute(f"CREATE INDEX ON {table} USING {index}")
        cursor.execute(
            f"ALTER TABLE {table} ADD CONSTRAINT {quote(f'{name}_bounds')} "
            f"CHECK ({column} >= {int(low)} AND {column} < {int(high)})"
        )


def _attach(
    model: type[models.Model],
    name: str,
    low: int,
    high: int,
    using: str,
    bounds: str | None = None,
) -> None:
    """Attach the prepared table ``name`` (:func:`_prepare`; ``bounds`` names its range check
    if the table was renamed since) as the partition for ``low <= key < high``.

    The referenced tables are locked ``SHARE ROW EXCLUSIVE`` from here to the commit, for the
    set-wise foreign key checks."""
    connection = connections[using]
    quote = connection.ops.quote_name
    table = quote(name)
    with connection.cursor() as cursor:
        cursor.execute(
            f"ALTER TABLE {quote(model._meta.db_table)} ATTACH PARTITION {table} "
            f"FOR VALUES FROM ({int(low)}) TO ({int(high)})"
        )
        # The range says it now.
        cursor.execute(f"ALTER TABLE {table} DROP CONSTRAINT {quote(bounds or f'{name}_bounds')}")
        cursor.execute(f"ANALYZE {table}")
