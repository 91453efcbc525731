"""The allocation's pricing passes fanned out over django-q2 workers (issue 18 point 5).

The decomposition (``optimizer.engine.allocation.dual``) alternates a small master LP, solved
in the run's own process, with pricing passes over every customer. Pricing is a sum over
customers, so it splits by customer range (``engine/allocation/pricing.py``): per pass the
master enqueues one task per chunk (one django-q2 group) with the multipliers, waits for the
group's results in the task table, and sums them.

Where the chunks' arrays come from: the master cuts the core into ``chunks`` customer ranges
once per run and writes each as a joblib file under ``ALLOCATION_FANOUT_DIR/<key>/`` (a folder
every worker machine mounts: NFS, a shared volume). A worker process loads a chunk on its first
task of the run and keeps it (with its pricing buffer) in a per-process cache keyed by run and
chunk; a pass then ships only the multipliers (a few floats) out and each chunk's column (a few
hundred floats) plus its customers' choices (one byte each) back. The cache holds one run: a
task of another run empties it. The folder is deleted when the solve ends. Any worker of the
default queue may take any chunk, so over the passes one process may load several chunks (and
each keeps them): for a memory bound per process, give each worker process its own queue
(``ALLOCATION_PRICING_QUEUES``, ``Q_CLUSTER_NAME``), then chunk ``i`` always lands on queue
``i mod queues``.

Not distributed: the master LP, the warm start on a 40,000-customer sample, the recovery (it
needs every customer's reduced values) and the core itself, which the solving process still
builds and holds. Fanning out moves the O(n*K) pricing passes, the bulk of the column
generation, to the workers; it does not shrink the master's memory.

Hand-written rather than a library: django-q2 gives the group, the broker and the results; the
per-process chunk cache and the shared-folder hand-over have no maintained equivalent here.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import joblib
import numpy as np
from django.conf import settings
from django_q.models import Task
from django_q.tasks import async_task, delete_group

from optimizer.engine.allocation.pricing import (
    ChunkData,
    ChunkedPricing,
    Column,
    LocalPricing,
    Multipliers,
    Pricing,
    PricingFactory,
    split,
)
from optimizer.engine.allocation.problem import Core

logger = logging.getLogger(__name__)

CHUNK_TASK = "optimizer.tasks.allocation_pricing_chunk_task"
#: How often the master looks at the task table while a pass runs.
POLL_SECONDS = 0.02

#: This worker process's chunks of the current run: (key, index) -> pricing over the chunk.
_CACHE: dict[tuple[str, int], LocalPricing] = {}


class PricingChunksFailed(RuntimeError):
    """A pricing chunk failed or did not answer in time; the run fails with this message."""


@dataclass
class FanoutStats:
    """What the fan-out cost: passes, seconds the master waited for chunks, worker pids."""

    chunks: int
    passes: int = 0
    write_seconds: float = 0.0
    wait_seconds: list[float] = field(default_factory=list)
    pids: set[int] = field(default_factory=set)
    #: (worker pid, chunk index) pairs seen: more pairs than chunks means chunks were loaded by
    #: several processes (no queue affinity), each holding its own copy.
    placements: set[tuple[int, int]] = field(default_factory=set)


def _chunk_path(folder: Path, index: int) -> Path:
    return folder / f"chunk-{index:04d}.joblib"


def _write_chunks(folder: Path, chunks: list[ChunkData]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for index, chunk in enumerate(chunks):
        final = _chunk_path(folder, index)
        partial = final.with_suffix(".partial")
        joblib.dump(chunk, partial)
        os.replace(partial, final)  # a worker never reads a half-written chunk


def allocation_pricing_chunk(
    *, key: str, index: int, folder: str, multipliers: dict[str, Any]
) -> tuple[int, float, Column, int]:
    """Price chunk ``index`` of fan-out ``key`` at ``multipliers`` (worker side).

    Returns ``(index, gain, column, pid)``: the chunk's partial gain and column (see
    ``pricing.LocalPricing.gain``) and the worker's process id.
    """
    pricer = _CACHE.get((key, index))
    if pricer is None:
        for other in [k for k in _CACHE if k[0] != key]:
            del _CACHE[other]
        chunk: ChunkData = joblib.load(_chunk_path(Path(folder), index))
        pricer = _CACHE[(key, index)] = chunk.pricing()
    m = Multipliers(
        float(multipliers["lam"]),
        np.asarray(multipliers["mu"], dtype=np.float64),
        np.asarray(multipliers["nu"], dtype=np.float64),
        np.asarray(multipliers["sigma"], dtype=np.float64),
    )
    gain, column = pricer.gain(m)
    return index, gain, column, os.getpid()


def _gather(group: str, chunks: int, wait: float) -> list[tuple[int, float, Column, int]]:
    """Every chunk's answer of one pass, once all are in the task table (either broker)."""
    until = time.monotonic() + wait
    tasks = Task.objects.filter(group=group)
    while tasks.count() < chunks:
        if time.monotonic() > until:
            raise PricingChunksFailed(
                f"{chunks - tasks.count()} of {chunks} pricing chunks did not answer within "
                f"{wait:g} s: are default-queue workers running?"
            )
        time.sleep(POLL_SECONDS)
    rows = list(tasks.values_list("success", "result"))
    failed = [result for success, result in rows if not success]
    if failed:
        raise PricingChunksFailed(f"a pricing chunk failed: {failed[0]}")
    return sorted((result for _, result in rows), key=lambda answer: answer[0])


