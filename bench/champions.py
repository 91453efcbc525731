"""Bench: each output's champion against the model served before and the two probabilistic
baselines, on the holdout, with bootstrap 95% intervals, all measured in the same run.

"Before" is the gradient-boosting model (what a run served before champions: the model wherever
one could be trained); "after" is the champion chosen on the validation window. Both, and BG/NBD
and Pareto/NBD, are measured on the same holdout customers (offers for response), so the table
compares like with like whatever the machine's load.

1. Synthetic retailers with known truth (``optimizer/engine/synthetic_retailers.py``): the weekly
   grocer and the twice-a-year mail-order business, in memory (no database).
2. ``--demo SLUG``: scores that retailer (``manage.py score --sync``) at each ``--horizons`` on
   ``DATABASE_URL`` and reads the run's champion report.

Prints the tables, the CPU seconds of each engine fit and the load average.
Run: .venv/bin/python bench/champions.py [--customers 3000] [--demo demo --horizons 8 12]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from optimizer.engine.champion import name_of  # noqa: E402
from optimizer.engine.scoring import run_scoring  # noqa: E402
from optimizer.engine.synthetic_retailers import synthetic_retailer  # noqa: E402


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.1f} / {five:.1f} / {fifteen:.1f} ({os.cpu_count()} cores)"


def _cell(block: dict[str, Any] | None) -> str:
    if not block or block.get("value") is None:
        return "-"
    return f"{block['value']:.3f} [{block['low']:.3f}, {block['high']:.3f}]"


def table(title: str, champions: dict[str, Any]) -> None:
    """Markdown table: output, metric, before (model), after (champion), BG/NBD, Pareto/NBD."""
    print(f"\n{title}\n")
    print("| output | metric | before: model | after: champion | BG/NBD | Pareto/NBD |")
    print("|---|---|---:|---:|---:|---:|")
    for output in ("churn", "visits", "spend", "response"):
        entry = champions.get(output)
        if not entry:
            continue
        holdout = entry.get("holdout") or {}
        best = entry["champion"]
        metric = "AUC" if entry["metric"] == "auc" else "MAE"
        after = f"{_cell(holdout.get(best))} ({name_of(output, best)})"
        print(
            f"| {output} | {metric} | {_cell(holdout.get('model'))} | {after} | "
            f"{_cell(holdout.get('bgnbd'))} | {_cell(holdout.get('pareto_nbd'))} |"
        )


def synthetic(customers: int, horizon: int) -> None:
    for shape in ("grocer", "mail_order"):
        retailer = synthetic_retailer(shape, n_customers=customers, horizon_weeks=horizon, seed=0)
        cpu = time.process_time()
        result = run_scoring(
            baskets=retailer.baskets,
            customers=retailer.customers,
            offers=retailer.offers,
            as_of=retailer.as_of,
            horizon_weeks=horizon,
        )
        cpu = time.process_time() - cpu
        table(
            f"Synthetic {shape}, {customers:,} customers, horizon {horizon} weeks "
            f"(fit + score {cpu:.1f} CPU s; {load_average()})",
            result.metrics["champions"],
        )


def demo(slug: str, horizons: list[int]) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "loyalty_site.settings")
    import django

    django.setup()
    from optimizer.models import ScoringRun
    from retailers.models import Retailer, RunStatus

    retailer = Retailer.objects.get(slug=slug)
    for horizon in horizons:
        command = [sys.executable, "manage.py", "score", "--retailer", slug, "--sync"]
        subprocess.run(  # noqa: S603
            [*command, "--horizon-weeks", str(horizon)],
            cwd=ROOT,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        run = (
            ScoringRun.objects.filter(
                retailer=retailer, horizon_weeks=horizon, status=RunStatus.SUCCEEDED
            )
            .order_by("-pk")
            .first()
        )
        assert run is not None
        table(
            f"{retailer.name}, as of {run.as_of}, horizon {horizon} weeks (run #{run.pk}, "
            f"fit {run.timings.get('fit', 0):.0f} s wall; {load_average()})",
            run.metrics.get("champions") or {},
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=3_000)
    parser.add_argument("--horizon", type=int, default=12, help="synthetic horizon (weeks)")
    parser.add_argument("--demo", default=None, help="slug of a loaded retailer to score")
    parser.add_argument("--horizons", type=int, nargs="+", default=[8, 12])
    parser.add_argument("--skip-synthetic", action="store_true")
    args = parser.parse_args()
    if not args.skip_synthetic:
        synthetic(args.customers, args.horizon)
    if args.demo:
        demo(args.demo, args.horizons)


if __name__ == "__main__":
    main()
