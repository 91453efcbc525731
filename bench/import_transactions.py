"""Benchmark of the bulk transaction loader against PostgreSQL.

Creates (if missing) and migrates the benchmark database, creates a retailer with 50,000
customers, 200 stores and 20,000 products through ``insert_frame``, writes a seeded
transactions file (1,000,000 lines, about 250,000 baskets, by default) into a temp directory,
then runs ``manage.py import_transactions FILE --retailer bench-transactions`` in a fresh child
process and prints lines, seconds, lines/s, the time of each stage of the loader (from its log
record), the child's peak RSS and the machine's load average against the targets.

    .venv/bin/python bench/import_transactions.py [--lines N] [--keep] [--seed S] [--repeat R]
        [--role ROLE]

With ``--repeat R`` the import runs R times (the imported rows are deleted in between) and the
figures of every run are printed, then the best and the median: other processes on the machine
make single runs noisy; the CPU seconds of the PostgreSQL backend are printed too, as they
hardly depend on that load. The loader is the same for every role: run it as the owner of the
database, not a superuser (e.g. ``DATABASE_URL=postgres://loyalty_owner@...``), or give
``--role`` to ``SET ROLE`` before the import. ``DATABASE_URL``
defaults to postgres://postgres@127.0.0.1:5432/loyalty_bench. Without ``--keep`` the file and
the benchmark retailer's rows are removed afterwards.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from memory import peak_rss_gb  # bench/memory.py (bench/ is sys.path[0])

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/loyalty_bench")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "loyalty_site.settings")

SLUG = "bench-transactions"
CUSTOMERS, STORES, PRODUCTS = 50_000, 200, 20_000
TARGET_LINES_PER_S = 60_000
TARGET_RSS_MB = 1024


def ensure_database(url: str) -> None:
    """Create the database named in ``url`` when it does not exist yet."""
    import dj_database_url
    import psycopg
    from psycopg import sql

    cfg = dj_database_url.parse(url)
    with psycopg.connect(
        host=cfg["HOST"] or "127.0.0.1",
        port=cfg["PORT"] or 5432,
        user=cfg["USER"] or "postgres",
        password=cfg["PASSWORD"] or None,
        dbname="postgres",
        autocommit=True,
    ) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [cfg["NAME"]])
        if exists.fetchone() is None:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(cfg["NAME"])))


def drop_bench_retailer() -> None:
    """Delete the benchmark retailer and its rows with plain SQL (the ORM cascade is too slow)."""
    row = _bench_retailer_id()
    if row is None:
        return
    drop_imported(row)
    from django.db import connection, transaction

    with transaction.atomic(), connection.cursor() as cursor:
        for table in ("customers_customer", "retailers_product", "retailers_store"):
            cursor.execute(f"DELETE FROM {table} WHERE retailer_id = %s", [row])  # noqa: S608
        cursor.execute("DELETE FROM retailers_retailer WHERE id = %s", [row])


def _bench_retailer_id() -> int | None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT id FROM retailers_retailer WHERE slug = %s", [SLUG])
        row = cursor.fetchone()
    return None if row is None else row[0]


def drop_imported(retailer_id: int) -> None:
    """Delete the imported lines and transactions, then VACUUM: autovacuum may be off (it is on
    this machine), and dead index entries left by a previous run slow the next one's unique
    checks down."""
    from django.db import connection, transaction

    with transaction.atomic(), connection.cursor() as cursor:
        for table in ("customers_transactionline", "customers_transaction"):
            cursor.execute(f"DELETE FROM {table} WHERE retailer_id = %s", [retailer_id])  # noqa: S608
    from customers.line_partitions import drop_empty

    drop_empty()  # the partitions the imports loaded (customers.line_partitions)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE customers_transactionline")
        cursor.execute("VACUUM ANALYZE customers_transaction")


def create_retailer() -> int:
    """Create the benchmark retailer with its customers, stores and products; return its id."""
    from django.db import transaction
    from django.utils import timezone

    from customers.models import Customer
    from loyalty_site.bulk import insert_frame
    from retailers.models import Product, Retailer, Store

    with transaction.atomic():
        retailer = Retailer.objects.create(
            slug=SLUG, name="Bench Transactions", time_zone="Europe/Helsinki"
        )
        now = pd.Timestamp(timezone.now())
        insert_frame(
            Customer,
            pd.DataFrame(
                {
                    "retailer_id": retailer.pk,
                    "external_id": [f"C{i:06d}" for i in range(CUSTOMERS)],
                    "enrolled_on": pd.Timestamp("2023-01-01").date(),
                    "age_band": "",
                    "income_band": "",
                    "household_size": None,
                    "email": "",
                    "marketing_consent": False,
                    "created_at": now,
                }
            ),
        )
        insert_frame(
            Store,
            pd.DataFrame(
                {
                    "retailer_id": retailer.pk,
                    "external_id": [f"S{i:03d}" for i in range(STORES)],
                    "name": "",
                    "region": "",
                }
            ),
        )
        insert_frame(
            Product,
            pd.DataFrame(
                {
                    "retailer_id": retailer.pk,
                    "sku": [f"P{i:06d}" for i in range(PRODUCTS)],
                    "name": "",
                    "category": "",
                    "brand": "",
                    "unit_cost": "1.00",
                    "price": "2.00",
                }
            ),
        )
    return retailer.pk


def write_file(path: Path, lines: int, seed: int) -> int:
    """Write a seeded transactions file of exactly ``lines`` lines; return the basket count."""
    rng = np.random.default_rng(seed)
    sizes = rng.integers(1, 8, size=lines // 2 + 1)  # 1..7 lines, mean 4
    ends = np.cumsum(sizes)
    baskets = int(np.searchsorted(ends, lines)) + 1
    sizes = sizes[:baskets]
    sizes[-1] -= int(ends[baskets - 1]) - lines
    basket_of_line = np.repeat(np.arange(baskets), sizes)

    start = np.datetime64("2024-01-01T00:00:00")
    seconds = np.sort(rng.integers(0, 365 * 86_400, size=baskets))
    stamps = pd.Series(start + seconds.astype("timedelta64[s]")).dt.strftime("%Y-%m-%dT%H:%M:%S")
    # A tenth of the baskets carry an explicit UTC offset, the rest are retailer-local.
    with_offset = rng.random(baskets) < 0.1
    stamps = stamps.where(~with_offset, stamps + "+02:00")
    stores = pd.Series([f"S{i:03d}" for i in rng.integers(0, STORES, size=baskets)])
    stores = stores.where(rng.random(baskets) >= 0.05, "")  # online baskets
    customers = [f"C{i:06d}" for i in rng.integers(0, CUSTOMERS, size=baskets)]

    quantity = rng.integers(1, 6, size=lines)
    cents = rng.integers(50, 5_000, size=lines) * quantity
    discount = np.where(rng.random(lines) < 0.2, cents // 10, 0)
    sign = np.where(rng.random(lines) < 0.03, -1, 1)  # returns
    frame = pd.DataFrame(
        {
            "transaction_id": pd.Series([f"T{i:09d}" for i in range(baskets)])[basket_of_line],
            "customer_id": pd.Series(customers)[basket_of_line],
            "store_id": stores[basket_of_line],
            "timestamp": stamps[basket_of_line],
            "sku": [f"P{i:06d}" for i in rng.integers(0, PRODUCTS, size=lines)],
            "quantity": sign * quantity,
            "amount": [f"{c / 100:.2f}" for c in sign * (cents - discount)],
            "discount": [f"{d / 100:.2f}" for d in sign * discount],
        }
    )
    frame.to_csv(path, index=False)
    return baskets


class _Capture(logging.Handler):
    """Keeps the loader's summary record (its ``stages`` and ``result`` extras)."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.record: logging.LogRecord | None = None

    def emit(self, record: logging.LogRecord) -> None:
        if hasattr(record, "stages"):
            self.record = record


