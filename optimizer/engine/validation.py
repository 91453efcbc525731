"""Honest temporal validation: train on an earlier window, measure on a later one.

Objective: the numbers a retailer can trust. With ``H`` the horizon, ``t1 = as_of - H`` and
``t0 = as_of - 2H``, the models are trained on features at ``t0`` with labels from ``[t0, t1)`` and
measured on features at ``t1`` with labels from ``[t1, as_of)``: a later window than trained on,
and nothing on or after ``as_of``. On the same holdout rows, side by side:

* ``model``: what the engine would serve (the Pipeline, or its fallback when it had to fall back);
* ``bgnbd``: BG/NBD + Gamma-Gamma fitted on data before ``t1`` (unsupervised, so equally honest);
* ``rule``: churn from a one-feature logistic regression on ``log1p(recency_days)`` fitted on the
  training window (its AUC is that of recency alone); visits and spend from the recent-rate rule
  ``H * (visits|spend)_13w / 13``.

Constraints: plain JSON-ready output; skipped with a stated reason when a window has fewer than
``min_train_customers`` customers.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

from optimizer.engine.baseline import baseline_predict, fit_baseline
from optimizer.engine.customer_models import (
    fit_customer_models,
    predict_customer_models,
    rule_predictions,
)
from optimizer.engine.metrics import classification_metrics, regression_metrics
from optimizer.engine.types import ScoringConfig

RULES = {
    "churn": "logistic regression on log1p(recency_days), fitted on the training window",
    "visits": "horizon_weeks * frequency_13w / 13",
    "spend": "horizon_weeks * max(spend_13w, 0) / 13",
}


def evaluate(predictions: pd.DataFrame, labels: pd.DataFrame) -> dict[str, Any]:
    """Churn, visits and spend metrics of one predictor on labelled rows (aligned)."""
    return {
        "churn": classification_metrics(
            labels["churned"].to_numpy(), predictions["churn_probability"].to_numpy()
        ),
        "visits": regression_metrics(
            labels["visits"].to_numpy(), predictions["expected_visits"].to_numpy()
        ),
        "spend": regression_metrics(
            labels["spend"].to_numpy(), predictions["expected_spend"].to_numpy()
        ),
    }


def recency_rule(
    train: pd.DataFrame, train_labels: pd.DataFrame, test: pd.DataFrame, horizon_weeks: int
) -> pd.DataFrame:
    """Rule predictions on ``test``; churn calibrated on the training window by recency alone."""
    out = rule_predictions(test, horizon_weeks)
    y = train_labels["churned"].to_numpy()
    if len(np.unique(y)) == 2:
        x_train = np.log1p(train[["recency_days"]].to_numpy(dtype=np.float64))
        fitted = LogisticRegression().fit(x_train, y)
        x_test = np.log1p(test[["recency_days"]].to_numpy(dtype=np.float64))
        out["churn_probability"] = fitted.predict_proba(x_test)[:, 1]
    else:
        out["churn_probability"] = float(y.mean()) if y.size else 0.5
    return out


def temporal_holdout(
    train: pd.DataFrame,
    train_labels: pd.DataFrame,
    test: pd.DataFrame,
    test_labels: pd.DataFrame,
    *,
    columns: tuple[str, ...],
    horizon_weeks: int,
    config: ScoringConfig,
    random_state: int,
) -> dict[str, Any]:
    """Train at ``t0``, measure at ``t1``; see the module docstring.

    Args:
        train, train_labels: features at ``t0`` and labels from ``[t0, t1)`` (aligned rows).
        test, test_labels: features at ``t1`` and labels from ``[t1, as_of)`` (aligned rows).
        columns: feature columns of the models.
        horizon_weeks: H.
        config: engine config.
        random_state: seed.

    Returns:
        ``{"status", "rules", "model_status", "churn": {"model", "bgnbd", "rule"}, "visits":
        {...}, "spend": {...}}``, or ``{"status": "skipped: ..."}``.
    """
    need = config.min_train_customers
    if len(train) < need or len(test) < need:
        return {
            "status": f"skipped: {len(train)} training and {len(test)} holdout customers "
            f"(need {need} each)"
        }
    models, reasons = fit_customer_models(
        train, train_labels, columns=columns, config=config, random_state=random_state
    )
    baseline = fit_baseline(
        test,
        sample_size=config.baseline_sample,
        min_customers=config.min_baseline_customers,
        random_state=random_state,
    )
    base_pred = baseline_predict(baseline, test, horizon_weeks, config.clv_weeks)
    served = predict_customer_models(models, test, base_pred, horizon_weeks)
    scored = {
        "model": evaluate(served, test_labels),
        "rule": evaluate(recency_rule(train, train_labels, test, horizon_weeks), test_labels),
    }
    if base_pred is not None:
        scored["bgnbd"] = evaluate(base_pred, test_labels)
    result: dict[str, Any] = {"status": "ok", "rules": RULES, "model_status": reasons}
    for target in ("churn", "visits", "spend"):
        result[target] = {name: values[target] for name, values in scored.items()}
    return result
