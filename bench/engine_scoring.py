"""Bench: the pure scoring engine at national-chain scale, in memory.

Simulates N customers (default 1,000,000, about 20 transactions each, with offers and category
days), then times each engine stage the way the Django side will run them:

  history   prepare_history over all transactions (lookup, one sort, per-day aggregation)
  features  features_at(as_of) for every customer
  fit       fit_from_history on the training sample (validation + refit + baseline +
            response + segments)
  score     score_customers without reasons (models, baseline, CLV, responses, segments)
  reasons   explain() for every customer

and prints each stage, the engine total and the peak RSS of the process (simulation included).
Target: engine total about 2 minutes, a few GB. Run: .venv/bin/python bench/engine_scoring.py
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
from memory import (  # bench/memory.py (bench/ is sys.path[0])
    current_rss_gb,
    peak_rss_gb,
    reset_peak,
)

from optimizer.engine.explain import explain
from optimizer.engine.features import features_at
from optimizer.engine.history import day_of, prepare_history, subset_history
from optimizer.engine.scoring import fit_from_history, score_customers
from optimizer.engine.segmentation import segment_names
from optimizer.engine.types import ScoringConfig
from tests.optimizer.engine.simulation import simulate


def main() -> None:
    """Run the bench and print one line per stage."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--shuffle", action="store_true", help="transactions in random order")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()

    t, c = time.perf_counter(), time.process_time()
    pop = simulate(args.customers, seed=7, shuffle=args.shuffle, offers_per_year=4.0)
    print(
        f"simulate   {time.perf_counter() - t:7.1f} s  {len(pop.baskets):,} transactions, "
        f"{len(pop.offers):,} offers, {len(pop.category_days):,} category days, "
        f"peak {peak_rss_gb():.2f} GB"
    )
    gc.collect()
    inputs = current_rss_gb()
    reset = reset_peak()
    config = ScoringConfig(n_threads=args.threads)
    as_of = pop.as_of
    as_of_day = day_of(as_of)
    stages: dict[str, tuple[float, float]] = {}

    t, c = time.perf_counter(), time.process_time()
    history = prepare_history(
        pop.baskets, pop.customers, category_days=pop.category_days, offers=pop.offers
    )
    del pop
    stages["history"] = (time.perf_counter() - t, time.process_time() - c)
    t, c = time.perf_counter(), time.process_time()
    features = features_at(history, as_of_day)
    stages["features"] = (time.perf_counter() - t, time.process_time() - c)

    t, c = time.perf_counter(), time.process_time()
    rng = np.random.default_rng(0)
    size = min(config.max_train_customers, history.n_customers)
    sample = rng.choice(history.n_customers, size, replace=False)
    model = fit_from_history(subset_history(history, sample), as_of=as_of, config=config)
    stages["fit"] = (time.perf_counter() - t, time.process_time() - c)

    t, c = time.perf_counter(), time.process_time()
    scores = score_customers(model, features, with_reasons=False)
    stages["score"] = (time.perf_counter() - t, time.process_time() - c)
    t, c = time.perf_counter(), time.process_time()
    assert model.segments is not None
    segment_names(model.segments, scores)
    stages["(segments)"] = (time.perf_counter() - t, time.process_time() - c)
    t, c = time.perf_counter(), time.process_time()
    reasons = explain(features, reference=model.reason_reference)
    stages["reasons"] = (time.perf_counter() - t, time.process_time() - c)

    print(f"{'stage':10s} {'wall':>7s}   {'cpu':>7s}")
    for name, (wall, cpu) in stages.items():
        print(f"{name:10s} {wall:7.1f} s {cpu:7.1f} s")
    wall = sum(v[0] for k, v in stages.items() if not k.startswith("("))
    cpu = sum(v[1] for k, v in stages.items() if not k.startswith("("))
    print(f"{'total':10s} {wall:7.1f} s {cpu:7.1f} s  (engine; '(segments)' is inside 'score')")
    print(f"load average at the end: {os.getloadavg()[0]:.1f} (2 cores; >2 means others ran too)")
    if reset:
        print(f"peak RSS   {peak_rss_gb():7.2f} GB during the engine; input frames {inputs:.2f} GB")
    else:
        print(f"peak RSS   {peak_rss_gb():7.2f} GB (simulation included: no clear_refs)")
    holdout = model.metrics["holdout"]
    if holdout.get("status") == "ok":
        for target, key in (("churn", "auc"), ("visits", "spearman"), ("spend", "spearman")):
            row = {
                name: holdout[target][name][key]
                for name in ("model", "bgnbd", "rule")
                if name in holdout[target]
            }
            print(f"holdout {target} {key}: " + ", ".join(f"{k} {v:.3f}" for k, v in row.items()))
    print("segments:", scores["segment"].value_counts().to_dict())
    print("reason example:", reasons.iloc[0])


if __name__ == "__main__":
    main()