def _backend_cpu_s(pid: int) -> float:
    """CPU seconds (user + system) of the PostgreSQL backend ``pid`` (same machine, Linux):
    unlike wall time it hardly depends on what else the shared machine runs."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _backend_cpu_per_stage(backend: int) -> dict[str, float]:
    """Wrap the loader's stage clock so that each lap also notes the backend's CPU seconds
    spent in that stage (filled in as the import runs)."""
    from customers.services import transactions_import

    spent: dict[str, float] = {}
    last = [_backend_cpu_s(backend)]
    lap = transactions_import._Stages.lap

    def lap_with_cpu(self: transactions_import._Stages, stage: str) -> None:
        now = _backend_cpu_s(backend)
        spent[stage] = round(spent.get(stage, 0.0) + now - last[0], 2)
        last[0] = now
        lap(self, stage)

    transactions_import._Stages.lap = lap_with_cpu  # type: ignore[method-assign]
    return spent


def child(path: str, slug: str, role: str) -> None:
    """Run the import command for ``path`` and print its figures as JSON (runs in a child)."""
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    with connection.cursor() as cursor:  # the command reuses this connection
        if role:
            cursor.execute(f"SET ROLE {role}")
        cursor.execute("SELECT current_user, current_setting('is_superuser'), pg_backend_pid()")
        user, superuser, backend = cursor.fetchone()
    server_cpu = _backend_cpu_s(backend)
    stage_cpu = _backend_cpu_per_stage(backend)

    capture = _Capture()
    logger = logging.getLogger("customers.services.transactions_import")
    logger.addHandler(capture)
    logger.setLevel(logging.INFO)
    cpu, started = time.process_time(), time.perf_counter()
    call_command("import_transactions", path, retailer=slug, stdout=sys.stderr)
    wall = time.perf_counter() - started
    record = capture.record
    assert record is not None, "the loader logged no summary"
    figures = {
        "command_s": wall,
        # VmHWM: ru_maxrss would report the parent's size at fork time if that was larger.
        "peak_rss_mb": peak_rss_gb() * 1024,
        "python_cpu_s": time.process_time() - cpu,
        "stages": record.stages,
        "server_cpu_s": _backend_cpu_s(backend) - server_cpu,
        "server_cpu_stages": stage_cpu,
        "role": user,
        "superuser": superuser == "on",
    }
    print(json.dumps({**record.result, **figures}))


def run_once(path: Path, role: str) -> dict:
    """Import ``path`` in a fresh child process; return its figures and the load around it."""
    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    proc = subprocess.run(  # noqa: S603 - our own interpreter and script
        [sys.executable, __file__, "--child", str(path), SLUG, role],
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr)
        raise SystemExit(f"import failed (exit {proc.returncode})")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["process_s"] = wall
    result["load"] = (load_before, os.getloadavg()[0])
    result["lines_per_s"] = result["lines_read"] / result["command_s"]
    return result


def report(result: dict) -> None:
    rate, peak_mb = result["lines_per_s"], result["peak_rss_mb"]
    print(
        f"imported: {result['lines_created']:,} lines, {result['transactions_created']:,} "
        f"transactions ({result['transactions_skipped']:,} skipped) as role {result['role']} "
        f"({'a superuser' if result['superuser'] else 'not a superuser'})"
    )
    print(
        f"seconds: {result['command_s']:.1f} for the command ({result['seconds']:.1f} in the "
        f"loader, {result['process_s']:.1f} with process start); "
        f"CPU: Python {result['python_cpu_s']:.1f} s, PostgreSQL backend "
        f"{result['server_cpu_s']:.1f} s"
    )
    stages = ", ".join(f"{name} {secs:.1f}" for name, secs in result["stages"].items())
    print(f"  stages (s): {stages}")
    cpu = ", ".join(f"{name} {secs:.1f}" for name, secs in result["server_cpu_stages"].items())
    print(f"  backend CPU per stage (s): {cpu}")
    ok_rate = "OK" if rate >= TARGET_LINES_PER_S else "MISSED"
    ok_rss = "OK" if peak_mb < TARGET_RSS_MB else "MISSED"
    print(f"lines/s: {rate:,.0f} (target >= {TARGET_LINES_PER_S:,}: {ok_rate})")
    print(f"peak RSS: {peak_mb:,.0f} MB (target < {TARGET_RSS_MB:,} MB: {ok_rss})")
    before, after = result["load"]
    print(f"load average (1 min) before/after: {before:.2f} / {after:.2f} on {os.cpu_count()} CPUs")


def main() -> None:
    """Set up the database and data, run the import in a child process, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=20240601)
    parser.add_argument("--repeat", type=int, default=1, help="import the file R times")
    parser.add_argument("--keep", action="store_true", help="keep the file and imported rows")
    parser.add_argument(
        "--role", default="", help="import after SET ROLE ROLE (default: the DATABASE_URL user)"
    )
    parser.add_argument(
        "--child", nargs=3, metavar=("FILE", "SLUG", "ROLE"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return

    ensure_database(os.environ["DATABASE_URL"])
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
    drop_bench_retailer()
    retailer_id = create_retailer()
    drop_imported(retailer_id)  # VACUUM what earlier runs left
    tmp = Path(tempfile.mkdtemp(prefix="bench-transactions-"))
    path = tmp / "transactions.csv"
    started = time.perf_counter()
    baskets = write_file(path, args.lines, args.seed)
    size_mb = path.stat().st_size / 2**20
    print(f"file: {path} ({args.lines:,} lines, {baskets:,} baskets, {size_mb:.0f} MB, ", end="")
    print(f"written in {time.perf_counter() - started:.1f} s)")

    results = []
    for attempt in range(args.repeat):
        if attempt:
            drop_imported(retailer_id)
        if args.repeat > 1:
            print(f"-- run {attempt + 1} of {args.repeat}")
        results.append(run_once(path, args.role))
        report(results[-1])
    if args.repeat > 1:
        rates = [r["lines_per_s"] for r in results]
        peaks = [r["peak_rss_mb"] for r in results]
        print(
            f"== {args.repeat} runs: lines/s best {max(rates):,.0f}, median "
            f"{statistics.median(rates):,.0f}, worst {min(rates):,.0f}; "
            f"peak RSS max {max(peaks):,.0f} MB"
        )

    if args.keep:
        print(f"kept {path} and retailer {SLUG!r}")
    else:
        path.unlink()
        tmp.rmdir()
        drop_bench_retailer()


if __name__ == "__main__":
    main()
