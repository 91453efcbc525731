"""Champions: per output, serve whichever contender wins on a window before the holdout.

Objective: every output a run serves (churn, visits, spend, response) comes from the contender
that predicted it best on data the holdout never touches, and the run says which, why, and how
every contender then did on the holdout, with intervals.

Windows (``H`` = horizon): *validation* trains at ``as_of - 3H`` and measures on
``[as_of - 2H, as_of - H)``; the *holdout* trains at ``as_of - 2H`` and measures on
``[as_of - H, as_of)``; the served models are refitted on the latest window. The champion is
chosen on the validation window only, so changing the holdout's data cannot change the choice;
the holdout then reports the champion's metric and every contender's, each with a bootstrap 95%
interval (customers resampled, seeded) and a paired interval of its difference to the champion.

Contenders and metrics:

* churn (ROC AUC, higher is better), visits and spend (mean absolute error, lower is better):
  ``model`` (gradient boosting), ``bgnbd`` and ``pareto_nbd`` (each with Gamma-Gamma spend) and
  ``rule`` (recency logistic for churn, the recent 13-week rate for visits and spend);
* response (ROC AUC over resolved offers): ``model`` (the pooled classifier) and ``rule`` (the
  prior: the type's rate times the customer's own shrunk rate).

A tie keeps the first in that order. A contender that cannot serve (no model trained on the
latest window, a baseline that could not be fitted) is no candidate. With no validation window
(a history shorter than ``3H``, or too few customers in it) churn, visits and spend go to the
better probabilistic model by log-likelihood on the customers at ``as_of`` (same data, four
parameters each), or to the rule if neither could be fitted; the reason says so.

Constraints: pure; deterministic given ``random_state``; JSON-ready reports.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from optimizer.engine import response as response_engine
from optimizer.engine.baseline import bgnbd_log_likelihood, rfm_summary
from optimizer.engine.bootstrap import bootstrap_metrics
from optimizer.engine.metrics import classification_metrics, regression_metrics
from optimizer.engine.pareto import pareto_log_likelihood
from optimizer.engine.types import Baseline, History, ScoringConfig
from optimizer.engine.validation import CONTENDERS, WindowPredictions

OUTPUTS: tuple[str, ...] = ("churn", "visits", "spend", "response")
RESPONSE_CONTENDERS: tuple[str, ...] = ("model", "rule")
#: (metric, label column, prediction column) per customer output.
TARGETS: dict[str, tuple[str, str, str]] = {
    "churn": ("auc", "churned", "churn_probability"),
    "visits": ("mae", "visits", "expected_visits"),
    "spend": ("mae", "spend", "expected_spend"),
}
NAMES: dict[str, str] = {
    "model": "gradient-boosting model",
    "bgnbd": "BG/NBD",
    "pareto_nbd": "Pareto/NBD",
    "rule": "recency/frequency rule",
}
RESPONSE_RULE = "prior (type rate x the customer's own redemption rate)"


def metric_of(output: str) -> str:
    """``"auc"`` or ``"mae"``."""
    return "auc" if output == "response" else TARGETS[output][0]


def name_of(output: str, contender: str) -> str:
    """Readable contender name for ``output``."""
    return RESPONSE_RULE if output == "response" and contender == "rule" else NAMES[contender]


def _better(metric: str, a: float, b: float) -> bool:
    return a > b + 1e-12 if metric == "auc" else a < b - 1e-12


def pick(output: str, scores: dict[str, float | None], candidates: tuple[str, ...]) -> str | None:
    """The best of ``candidates`` by ``scores`` (first on a tie); ``None`` if none is scored."""
    metric = metric_of(output)
    best: str | None = None
    for name in candidates:
        value = scores.get(name)
        if value is None:
            continue
        if best is None or _better(metric, value, scores[best] or 0.0):
            best = name
    return best


def window_scores(window: WindowPredictions) -> dict[str, dict[str, float | None]]:
    """Point metric of every available contender per customer output on one window."""
    out: dict[str, dict[str, float | None]] = {}
    for target, (metric, label, column) in TARGETS.items():
        y = window.labels[label].to_numpy(dtype=np.float64)
        scores: dict[str, float | None] = {}
        for name in window.available(target):
            p = window.predictions[name][column].to_numpy(dtype=np.float64)
            m = classification_metrics(y, p) if metric == "auc" else regression_metrics(y, p)
            scores[name] = m[metric]
        out[target] = scores
    return out


def response_rows(
    history: History,
    *,
    config: ScoringConfig,
    columns: tuple[str, ...],
    known_day: int,
    split_day: int,
    random_state: int,
) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]] | str:
    """Response contenders on offers sent from ``split_day``, resolved before ``known_day``.

    The predictions are ``response.holdout_predictions``'s, the ones the response holdout
    metrics use: the model as served (blended with the prior), the rule, the labels and the
    customer per row, which the bootstrap needs.

    Returns ``(labels, customer per row, {"model"?, "rule": probabilities})`` or why there is
    nothing to measure.
    """
    got = response_engine.holdout_predictions(
        history,
        config=config,
        columns=columns,
        known_day=known_day,
        split_day=split_day,
        random_state=random_state,
    )
    if isinstance(got, str):
        return got
    out = {"rule": got.prior}
    if got.model is not None:
        out["model"] = got.model
    return got.labels, got.customers, out


def _likelihood_choice(baseline: Baseline, now: pd.DataFrame) -> tuple[str | None, str]:
    """The better probabilistic model by mean log-likelihood on the buyers at ``as_of``."""
    buyers = now[now["frequency"].to_numpy() > 0]
    if len(buyers) > 10_000:
        buyers = buyers.iloc[:: int(np.ceil(len(buyers) / 10_000))]
    x, t_x, big_t = rfm_summary(buyers)
    ll: dict[str, float] = {}
    if baseline.bgnbd is not None:
        b = baseline.bgnbd
        ll["bgnbd"] = float(np.mean(bgnbd_log_likelihood(b.r, b.alpha, b.a, b.b, x, t_x, big_t)))
    pareto = getattr(baseline, "pareto", None)
    if pareto is not None:
        with np.errstate(all="ignore"):
            values = pareto_log_likelihood(
                pareto.r, pareto.alpha, pareto.s, pareto.beta, x, t_x, big_t
            )
        ll["pareto_nbd"] = float(np.mean(values))
    ll = {k: v for k, v in ll.items() if np.isfinite(v)}
    if not ll:
        return None, "neither BG/NBD nor Pareto/NBD could be fitted"
    best = max(("pareto_nbd", "bgnbd"), key=lambda k: ll.get(k, -np.inf))
    detail = ", ".join(f"{NAMES[k]} {v:.3f}" for k, v in sorted(ll.items()))
    return best, f"better mean log-likelihood per customer at as_of ({detail})"


def choose_customer_champions(
    validation: WindowPredictions | str,
    *,
    servable: dict[str, tuple[str, ...]],
    baseline: Baseline,
    now: pd.DataFrame,
    window_text: str,
) -> dict[str, dict[str, Any]]:
    """Champion of churn, visits and spend, with the reason and the validation metrics.

    Args:
        validation: the validation window's predictions, or why it was skipped.
        servable: per target the contenders that can serve at ``as_of``.
        baseline: the baseline fitted at ``as_of`` (for the likelihood choice).
        now: features of the members at ``as_of``.
        window_text: the validation window, for the reason.
    """
    out: dict[str, dict[str, Any]] = {}
    scores = window_scores(validation) if not isinstance(validation, str) else {}
    for target in TARGETS:
        metric = metric_of(target)
        candidates = servable[target]
        found = scores.get(target, {})
        best = pick(target, found, candidates)
        if best is not None:
            shown = ", ".join(
                f"{NAMES[k]} {v:.4g}" for k, v in found.items() if v is not None and k in candidates
            )
            reason = f"best validation {metric.upper()} ({window_text}): {shown}"
        else:
            if isinstance(validation, str):
                why = f"no validation window ({validation})"
            else:
                why = "no contender could be scored on the validation window"
            choice, because = _likelihood_choice(baseline, now)
            best = choice if choice in candidates else "rule"
            reason = (
                f"{why}; the gradient-boosting model is not served "
                f"unvalidated: {NAMES[best]}, "
                + (because if best == choice else f"the fallback ({because})")
            )
        out[target] = {
            "champion": best,
            "reason": reason,
            "metric": metric,
            "validation": dict(found),
        }
    return out


def choose_response_champion(
    validation: tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]] | str,
    *,
    model_servable: bool,
    window_text: str,
) -> dict[str, Any]:
    """Champion of the response output (the model or the prior)."""
    candidates = RESPONSE_CONTENDERS if model_servable else ("rule",)
    scores: dict[str, float | None] = {}
    if not isinstance(validation, str):
        y, _, preds = validation
        scores = {k: classification_metrics(y, p)["auc"] for k, p in preds.items()}
    best = pick("response", scores, candidates)
    if best is not None:
        shown = ", ".join(f"{name_of('response', k)} {v:.4g}" for k, v in scores.items() if v)
        reason = f"best validation AUC ({window_text}): {shown}"
    else:
        why = validation if isinstance(validation, str) else "one outcome only"
        best = "rule"
        reason = (
            f"no validation of the response model ({why}): the prior serves"
            if model_servable
            else "no response model could be trained: the prior serves"
        )
    return {"champion": best, "reason": reason, "metric": "auc", "validation": scores}


def holdout_intervals(
    champions: dict[str, dict[str, Any]],
    holdout: WindowPredictions | str,
    response_holdout: tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]] | str,
    *,
    random_state: int,
) -> dict[str, dict[str, Any]]:
    """Add ``holdout`` (every contender's metric with its 95% interval and its paired
    difference to the champion), ``n`` and ``holdout_status`` to each output's champion entry."""
    out = {k: dict(v) for k, v in champions.items()}
    for target, (metric, label, column) in TARGETS.items():
        entry = out[target]
        if isinstance(holdout, str):
            entry.update(holdout={}, n=0, holdout_status=holdout)
            continue
        y = holdout.labels[label].to_numpy(dtype=np.float64)
        if metric == "auc":
            y = (y > 0).astype(np.float64)
        preds = {
            k: holdout.predictions[k][column].to_numpy(dtype=np.float64)
            for k in holdout.available(target)
        }
        reference = entry["champion"] if entry["champion"] in preds else None
        entry.update(
            holdout=bootstrap_metrics(
                y, preds, kind=metric, reference=reference, seed=random_state
            ),
            n=int(y.size),
            holdout_status="ok",
        )
    entry = out["response"]
    if isinstance(response_holdout, str):
        entry.update(holdout={}, n=0, holdout_status=response_holdout)
    else:
        y, groups, preds = response_holdout
        reference = entry["champion"] if entry["champion"] in preds else None
        entry.update(
            holdout=bootstrap_metrics(
                y, preds, kind="auc", reference=reference, groups=groups, seed=random_state
            ),
            n=int(y.size),
            holdout_status="ok",
        )
    for output, entry in out.items():
        entry["contenders"] = {
            k: name_of(output, k)
            for k in (RESPONSE_CONTENDERS if output == "response" else CONTENDERS)
        }
    return out
