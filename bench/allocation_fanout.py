"""Bench: the allocation's pricing fanned out over django-q2 worker processes (issue 18 point 5),
next to the one-process solve of the same instance in the same run.

(d) ``--customers`` (default 1,000,000) x 6 bonus types, the instance of bench/allocation.py (a),
    solved by the decomposition (method "dual"): first in this process, then with every pricing
    pass fanned out over a real ``manage.py qcluster`` of W worker processes (ORM broker) for each
    W of ``--workers``, W chunks each; with ``--affinity`` also W one-worker clusters, each on
    its own queue (``queues=``), so that a chunk always lands on the same process. Prints wall
    and CPU seconds (this process = the master; the cluster's processes during the solve),
    the passes, the master's mean wait per pass next to one in-process pricing pass, and whether
    the allocation is the one-process one (same choices, objective and bound).

On a 2-core machine more worker processes cannot be faster: the figures are the overhead of the
fan-out (chunk files, queue latency, pickled results), not a speed-up.

Run: .venv/bin/python bench/allocation_fanout.py [--customers 1000000] [--workers 1,3] [--affinity]
``DATABASE_URL`` defaults to ``postgres://postgres@127.0.0.1:5432/loyalty_fanout_bench`` (created
if missing, then migrated).
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "loyalty_site.settings")
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/loyalty_fanout_bench")

import django  # noqa: E402
import numpy as np  # noqa: E402
import psycopg  # noqa: E402


def ensure_database(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    with psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


ensure_database(os.environ["DATABASE_URL"])
django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django_q.conf import Conf  # noqa: E402

from optimizer.engine.allocation import allocate  # noqa: E402
from optimizer.engine.allocation.pricing import LocalPricing  # noqa: E402
from optimizer.engine.allocation.synthetic import make_instance  # noqa: E402
from optimizer.services.allocation_fanout import FanoutStats, fanout_pricing  # noqa: E402

WEEK = date(2024, 3, 4)


def group_cpu(pgid: int) -> float:
    """CPU seconds of every live process of group ``pgid`` (and of its reaped children)."""
    tick, total = os.sysconf("SC_CLK_TCK"), 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:  # pgrp; then utime, stime, cutime, cstime at 11..14
            total += sum(int(f) for f in fields[11:15])
    return total / tick


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


class Cluster:
    """``manage.py qcluster`` subprocesses (one per queue name), stopped with SIGTERM."""

    def __init__(self, workers: int, names: list[str | None], log: Path) -> None:
        self.log = log
        self.procs = []
        for name in names:
            env = {k: v for k, v in os.environ.items() if not k.startswith("Q_")}
            env.update(
                {
                    "DJANGO_SECRET_KEY": settings.SECRET_KEY,
                    "Q_WORKERS": str(workers),
                    "LOG_LEVEL": "INFO",
                }
            )
            if name:
                env["Q_CLUSTER_NAME"] = name
            stream = open(log, "ab")  # noqa: SIM115 - the child owns it
            self.procs.append(
                subprocess.Popen(
                    [sys.executable, "manage.py", "qcluster"],
                    cwd=ROOT,
                    env=env,
                    stdout=stream,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )
        deadline = time.monotonic() + 120
        while self.log.read_text(errors="replace").count("running.") < len(names):
            if time.monotonic() > deadline:
                raise SystemExit(f"the cluster did not start:\n{self.log.read_text()[-2000:]}")
            time.sleep(0.2)

    def cpu(self) -> float:
        return sum(group_cpu(proc.pid) for proc in self.procs)

    def stop(self) -> None:
        for proc in self.procs:
            os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs:
            proc.wait(timeout=60)


def solve(inst, pricing=None):
    return allocate(
        inst.customers,
        inst.response,
        inst.bonus_types,
        inst.constraints,
        week_start=WEEK,
        horizon_weeks=inst.horizon_weeks,
        random_state=0,
        time_limit=600,
        method="dual",
        with_reasons=False,
        pricing=pricing,
    )


class Counting(LocalPricing):
    passes = 0

    def price(self, *args, **kwargs):
        Counting.passes += 1
        return super().price(*args, **kwargs)


def local_run(inst):
    """The one-process solve, and one in-process pricing pass's wall time on its core."""
    cores = []

    def capture(core):
        cores.append(core)
        return Counting(core)

    t, cpu = time.perf_counter(), time.process_time()
    result = solve(inst, capture)
    wall, cpu = time.perf_counter() - t, time.process_time() - cpu
    pricer, k = LocalPricing(cores[0]), len(cores[0].types)
    zero, c, r = np.zeros(k), np.zeros(len(cores[0].coverage)), np.zeros(len(cores[0].extra))
    t = time.perf_counter()
    for _ in range(5):
        pricer.price(0.5, zero, c, r, cores[0].budget)
    one_pass = (time.perf_counter() - t) / 5
    cores.clear()  # free the core before the fanned-out runs
    return result, wall, cpu, one_pass


