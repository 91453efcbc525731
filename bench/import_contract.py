"""Benchmark of ``manage.py import_csv`` for every contract file but transactions, on PostgreSQL.

Target: every kind imports at least 20,000 rows/s through the command. For each kind (stores,
products, customers, inventory, competitor prices, offers, in the order their keys need) it writes
a seeded file of ``--rows`` rows (default 60,000), runs ``manage.py import_csv KIND FILE --retailer
bench-contract`` in a child process and times it three ways: the first load (all rows new), the
same file again (all rows unchanged: skipped) and a file with every value changed (all updated).

The baseline, measured in the same run: the django-import-export resource's own ``import_data``
(the path the command took before, about 260 rows/s for products) on ``--baseline-rows`` product
rows (default 2,000; the whole file would take minutes).

    .venv/bin/python bench/import_contract.py [--rows N] [--baseline-rows N] [--keep]

``DATABASE_URL`` defaults to postgres://postgres@127.0.0.1:5432/loyalty_bench.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/loyalty_bench")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "loyalty_site.settings")

from import_transactions import ensure_database  # noqa: E402 - bench/ is sys.path[0]

SLUG = "bench-contract"
TARGET_ROWS_PER_S = 20_000
KINDS = ("stores", "products", "customers", "inventory", "competitor_prices", "offers")


def frames(rows: int, version: int) -> dict[str, pd.DataFrame]:
    """A seeded file of each kind; ``version`` 1 changes every non-key value of version 0."""
    rng = np.random.default_rng(7 + version)
    n = np.arange(rows)
    stores = rows  # as many as the other files: a rate measured on a tiny file is start-up time
    skus = [f"SKU{i:07d}" for i in n]
    money = lambda low, high: np.round(rng.uniform(low, high, rows), 2)  # noqa: E731
    return {
        "stores": pd.DataFrame(
            {
                "store_id": [f"S{i:07d}" for i in range(stores)],
                "name": [f"Store {i} v{version}" for i in range(stores)],
                "region": [f"R{(i + version) % 12}" for i in range(stores)],
            }
        ),
        "products": pd.DataFrame(
            {
                "sku": skus,
                "name": [f"Product {i} v{version}" for i in n],
                "category": [f"Cat {i % 300}" for i in n],
                "brand": [f"Brand {(i + version) % 900}" for i in n],
                "unit_cost": money(0.1, 5),
                "price": money(5, 20),
            }
        ),
        "customers": pd.DataFrame(
            {
                "customer_id": [f"C{i:08d}" for i in n],
                "enrolled_on": pd.Timestamp("2020-01-01").date(),
                "age_band": [("25-34", "35-44", "45-54")[(i + version) % 3] for i in n],
                "email": [f"c{i}@example.com" for i in n],
                "marketing_consent": ["true" if (i + version) % 2 else "false" for i in n],
            }
        ),
        "inventory": pd.DataFrame(
            {
                "sku": skus,
                "store_id": [f"S{i % stores:07d}" for i in n],
                "date": "2026-11-30",
                "on_hand": rng.integers(0, 500, rows),
            }
        ),
        "competitor_prices": pd.DataFrame(
            {"sku": skus, "competitor": "Rival", "date": "2026-11-30", "price": money(4, 21)}
        ),
        "offers": pd.DataFrame(
            {
                "offer_id": [f"O{i:08d}" for i in n],
                "customer_id": [f"C{i:08d}" for i in n],
                "bonus_type": [("bench-a", "bench-b")[i % 2] for i in n],
                "sent_on": "2026-11-02",
                "valid_until": "2026-11-16",
                "redeemed_on": [("2026-11-05" if (i + version) % 3 == 0 else "") for i in n],
            }
        ),
    }


def drop_bench_retailer() -> None:
    """Delete the benchmark retailer (its offers and bonus types first: the catalogue is
    protected)."""
    from campaigns.models import BonusType, PastOffer
    from retailers.models import Retailer

    PastOffer.objects.filter(retailer__slug=SLUG).delete()
    BonusType.objects.filter(retailer__slug=SLUG).delete()
    Retailer.objects.filter(slug=SLUG).delete()


def run_command(kind: str, path: Path) -> tuple[float, float]:
    """Seconds ``manage.py import_csv`` takes in a fresh child process (start-up included):
    ``(wall clock, CPU of the child)``. The CPU seconds hardly depend on the machine's load."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(  # noqa: S603 - our own manage.py
        [sys.executable, "manage.py", "import_csv", kind, str(path), "--retailer", SLUG],
        cwd=ROOT,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return wall, cpu


def baseline(rows: int, folder: Path) -> float:
    """Rows/s of django-import-export's own ``import_data`` with the products resource."""
    from django.db import transaction

    from retailers.models import Retailer
    from retailers.resources import ProductResource
    from retailers.services import file_chunks, read_csv

    path = folder / "baseline.csv"
    frame = frames(rows, 0)["products"].assign(sku=lambda f: "BASE" + f["sku"])
    frame.to_csv(path, index=False)
    retailer = Retailer.objects.get(slug=SLUG)
    dataset = read_csv(file_chunks(path))
    start = time.perf_counter()
    with transaction.atomic():
        result = ProductResource(retailer=retailer).import_data(dataset, raise_errors=True)
    seconds = time.perf_counter() - start
    assert result.totals["new"] == rows
    return rows / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=60_000)
    parser.add_argument("--baseline-rows", type=int, default=2_000)
    parser.add_argument("--keep", action="store_true", help="keep the benchmark retailer")
    args = parser.parse_args()
    ensure_database(os.environ["DATABASE_URL"])
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    drop_bench_retailer()
    call_command("create_retailer", SLUG, name="Bench contract", stdout=open(os.devnull, "w"))  # noqa: SIM115
    print(f"import_csv on PostgreSQL, {args.rows:,} rows per file (target >= 20,000 rows/s)")
    print(f"load average before: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    print(f"{'':<26}" + "".join(f"| {label:<20}" for label in ("new", "same", "changed")))
    print(f"{'kind':<18}{'rows':>8}" + f"| {'wall s':>6}{'cpu s':>6}{'rows/s':>8} " * 3)
    worst = float("inf")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        files = {}
        for version in (0, 1):
            for kind, frame in frames(args.rows, version).items():
                files[kind, version] = folder / f"{kind}-{version}.csv"
                frame.to_csv(files[kind, version], index=False)
        header_only = folder / "stores-empty.csv"
        header_only.write_text("store_id,name,region\n")
        startup = [run_command("stores", header_only) for _ in range(3)]
        for kind in KINDS:
            rows = len(pd.read_csv(files[kind, 0], usecols=[0]))
            runs = [run_command(kind, files[kind, v]) for v in (0, 0, 1)]
            rates = [rows / wall for wall, _ in runs]
            worst = min(worst, *rates)
            cells = "".join(f"| {w:>6.1f}{c:>6.1f}{rows / w:>8,.0f} " for w, c in runs)
            print(f"{kind:<18}{rows:>8,}{cells}")
        wall, cpu = min(startup)
        print(f"start-up (header-only file, best of 3): {wall:.1f} s wall, {cpu:.1f} s CPU")
        rate = baseline(args.baseline_rows, folder)
    print(f"baseline: import-export's import_data, {args.baseline_rows:,} products:", end=" ")
    print(f"{rate:,.0f} rows/s")
    verdict = "meets" if worst >= TARGET_ROWS_PER_S else "MISSES"
    print(f"slowest: {worst:,.0f} rows/s (command start-up included): {verdict} the target")
    print(f"load average after: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    if not args.keep:
        drop_bench_retailer()


if __name__ == "__main__":
    main()
