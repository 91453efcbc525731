"""The offers choice (``optimizer.engine.offers.offers_allocate``) on synthetic option frames.

For N customers, each with one generic bonus and ``--products`` product candidates among
``--catalogue`` products of ``--suppliers`` suppliers, the retailer budget covering about a third
of what all positive options would cost, half the suppliers with a budget and a per-product
budget on the 50 most offered products: the decomposition (column generation + recovery) and,
up to ``--milp-max`` customers, the direct MILP: wall and CPU seconds, peak RSS, objective,
proven bound and gap, next to a greedy baseline measured in the same run (options by value per
unit of retailer cost, taken while every budget and N still allow), which has no optimality
guarantee.

Peak RSS is the process's VmHWM, reset before each method (``/proc/self/clear_refs``), so it
includes the option frame. No database; prints the load average before and after each size
(the machine is shared: compare CPU seconds).

    .venv/bin/python bench/offers_allocation.py [--customers 10000,100000,1000000]
        [--products 5] [--catalogue 2000] [--suppliers 50] [--n 3] [--milp-max 10000]
        [--product-budget-share 0.25]

Product budgets: by default 3.00 on each of the 50 most offered products whatever the number of
customers (the hard case: a few offers per budget, 3 among about 1,900 positive candidates at
1,000,000 customers, where the LP's integrality gap on each budget matters); with
``--product-budget-share s`` each is ``s`` times the expected discount of the product's positive
candidates, the way a category manager would size it at chain scale.
"""

from __future__ import annotations

import argparse
import functools
import os
import resource
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from memory import reset_peak  # bench/memory.py (bench/ is sys.path[0])

from optimizer.engine.offers import OfferConstraints, offers_allocate

SUPPLIERS = [f"supplier-{i:02d}" for i in range(50)]


def options(
    customers: int, products: int, catalogue: int, seed: int, suppliers: int = 50
) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    names = np.array(SUPPLIERS[:suppliers])
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
    # Distinct products per customer: the first ``products`` of a random permutation (argsort
    # of uniform keys), vectorised for a million customers.
    keys = rng.random((customers, catalogue), dtype=np.float32) if catalogue <= 4096 else None
    if keys is None:
        picks = np.concatenate(
            [rng.choice(catalogue, size=products, replace=False) for _ in range(customers)]
        )
    else:
        picks = np.concatenate(
            [
                np.argpartition(keys[i : i + 50_000], products, axis=1)[:, :products].ravel()
                for i in range(0, customers, 50_000)
            ]
        )
        del keys
    share = rng.choice([0.0, 0.5], size=picks.size)
    discount = rng.uniform(0.2, 2.0, picks.size)
    product = pd.DataFrame(
        {
            "customer_id": np.repeat(ids, products),
            "option": "offer20",
            "product_id": pd.array(picks + 1, dtype="Int64"),
            "kind": "product",
            "supplier": names[picks % names.size],
            "value": rng.normal(0.4, 0.6, picks.size),
            "retailer_cost": discount * (1 - share),
            "supplier_cost": discount * share,
        }
    )
    frame = pd.concat([generic, product], ignore_index=True)
    frame["required"] = False
    frame["reason"] = "you often buy it"
    return frame


def limits(
    frame: pd.DataFrame, n: int, suppliers: int = 50, product_share: float = 0.0
) -> OfferConstraints:
    """Budgets of the run. ``product_share`` 0 (the hard case): 3.00 per budgeted product, a
    few offers whatever the customers; above 0 (realistic at chain scale): that share of the
    expected discount of the product's positive candidates."""
    positive = frame.loc[frame["value"] > 0]
    top = positive.loc[positive["kind"] == "product", "product_id"].value_counts().index[:50]
    supplier_cost = positive.groupby("supplier")["supplier_cost"].sum()
    discount = (
        (positive["retailer_cost"] + positive["supplier_cost"])
        .groupby(positive["product_id"])
        .sum()
    )
    return OfferConstraints(
        max_offers=n,
        budget=float(positive["retailer_cost"].sum()) / 3,
        product_budgets={
            int(p): product_share * float(discount[p]) if product_share > 0 else 3.0 for p in top
        },
        supplier_budgets={s: float(supplier_cost[s]) / 4 for s in SUPPLIERS[:suppliers:2]},
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
    """Result, wall s, CPU s and peak RSS (MB) of ``call()``."""
    reset_peak()
    wall, cpu = time.perf_counter(), time.process_time()
    out = call()
    return out, time.perf_counter() - wall, time.process_time() - cpu, peak_mb()


def peak_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def row(customers, pairs, name, result, wall, cpu, rss, base):
    value = result if isinstance(result, float) else result.objective
    bound = "" if isinstance(result, float) else f"{result.bound:,.2f}"
    gap = "" if isinstance(result, float) else f"{result.gap:.2e}"
    status = "" if isinstance(result, float) else result.status
    print(
        f"{customers:>9,} {pairs:>9,} {name:<13} {value:>14,.2f} {bound:>14} {gap:>9} "
        f"{status:<19} {wall:>8.1f} {cpu:>8.1f} {rss:>8.0f} {value / base:>8.4f}",
        flush=True,
    )
    if not isinstance(result, float):
        print(f"    {result.method}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--customers", default="10000,100000,1000000")
    parser.add_argument("--products", type=int, default=5)
    parser.add_argument("--catalogue", type=int, default=2000)
    parser.add_argument("--suppliers", type=int, default=50)
    parser.add_argument("--n", type=int, default=3)
    parser.add_argument("--milp-max", type=int, default=10_000)
    parser.add_argument("--time-limit", type=float, default=120.0)
    parser.add_argument(
        "--product-budget-share",
        type=float,
        default=0.0,
        help="0: 3.00 per budgeted product (hard case); else this share of its candidates' "
        "discount",
    )
    args = parser.parse_args()
    print(
        "customers     pairs method         value          bound          gap       "
        "status              wall s    CPU s  peak MB  / greedy"
    )
    for customers in (int(c) for c in args.customers.split(",")):
        print(f"load average before: {os.getloadavg()}", flush=True)
        one_size(customers, args)
        print(f"load average after: {os.getloadavg()}", flush=True)


def one_size(customers: int, args: argparse.Namespace) -> None:
    frame = options(customers, args.products, args.catalogue, customers, args.suppliers)
    lim = limits(frame, args.n, args.suppliers, args.product_budget_share)
    base, *figures = timed(functools.partial(greedy, frame, lim))
    row(customers, len(frame), "greedy", base, *figures, base)
    methods = ["decomposition"] + (["milp"] if customers <= args.milp_max else [])
    for method in methods:
        call = functools.partial(
            offers_allocate, frame, lim, random_state=0, time_limit=args.time_limit, method=method
        )
        result, *figures = timed(call)
        row(customers, len(frame), method, result, *figures, base)


if __name__ == "__main__":
    main()
