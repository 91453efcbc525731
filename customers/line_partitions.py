"""Where transaction lines are stored: the live partition, or a partition per big import.

``customers_transactionline`` is partitioned by range of ``transaction_id`` (migration 0007):

- ``customers_transactionline_live`` holds the lines of transactions whose id is below
  :data:`IMPORT_ID_BASE`: every transaction the tills, the admin, the demo and small imports
  write, with ids from the transactions' own sequence (capped below the base);
- each import writing at least ``settings.IMPORT_PARTITION_MIN_LINES`` lines takes a block of
  transaction ids from :data:`IMPORT_SEQUENCE` (from the base up) and loads its lines as the
  partition of that block, ``customers_transactionline_<first id>``
  (``loyalty_site.partitions``: indexes built and foreign keys checked set-wise, about 5 times
  less server time than row by row).

Both are ordinary partitions: any line can be read, edited or deleted through the model, and a
line added later to an imported transaction lands in that import's partition. Every
constraint holds in every partition. :func:`merge` folds import partitions together when they
become many (``manage.py line_partitions``).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from django.conf import settings
from django.db import transaction

from customers.models import TransactionLine
from loyalty_site.partitions import (
    allocate_block,
    can_attach,
    drop_if_empty,
    list_partitions,
    load_partition,
    lock_for_load,
    merge_partitions,
)

if TYPE_CHECKING:
    from loyalty_site.bulk import Rows

#: First transaction id of the big imports' blocks; the live partition holds the ids below.
IMPORT_ID_BASE = 10**12
IMPORT_SEQUENCE = "customers_transaction_import_id_seq"
LIVE = "customers_transactionline_live"


def wants_partition(lines: int) -> bool:
    """Whether an import writing ``lines`` lines loads them as a partition of their own.

    Only the owner of the lines table (the role that runs the migrations) may attach a
    partition; any other role's imports insert their lines row by row, as small ones do.
    """
    return lines >= settings.IMPORT_PARTITION_MIN_LINES and can_attach(TransactionLine)


def import_ids(count: int) -> np.ndarray:
    """``count`` consecutive transaction ids for a big import (its partition's range).

    Takes first, until commit, the lock that the import's attach takes anyway (``SHARE UPDATE
    EXCLUSIVE`` on the lines: reads and writes of lines go on), so that big imports write one
    at a time: two at once would deadlock, each attach waiting for the other's new
    transactions while holding that lock.
    """
    lock_for_load(TransactionLine)
    first = allocate_block(IMPORT_SEQUENCE, count)
    return np.arange(first, first + count, dtype=np.int64)


def load_lines(ids: np.ndarray, columns: list[str], chunks: Iterable[Rows]) -> int:
    """Load the lines of the transactions ``ids`` (from :func:`import_ids`) as their partition."""
    low, high = int(ids.min()), int(ids.max()) + 1
    return load_partition(TransactionLine, "transaction_id", low, high, columns, chunks)


@dataclass(frozen=True)
class Partition:
    """One import partition: its table, its range of transaction ids and its number of lines
    as the planner's statistics give it (exact right after the load or merge, which analyze
    the partition; later deletes show once autovacuum analyzes it again)."""

    name: str
    low: int
    high: int
    lines: int


def import_partitions() -> list[Partition]:
    """The import partitions in order of their ranges (catalogue only: no partition is read)."""
    found = []
    for name, bound, lines in list_partitions(TransactionLine):
        if name == LIVE:
            continue
        # FOR VALUES FROM ('1000000000000') TO ('1000000250000')
        low, high = (int(part.split("'")[1]) for part in bound.split(" TO "))
        found.append(Partition(name, low, high, lines))
    return sorted(found, key=lambda partition: partition.low)


def drop_empty() -> list[str]:
    """Drop the import partitions without lines (all their transactions deleted)."""
    return drop_if_empty([partition.name for partition in import_partitions()])


def merge_plan(partitions: list[Partition], target_lines: int) -> list[list[Partition]]:
    """Runs of neighbouring partitions to merge: each run holds at most ``target_lines`` lines
    and at least two partitions (a partition already that big is left as it is)."""
    runs: list[list[Partition]] = []
    run: list[Partition] = []
    for partition in sorted(partitions, key=lambda partition: partition.low):
        if run and sum(p.lines for p in run) + partition.lines > target_lines:
            runs.append(run)
            run = []
        run.append(partition)
    runs.append(run)
    return [run for run in runs if len(run) > 1]


def merge(partitions: list[Partition]) -> Partition:
    """Replace neighbouring import ``partitions`` by one over their joint range (see
    ``loyalty_site.partitions.merge_partitions`` for what waits meanwhile): run it in a quiet
    hour."""
    if len(partitions) < 2:
        raise ValueError("merging needs at least two partitions")
    ordered = sorted(partitions, key=lambda partition: partition.low)
    for before, after in itertools.pairwise(ordered):
        if before.high > after.low:
            raise ValueError(f"{before.name} and {after.name} overlap")
    low, high = ordered[0].low, ordered[-1].high
    with transaction.atomic():
        name = merge_partitions(
            TransactionLine, "transaction_id", [p.name for p in ordered], low, high
        )
    return Partition(name, low, high, sum(partition.lines for partition in ordered))