class _Fanout:
    """The ``ChunkMap`` of one solve: one django-q2 group per pass."""

    def __init__(
        self, key: str, folder: Path, stats: FanoutStats, wait: float, queues: Sequence[str]
    ) -> None:
        self.key, self.folder, self.stats, self.wait = key, folder, stats, wait
        self.queues = queues

    def __call__(self, m: Multipliers) -> list[tuple[float, Column]]:
        group = f"pricing-{self.key}-{self.stats.passes}"
        payload = {
            "lam": float(m.lam),
            "mu": m.mu.tolist(),
            "nu": m.nu.tolist(),
            "sigma": m.sigma.tolist(),
        }
        started = time.perf_counter()
        for index in range(self.stats.chunks):
            async_task(
                CHUNK_TASK,
                self.key,
                index,
                str(self.folder),
                payload,
                group=group,
                task_name=f"{group}-{index}",
                cluster=self.queues[index % len(self.queues)] if self.queues else None,
            )
        answers = _gather(group, self.stats.chunks, self.wait)
        delete_group(group, tasks=True)
        self.stats.wait_seconds.append(time.perf_counter() - started)
        self.stats.passes += 1
        self.stats.pids.update(pid for *_, pid in answers)
        self.stats.placements.update((pid, index) for index, *_, pid in answers)
        return [(gain, column) for _, gain, column, _ in answers]


@contextmanager
def fanout_pricing(
    *,
    chunks: int,
    key: str | None = None,
    folder: Path | None = None,
    wait: float | None = None,
    stats: FanoutStats | None = None,
    queues: Sequence[str] | None = None,
) -> Iterator[PricingFactory]:
    """A pricing factory for ``allocate(..., pricing=...)`` that fans pricing out over
    ``chunks`` django-q2 tasks per pass; the chunks' folder is removed on exit.

    Args:
        chunks: customer-range chunks (tasks per pass).
        key: names the folder, the task groups and the workers' cache entries (unique per
            solve, e.g. ``"run12-a1"``; default a random one).
        folder: the shared parent folder (default ``settings.ALLOCATION_FANOUT_DIR``).
        wait: seconds to wait for one pass (default ``ALLOCATION_PRICING_WAIT_SECONDS``).
        stats: filled with the passes, the master's waits and the workers' pids.
        queues: django-q2 queue (cluster) names; chunk ``i`` goes to ``queues[i % len]``, so a
            worker started with ``Q_CLUSTER_NAME`` = one of them only ever loads its own
            chunks (default ``ALLOCATION_PRICING_QUEUES``; empty: the default queue, where any
            worker process may load any chunk).

    Raises (from the solve): PricingChunksFailed.
    """
    key = key or uuid.uuid4().hex[:12]
    base = Path(folder or settings.ALLOCATION_FANOUT_DIR) / key
    stats = stats if stats is not None else FanoutStats(chunks)
    stats.chunks = chunks
    limit = float(wait if wait is not None else settings.ALLOCATION_PRICING_WAIT_SECONDS)
    names = tuple(queues if queues is not None else settings.ALLOCATION_PRICING_QUEUES)

    cores = 0

    def factory(core: Core) -> Pricing:
        # A second core of the same solve (the MILP's fallback) gets its own key: the
        # workers' cached chunks of the first one must not answer for it.
        nonlocal cores
        started = time.perf_counter()
        sub = f"{key}-c{cores}"
        cores += 1
        parts = split(core, chunks)
        stats.chunks = len(parts)
        _write_chunks(base / sub, parts)
        stats.write_seconds += time.perf_counter() - started
        return ChunkedPricing(core, _Fanout(sub, base / sub, stats, limit, names))

    try:
        yield factory
    finally:
        shutil.rmtree(base, ignore_errors=True)
        logger.info(
            "pricing fan-out %s: %s passes over %s chunks, %s worker processes",
            key,
            stats.passes,
            stats.chunks,
            len(stats.pids),
        )
