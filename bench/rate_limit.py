"""Cost of one rate-limit hit (``loyalty_site.rate_limit.hit``) per store, as a till's request
pays it: the database store (default without CACHE_URL: one upsert) against the per-process
cache (the former default) and, with CACHE_URL, Redis.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/loyalty_rate_bench .venv/bin/python \\
        bench/rate_limit.py [--hits 5000] [--threads 4]

The database (``createdb -h 127.0.0.1 -U postgres loyalty_rate_bench``) is migrated first.
Prints hits/s and the mean and p95 microseconds per hit for one thread, then the total hits/s
with ``--threads`` threads counting on the same name (one hot row, as one busy till token is).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "loyalty_site.settings")
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/loyalty_rate_bench")

import django

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402

from loyalty_site.rate_limit import hit  # noqa: E402


def one_thread(name: str, hits: int) -> list[float]:
    seconds = []
    for _ in range(hits):
        start = time.perf_counter()
        hit(name, 60)
        seconds.append(time.perf_counter() - start)
    return seconds


def threaded(name: str, hits: int, threads: int) -> float:
    def work() -> None:
        try:
            one_thread(name, hits)
        finally:
            connection.close()

    pool = [threading.Thread(target=work) for _ in range(threads)]
    start = time.perf_counter()
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    return hits * threads / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--hits", type=int, default=5000)
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    stores = ["database", "cache"]
    cache = "set" if settings.CACHE_URL else "unset"
    print(f"PostgreSQL {connection.pg_version}, CACHE_URL={cache}")
    for store in stores:
        settings.RATE_LIMIT_STORE = store
        name = f"bench-{store}-{time.time_ns()}"
        seconds = one_thread(name, args.hits)
        mean = statistics.fmean(seconds) * 1e6
        p95 = statistics.quantiles(seconds, n=20)[-1] * 1e6
        many = threaded(name + "-t", args.hits // args.threads, args.threads)
        print(
            f"{store:>8}: 1 thread {1e6 / mean:8.0f} hits/s, mean {mean:6.0f} us, "
            f"p95 {p95:6.0f} us; {args.threads} threads on one name {many:8.0f} hits/s"
        )


if __name__ == "__main__":
    main()
