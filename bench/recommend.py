"""Benchmark: offer candidates for 1,000,000 customers x 50,000 products (target: 10 minutes,
6 GB), next to the popularity baseline measured in the same run.

Synthetic history (no database): every customer buys 1 + Poisson(mean) distinct products, 60 %
from their own taste cluster (200 clusters of 250 products, Zipf inside the cluster), the rest
from the whole catalogue (Zipf); purchase days, first and last day within a year. The pipeline
is the run's: fit once (implicit item-item cosine), then recommend customer-range chunks one
after the other in this process (a run spreads them over django-q2 workers; here one process
does them all, so the chunk time is the sum a single worker would need). Writing the rows to
PostgreSQL is not timed here (``COPY`` of 10 million candidates; see bench/README.md).

    .venv/bin/python bench/recommend.py [--customers 1000000] [--products 50000]

Prints stage times (wall and CPU), peak RSS and the load average (the machine is shared).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import resource
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from optimizer.engine.recommend.lists import serve
from optimizer.engine.recommend.model import Calibration, RecommendConfig, fit_recommender

AS_OF = 20_000
CLUSTERS = 200


def _zipf_draw(rng: np.random.Generator, n: int, size: int, a: float = 1.1) -> np.ndarray:
    weights = 1.0 / np.arange(1, n + 1) ** a
    cdf = np.cumsum(weights / weights.sum())
    return np.minimum(np.searchsorted(cdf, rng.random(size)), n - 1)


def synthetic(customers: int, products: int, mean_items: float, seed: int = 0):
    rng = np.random.default_rng(seed)
    per_cluster = products // CLUSTERS
    counts = 1 + rng.poisson(mean_items - 1, customers)
    customer = np.repeat(np.arange(1, customers + 1, dtype=np.int64), counts)
    taste = rng.integers(0, CLUSTERS, customers)[customer - 1]
    own = rng.random(len(customer)) < 0.6
    product = np.empty(len(customer), dtype=np.int64)
    product[own] = taste[own] * per_cluster + _zipf_draw(rng, per_cluster, int(own.sum()))
    product[~own] = _zipf_draw(rng, products, int((~own).sum()))
    key = np.unique(customer * products + product)
    customer, product = key // products, key % products
    n = len(key)
    days = (1 + rng.geometric(0.3, n)).astype(np.int32)
    first = (AS_OF - rng.integers(30, 365, n)).astype(np.int32)
    last = np.minimum(first + days * rng.integers(3, 15, n), AS_OF - 1).astype(np.int32)
    history = pd.DataFrame(
        {
            "customer_id": customer,
            "product_id": product + 1,
            "days": days,
            "first_day": first,
            "last_day": last,
        }
    )
    catalogue = pd.DataFrame(
        {
            "product_id": np.arange(1, products + 1, dtype=np.int64),
            "name": [f"P{i}" for i in range(1, products + 1)],
            "category": np.where(np.arange(products) % 97 == 0, "Tobacco", "Grocery"),
            "margin": rng.uniform(0.1, 3.0, products),
        }
    )
    members = pd.DataFrame(
        {
            "customer_id": np.arange(1, customers + 1, dtype=np.int64),
            "segment": np.array(["Loyal", "Regular", "Occasional", ""])[
                rng.integers(0, 4, customers)
            ],
        }
    )
    return history, catalogue, members


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class Clock:
    def __init__(self) -> None:
        self.rows: list[tuple[str, float, float]] = []

    def time(self, name: str):
        clock = self

        class _Block:
            def __enter__(self) -> None:
                self.wall, self.cpu = time.perf_counter(), time.process_time()

            def __exit__(self, *exc: object) -> None:
                wall = time.perf_counter() - self.wall
                cpu = time.process_time() - self.cpu
                clock.rows.append((name, wall, cpu))
                print(
                    f"  {name:<34} wall {wall:8.1f} s  cpu {cpu:8.1f} s  "
                    f"peak RSS {peak_rss_mb():7.0f} MB  load {os.getloadavg()[0]:.1f}",
                    flush=True,
                )

        return _Block()


def popularity_baseline(history: pd.DataFrame, members: pd.DataFrame, k: int) -> pd.DataFrame:
    """Top ``k`` products by buyers, the same list for every customer."""
    counts = history["product_id"].value_counts()
    top = counts.index.to_numpy()[:k]
    ids = members["customer_id"].to_numpy()
    return pd.DataFrame(
        {
            "customer_id": np.repeat(ids, len(top)),
            "product_id": np.tile(top, len(ids)),
            "rank": np.tile(np.arange(1, len(top) + 1), len(ids)),
        }
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--products", type=int, default=50_000)
    parser.add_argument("--mean-items", type=float, default=25.0)
    parser.add_argument("--chunk", type=int, default=100_000, help="customers per chunk task")
    args = parser.parse_args()
    print(f"load average at start: {os.getloadavg()}; {os.cpu_count()} cores")
    clock = Clock()
    started = time.perf_counter()
    with clock.time("synthetic history"):
        history, catalogue, members = synthetic(args.customers, args.products, args.mean_items)
    print(f"  {len(history):,} (customer, product) rows, {len(members):,} customers")
    config = RecommendConfig()
    with clock.time("baseline: popularity top-10 lists"):
        baseline = popularity_baseline(history, members, config.top_k)
    del baseline
    pipeline_start = time.perf_counter()
    with clock.time("fit (item-item cosine + popular)"):
        model = fit_recommender(
            history,
            catalogue,
            members,
            as_of_day=AS_OF,
            excluded_categories=("Tobacco",),
            config=config,
        )
    # What a run saves after its validation window: the served list and calibration maps (here
    # made-up 90-point maps, about the demo's size), so the chunks time serve() as a run does.
    grid = tuple(float(v) for v in np.linspace(0.0, 1.0, 90))
    shrink = Calibration(x=grid, y=tuple(0.7 * v for v in grid))
    model = dataclasses.replace(model, calibration={"buy_again": shrink, "try": shrink})
    written = 0
    excluded_seen = 0
    tobacco = set(catalogue.loc[catalogue["category"] == "Tobacco", "product_id"])
    with clock.time(f"recommend {args.customers // args.chunk} chunks"):
        ids = members["customer_id"].to_numpy()
        bounds = np.searchsorted(history["customer_id"].to_numpy(), ids[:: args.chunk])
        bounds = [*bounds.tolist(), len(history)]
        for n, start in enumerate(range(0, len(ids), args.chunk)):
            chunk_members = members.iloc[start : start + args.chunk]
            chunk_history = history.iloc[bounds[n] : bounds[n + 1]]
            candidates = serve(model, chunk_history, chunk_members, config)
            written += len(candidates)
            excluded_seen += int(candidates["product_id"].isin(tobacco).sum())
    pipeline = time.perf_counter() - pipeline_start
    kinds = candidates["kind"].value_counts().to_dict()
    print(
        f"candidates: {written:,} ({written / args.customers:.1f} per customer; last chunk's "
        f"kinds {kinds}); excluded-category candidates: {excluded_seen}"
    )
    base = next(r for r in clock.rows if r[0].startswith("baseline"))
    print(
        f"pipeline (fit + all chunks): {pipeline:.1f} s wall = {pipeline / base[1]:.0f} x the "
        f"popularity baseline's {base[1]:.1f} s; whole script {time.perf_counter() - started:.1f} s"
    )
    print(f"peak RSS {peak_rss_mb():.0f} MB; load average at end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
