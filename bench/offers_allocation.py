"""The offer MILP (``optimizer.engine.offers.offers_allocate``) on synthetic option frames.

For N customers, each with one generic bonus and ``--products`` product candidates among
``--catalogue`` products of 20 suppliers, the retailer budget covering about a third of what all
positive options would cost, half the suppliers with a budget and a per-product budget on the
50 most offered products: the MILP's wall and CPU seconds, its objective, proven bound and gap,
next to a greedy baseline measured in the same run (options by value per unit of retailer cost,
taken while every budget and N still allow), which has no optimality guarantee.

No database; prints the machine's load average before and after (the machine is shared).

    .venv/bin/python bench/offers_allocation.py [--customers 2000,10000] [--products 5] [--n 3]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from optimizer.engine.offers import OfferConstraints, offers_allocate

SUPPLIERS = [f"supplier-{i:02d}" for i in range(20)]


def options(customers: int, products: int, catalogue: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    ids = np.arange(1, customers + 1, dtype=np.int64)
    generic = pd.DataFrame(
        {
            "customer_id": ids,
            "option": "coupon",
            "product_id": pd.array([pd.NA] * customers, dtype="Int64"),
            "kind": "generic",
            "supplier": "",
            "value": rng.gamma(2.0, 0.6, customers),
            "retailer_cost": rng.uniform(0.3, 1.5, customers),
            "supplier_cost": 0.0,
        }
    )
    picks = np.concatenate(
        [rng.choice(catalogue, size=products, replace=False) for _ in range(customers)]
    )
    share = rng.choice([0.0, 0.5], size=picks.size)
    discount = rng.uniform(0.2, 2.0, picks.size)
    product = pd.DataFrame(
        {
            "customer_id": np.repeat(ids, products),
            "option": "offer20",
            "product_id": pd.array(picks + 1, dtype="Int64"),
            "kind": "product",
            "supplier": [SUPPLIERS[p % len(SUPPLIERS)] for p in picks],
            "value": rng.normal(0.4, 0.6, picks.size),
            "retailer_cost": discount * (1 - share),
            "supplier_cost": discount * share,
        }
    )
    frame = pd.concat([generic, product], ignore_index=True)
    frame["required"] = False
    frame["reason"] = "you often buy it"
    return frame


def limits(frame: pd.DataFrame, n: int) -> OfferConstraints:
    positive = frame.loc[frame["value"] > 0]
    top = positive.loc[positive["kind"] == "product", "product_id"].value_counts().index[:50]
    supplier_cost = positive.groupby("supplier")["supplier_cost"].sum()
    return OfferConstraints(
        max_offers=n,
        budget=float(positive["retailer_cost"].sum()) / 3,
        product_budgets={int(p): 3.0 for p in top},
        supplier_budgets={s: float(supplier_cost[s]) / 4 for s in SUPPLIERS[::2]},
    )


def greedy(frame: pd.DataFrame, lim: OfferConstraints) -> float:
    """Take options by value per unit of retailer cost while every limit still allows."""
    cand = frame.loc[frame["value"] > 0].copy()
    cand["ratio"] = cand["value"] / cand["retailer_cost"].clip(lower=1e-6)
    budget, total = lim.budget, 0.0
    per_customer: dict[int, int] = {}
    generic_done: set[int] = set()
    product_left = dict(lim.product_budgets)
    supplier_left = dict(lim.supplier_budgets)
    for row in cand.sort_values("ratio", ascending=False).itertuples(index=False):
        c = int(row.customer_id)
        if per_customer.get(c, 0) >= lim.max_offers or row.retailer_cost > budget:
            continue
        if row.kind == "generic" and c in generic_done:
            continue
        discount = row.retailer_cost + row.supplier_cost
        pid = None if pd.isna(row.product_id) else int(row.product_id)
        if pid in product_left and discount > product_left[pid]:
            continue
        if row.supplier in supplier_left and row.supplier_cost > supplier_left[row.supplier]:
            continue
        budget -= row.retailer_cost
        total += row.value
        per_customer[c] = per_customer.get(c, 0) + 1
        if row.kind == "generic":
            generic_done.add(c)
        if pid in product_left:
            product_left[pid] -= discount
        if row.supplier in supplier_left:
            supplier_left[row.supplier] -= row.supplier_cost
    return total


def timed(call):
    wall, cpu = time.perf_counter(), time.process_time()
    out = call()
    return out, time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--customers", default="2000,10000")
    parser.add_argument("--products", type=int, default=5)
    parser.add_argument("--catalogue", type=int, default=2000)
    parser.add_argument("--n", type=int, default=3)
    parser.add_argument("--time-limit", type=float, default=300.0)
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()}")
    print(
        "customers  pairs   | greedy value  wall s  cpu s | MILP value  bound      gap       "
        "status               wall s  cpu s | MILP / greedy"
    )
    for customers in (int(c) for c in args.customers.split(",")):
        frame = options(customers, args.products, args.catalogue, seed=customers)
        lim = limits(frame, args.n)
        base, base_wall, base_cpu = timed(lambda: greedy(frame, lim))  # noqa: B023
        result, wall, cpu = timed(
            lambda: offers_allocate(frame, lim, random_state=0, time_limit=args.time_limit)  # noqa: B023
        )
        print(
            f"{customers:>9}  {len(frame):>7} | "
            f"{base:>12.2f}  {base_wall:>6.2f}  {base_cpu:>5.2f} | "
            f"{result.objective:>10.2f}  {result.bound:>9.2f}  {result.gap:>8.2e}  "
            f"{result.status:<19}  {wall:>6.2f}  {cpu:>5.2f} | {result.objective / base:>6.3f}"
        )
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