def fanned_run(inst, workers: int, affinity: bool, folder: Path):
    names: list[str | None] = [f"pricing-{i}" for i in range(workers)] if affinity else [None]
    per = 1 if affinity else workers
    cluster = Cluster(per, names, folder / "qcluster.log")
    stats = FanoutStats(workers)
    try:
        before = cluster.cpu()
        t, cpu = time.perf_counter(), time.process_time()
        queues = [n for n in names if n] if affinity else []
        with fanout_pricing(
            chunks=workers, folder=folder, wait=600, stats=stats, queues=queues
        ) as pricing:
            result = solve(inst, pricing)
        wall, cpu = time.perf_counter() - t, time.process_time() - cpu
        cluster_cpu = cluster.cpu() - before
    finally:
        cluster.stop()
    return result, wall, cpu, cluster_cpu, stats


def same(a, b) -> str:
    choices = a.decisions["bonus_type"].equals(b.decisions["bonus_type"])
    obj = abs(a.objective - b.objective) / max(abs(b.objective), 1e-9)
    bound = abs(a.lp_bound - b.lp_bound) / max(abs(b.lp_bound), 1e-9)
    return f"same choices {choices}, objective rel diff {obj:.1e}, bound rel diff {bound:.1e}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--workers", default="1,3")
    parser.add_argument("--affinity", action="store_true")
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    Conf.SYNC = False
    for name in ("django-q", "optimizer"):  # one "Enqueued" line per chunk and pass otherwise
        logging.getLogger(name).setLevel(logging.WARNING)
    n = args.customers
    inst = make_instance(n, seed=1, budget_per_customer=0.2)
    print(f"(d) {n:,} customers x 6 types, method dual; load average {load()}")
    local, wall, cpu, one_pass = local_run(inst)
    passes = Counting.passes
    print(
        f"  one process            {wall:7.2f} s  CPU {cpu:6.2f} s  {passes} pricing passes, "
        f"one pass {one_pass * 1000:6.1f} ms  obj {local.objective:,.2f}  "
        f"bound {local.lp_bound:,.2f}  load {load()}"
    )
    runs = [(w, False) for w in map(int, args.workers.split(","))]
    runs += [(w, True) for w in map(int, args.workers.split(",")) if args.affinity and w > 1]
    for workers, affinity in runs:
        with tempfile.TemporaryDirectory(prefix="fanout-bench-") as tmp:
            result, wall, cpu, cluster_cpu, stats = fanned_run(inst, workers, affinity, Path(tmp))
        how = f"{workers} queues x 1 worker" if affinity else f"{workers} worker process(es)"
        waits = np.array(stats.wait_seconds)
        print(
            f"  the multi-worker run: {how}, {stats.chunks} chunks\n"
            f"    {wall:7.2f} s wall  master CPU {cpu:6.2f} s  cluster CPU {cluster_cpu:6.2f} s "
            f"(during the solve, idle polling included)  load {load()}\n"
            f"    {stats.passes} passes, master wait per pass mean {waits.mean() * 1000:6.1f} ms "
            f"(median {np.median(waits) * 1000:6.1f} ms, first {waits[0] * 1000:6.1f} ms: "
            f"chunk loads) vs {one_pass * 1000:6.1f} ms in process; chunk files written in "
            f"{stats.write_seconds:5.2f} s\n"
            f"    worker processes used {len(stats.pids)}, (process, chunk) loads "
            f"{len(stats.placements)} for {stats.chunks} chunks; {same(result, local)}"
        )


if __name__ == "__main__":
    main()
