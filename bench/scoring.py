"""Bench: one scoring run end to end, PostgreSQL -> engine -> PostgreSQL, stage by stage.

On a synthetic retailer of N customers (reused when it is already there) generated directly in
PostgreSQL by ``bench/sql_retailer.py`` (``--generator sql``, the default: ``INSERT ... SELECT``
over ``generate_series``, 1,000,000 customers / 20 M lines in minutes) or by ``manage.py
generate_retailer --customers N --seed 1`` (``--generator python``: the documented generative
model with ground truth, much slower to write), runs ``scoring_run_create`` +
``scoring_run_execute`` exactly as ``manage.py score --sync`` does: read the training sample,
fit once, save the model, then every chunk of ``--chunk-customers`` customers (read with COPY,
features, score, write with COPY). With ``--workers W`` > 1 the chunks are scored by W processes
at once, as W django-q2 workers of the long queue would take them.

Prints the seconds of each stage (read, features, fit, score, write, total: chunk stages summed
over chunks), the CPU seconds of the scoring process(es) and of their PostgreSQL backends (read
from ``/proc``: hardly moved by other work on a shared machine, unlike wall time), the peak RSS,
the load average and the holdout metrics of the models next to the BG/NBD baseline.

``--reads lateral`` runs the same with the history statement as it was before issue 18 (a
per-transaction ``LATERAL`` over a materialised CTE, ``tests/optimizer/reference_queries.py``):
the "before" of the set-based reads, measured in the same way.
Target at 1,000,000 customers (about 20 million lines): under 5 minutes and 6 GB on 2 cores.

Run: .venv/bin/python bench/scoring.py [--customers N] [--chunk-customers C] [--workers W]
     [--generator sql|python] [--reads set|lateral]
DATABASE_URL defaults to postgres://postgres@127.0.0.1:5432/loyalty_bench_scoring (created and
migrated if missing).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from memory import peak_rss_gb  # bench/memory.py (bench/ is sys.path[0])

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/loyalty_bench_scoring"


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.1f} / {five:.1f} / {fifteen:.1f} (1 / 5 / 15 min, {os.cpu_count()} cores)"


def ensure_database(url: str) -> None:
    """Create the database of ``url`` if it does not exist, then migrate it."""
    import dj_database_url
    import psycopg

    config = dj_database_url.parse(url)
    admin = psycopg.connect(
        host=config["HOST"] or "127.0.0.1",
        port=config["PORT"] or 5432,
        user=config["USER"] or "postgres",
        password=config["PASSWORD"] or None,
        dbname="postgres",
        autocommit=True,
    )
    with admin:
        exists = admin.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [config["NAME"]]
        ).fetchone()
        if not exists:
            admin.execute(f'CREATE DATABASE "{config["NAME"]}"')
            print(f"created database {config['NAME']}")
    manage([sys.executable, "manage.py", "migrate", "--noinput", "-v0"])


def manage(command: list[str]) -> None:
    """Run a manage.py command in a child process (its memory is not counted here)."""
    subprocess.run(command, cwd=ROOT, check=True)  # noqa: S603 - our own interpreter and script


def setup_django(url: str) -> None:
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "loyalty_site.settings")
    import django

    django.setup()


def backend_cpu() -> float:
    """CPU seconds (user + system) of this connection's PostgreSQL backend so far (from /proc:
    the server runs on this machine), or 0 when it cannot be read."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def process_cpu() -> float:
    """CPU seconds (user + system) of this process."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def ensure_retailer(customers: int, seed: int, generator: str) -> Any:
    """The generated retailer of this size, generated if missing (``sql``: in PostgreSQL by
    ``bench/sql_retailer.py``; ``python``: ``generate_retailer`` in a child process)."""
    from customers.models import Customer
    from retailers.models import Retailer

    slug = f"bench-scoring-{customers}" + ("-sql" if generator == "sql" else "")
    retailer = Retailer.objects.filter(slug=slug).first()
    if retailer is not None and Customer.objects.filter(retailer=retailer).count() == customers:
        print(f"reusing retailer {slug!r} ({customers:,} customers)")
        return retailer
    if generator == "sql":
        import sql_retailer  # bench/sql_retailer.py (bench/ is sys.path[0])

        print(f"generating retailer {slug!r} in PostgreSQL ({customers:,} customers)")
        return sql_retailer.generate(customers=customers, seed=seed, slug=slug)
    print(f"generating retailer {slug!r}: generate_retailer --customers {customers} --seed {seed}")
    started = time.perf_counter()
    manage(
        [
            sys.executable,
            "manage.py",
            "generate_retailer",
            f"--customers={customers}",
            f"--seed={seed}",
            f"--slug={slug}",
        ]
    )
    print(f"generated in {time.perf_counter() - started:.0f} s")
    return Retailer.objects.get(slug=slug)


def _chunk_worker(arguments: tuple[int, int, int]) -> tuple[str, float, float, float]:
    """Score one chunk in a pool process (its own database connection), like a q2 worker;
    returns (outcome, peak RSS GB, process CPU s, backend CPU s) of this chunk."""
    from optimizer.services import scoring_chunk_execute

    run_id, attempt, index = arguments
    cpu, server = process_cpu(), backend_cpu()
    outcome = scoring_chunk_execute(run_id=run_id, attempt=attempt, index=index)
    return outcome, peak_rss_gb(), process_cpu() - cpu, backend_cpu() - server


def run_scoring(retailer: Any, workers: int) -> tuple[Any, float, float, float]:
    """One run: fit here, chunks here (workers=1) or in a pool; returns (run, peak RSS GB,
    Python CPU s, PostgreSQL backend CPU s)."""
    from django import db

    from optimizer.services import (
        scoring_chunk_execute,
        scoring_run_create,
        scoring_run_prepare,
    )

    cpu, server = process_cpu(), backend_cpu()
    run = scoring_run_create(retailer=retailer, enqueue=False)
    print(f"run #{run.pk} as of {run.as_of}, horizon {run.horizon_weeks} weeks")
    last = {"stage": ""}

    def progress(percent: int, stage: str) -> None:
        if stage != last["stage"]:
            print(f"  {time.strftime('%H:%M:%S')} {percent:3d}% {stage}", flush=True)
            last["stage"] = stage

    claimed, chunks = scoring_run_prepare(run_id=run.pk, enqueue_chunks=False, progress=progress)
    assert claimed is not None
    peaks = [peak_rss_gb()]
    tasks = [(run.pk, claimed.attempt, index) for index in chunks]
    if workers <= 1:
        for task in tasks:
            scoring_chunk_execute(run_id=task[0], attempt=task[1], index=task[2], progress=progress)
        peaks.append(peak_rss_gb())
        cpu, server = process_cpu() - cpu, backend_cpu() - server
    else:
        cpu, server = process_cpu() - cpu, backend_cpu() - server
        db.connections.close_all()  # each forked process opens its own connection
        context = multiprocessing.get_context("fork")
        with context.Pool(workers, maxtasksperchild=None) as pool:
            for outcome, peak, chunk_cpu, chunk_server in pool.imap_unordered(_chunk_worker, tasks):
                peaks.append(peak)
                cpu, server = cpu + chunk_cpu, server + chunk_server
                print(f"  {time.strftime('%H:%M:%S')} chunk {outcome}", flush=True)
    run.refresh_from_db()
    return run, max(peaks), cpu, server


def compare_reads(retailer: Any, customers: int, repeat: int) -> None:
    """The history read of the first ``customers`` members (a chunk's statement, streamed with
    COPY into frames) with the set-based statement and with the per-basket LATERAL of before,
    alternately ``repeat`` times in the same run: wall and PostgreSQL backend CPU seconds
    (without parallel workers, whose CPU the backend's figure would miss)."""
    from django.db import connection

    from customers.models import Customer
    from optimizer import queries
    from optimizer.frames import reads
    from optimizer.frames.common import CustomerFilter
    from tests.optimizer.reference_queries import history_lateral

    with connection.cursor() as cursor:  # parallel workers' CPU would not be counted
        cursor.execute("SET max_parallel_workers_per_gather = 0")
    ids = Customer.objects.filter(retailer=retailer).order_by("id").values_list("id", flat=True)
    chunk = CustomerFilter(first_id=ids[0], last_id=ids[customers - 1])
    statements = {"set-based": queries.history, "lateral (before)": history_lateral}
    figures: dict[str, list[tuple[float, float, int]]] = {name: [] for name in statements}
    for _ in range(repeat):
        for name, statement in statements.items():
            queries.history = statement  # type: ignore[assignment]
            wall, server = time.perf_counter(), backend_cpu()
            baskets, _days = reads.history_frames(
                retailer=retailer, as_of=sql_as_of(), customers=chunk
            )
            figures[name].append((time.perf_counter() - wall, backend_cpu() - server, len(baskets)))
            print(f"  {name:<17} {figures[name][-1][0]:7.1f} s wall, "
                  f"{figures[name][-1][1]:7.1f} s backend CPU, {len(baskets):,} baskets, "
                  f"load {load_average()}", flush=True)  # fmt: skip
    queries.history = statements["set-based"]  # type: ignore[assignment]
    best = {name: min(rows, key=lambda row: row[1]) for name, rows in figures.items()}
    new, old = best["set-based"], best["lateral (before)"]
    print(f"history read of {customers:,} customers ({new[2]:,} baskets), best of {repeat}:")
    print(f"  set-based {new[0]:.1f} s wall / {new[1]:.1f} s backend CPU; lateral {old[0]:.1f} s "
          f"/ {old[1]:.1f} s: {old[1] / max(new[1], 1e-9):.1f}x the CPU")  # fmt: skip


def sql_as_of() -> Any:
    import sql_retailer  # bench/sql_retailer.py

    return sql_retailer.AS_OF


def report(run: Any, peak: float, workers: int, cpu: float, server: float) -> None:
    from optimizer.selectors import holdout_table

    t = run.timings
    stages = {
        "read": t.get("read_sample", 0.0) + t.get("read", 0.0),
        "features": t.get("features", 0.0),
        "fit": t.get("fit", 0.0) + t.get("save_model", 0.0),
        "score": t.get("score", 0.0),
        "write": t.get("write", 0.0) + t.get("finalise", 0.0),
    }
    print(f"status {run.status}{': ' + run.error if run.error else ''}")
    print(
        f"customers scored {run.customers_scored:,} in {run.chunks_total} chunk(s), "
        f"{workers} worker(s)"
    )
    print(f"{'stage':<10} {'seconds':>8}")
    for name, seconds in stages.items():
        print(f"{name:<10} {seconds:8.1f}")
    print(f"{'total':<10} {t.get('total', 0.0):8.1f}  (wall clock; stages are summed over chunks)")
    print(
        f"  detail: read sample {t.get('read_sample', 0):.1f} s, chunk reads "
        f"{t.get('read', 0):.1f} s, save model {t.get('save_model', 0):.1f} s, finalise "
        f"{t.get('finalise', 0):.1f} s"
    )
    print(
        f"CPU        {cpu:.1f} s Python (all scoring processes), {server:.1f} s PostgreSQL backends"
    )
    print(f"peak RSS   {peak:.2f} GB (largest scoring process)")
    print(f"load average {load_average()}")
    print("holdout (model / BG/NBD / rule):")
    for row in holdout_table(run.metrics):
        cells = [("-" if row[k] is None else f"{row[k]:.3f}") for k in ("model", "bgnbd", "rule")]
        print(f"  {row['label']:<52} {' / '.join(cells)}")
    for note in run.metrics.get("notes", []):
        print(f"  note: {note}")
    print("segments:", ", ".join(f"{s['segment']} {s['size']:,}" for s in run.segment_profile))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--chunk-customers", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=1, help="processes scoring chunks")
    parser.add_argument("--generator", choices=("sql", "python"), default="sql")
    parser.add_argument(
        "--reads",
        choices=("set", "lateral"),
        default="set",
        help="history statement: set-based (now) or the per-basket LATERAL (before issue 18)",
    )
    parser.add_argument(
        "--compare-reads",
        type=int,
        default=0,
        metavar="K",
        help="only time the history read of the first K customers, set-based vs lateral",
    )
    parser.add_argument("--repeat", type=int, default=2, help="rounds of --compare-reads")
    parser.add_argument(
        "--keep-runs", action="store_true", help="keep earlier bench runs (and their scores)"
    )
    args = parser.parse_args()
    # The default goes into the environment: the migrate and worker child processes read it
    # (without it they would start and migrate the embedded server of var/pgdata instead).
    url = os.environ.setdefault("DATABASE_URL", DEFAULT_URL)
    print(f"database {url}; load average at start {load_average()}")
    ensure_database(url)
    setup_django(url)
    from django.conf import settings

    settings.SCORING_CHUNK_CUSTOMERS = args.chunk_customers
    retailer = ensure_retailer(args.customers, args.seed, args.generator)
    if args.compare_reads:
        compare_reads(retailer, args.compare_reads, args.repeat)
        return
    if args.reads == "lateral":
        from optimizer import queries
        from tests.optimizer.reference_queries import history_lateral

        queries.history = history_lateral  # type: ignore[assignment]
    print(f"reads: {args.reads}; load average before the run {load_average()}")
    if not args.keep_runs:
        from optimizer.models import ScoringRun
        from optimizer.services import scoring_run_delete

        for old in ScoringRun.objects.filter(retailer=retailer):
            scoring_run_delete(run=old)
    run, peak, cpu, server = run_scoring(retailer, args.workers)
    report(run, peak, args.workers, cpu, server)


if __name__ == "__main__":
    main()
