"""Honest temporal validation: train on an earlier window, measure on a later one.

Objective: the numbers a retailer can trust. With ``H`` the horizon, ``t1 = as_of - H`` and
``t0 = as_of - 2H``, the models are trained on features at ``t0`` with labels from ``[t0, t1)`` and
measured on features at ``t1`` with labels from ``[t1, as_of)``: a later window than trained on,
and nothing on or after ``as_of``. On the same holdout rows, side by side:

* ``model``: the gradient-boosting Pipeline (or its fallback when it had to fall back);
* ``bgnbd``: BG/NBD + Gamma-Gamma fitted on data before ``t1`` (unsupervised, so equally honest);
* ``pareto_nbd``: Pareto/NBD + Gamma-Gamma, fitted like BG/NBD;
* ``rule``: churn from a one-feature logistic regression on ``log1p(recency_days)`` fitted on the
  training window (its AUC is that of recency alone); visits and spend from the recent-rate rule
  ``H * (visits|spend)_13w / 13``.

The same function measures the *validation* window one horizon earlier (train at ``as_of - 3H``,
measure at ``t0``), on which ``champion.py`` chooses what serves each output: the holdout itself
never takes part in the choice.

Constraints: plain JSON-ready output; skipped with a stated reason when a window has fewer than
``min_train_customers`` customers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

from optimizer.engine.baseline import baseline_predict, fit_baseline, pareto_predict
from optimizer.engine.customer_models import (
    fit_customer_models,
    predict_customer_models,
    rule_predictions,
)
from optimizer.engine.metrics import classification_metrics, regression_metrics
from optimizer.engine.types import ScoringConfig

#: The contenders of the churn, visits and spend outputs, in order of preference on a tie.
CONTENDERS: tuple[str, ...] = ("model", "pareto_nbd", "bgnbd", "rule")

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


@dataclass(frozen=True)
class RecencyRule:
    """Churn by recency alone: ``expit(intercept + coef * log1p(recency_days))``."""

    intercept: float
    coef: float

    def churn(self, features: pd.DataFrame) -> np.ndarray:
        """Churn probability of every row of ``features`` (uses ``recency_days``)."""
        x = np.log1p(features["recency_days"].to_numpy(dtype=np.float64))
        return np.asarray(1.0 / (1.0 + np.exp(-(self.intercept + self.coef * x))))


def fit_recency_rule(train: pd.DataFrame, train_labels: pd.DataFrame) -> RecencyRule:
    """Logistic regression of churn on ``log1p(recency_days)``; the base rate if one class."""
    y = train_labels["churned"].to_numpy()
    if len(np.unique(y)) == 2:
        x_train = np.log1p(train[["recency_days"]].to_numpy(dtype=np.float64))
        fitted = LogisticRegression().fit(x_train, y)
        return RecencyRule(float(fitted.intercept_[0]), float(fitted.coef_[0, 0]))
    rate = float(np.clip(y.mean(), 1e-6, 1 - 1e-6)) if y.size else 0.5
    return RecencyRule(float(np.log(rate / (1.0 - rate))), 0.0)


def rule_frame(rule: RecencyRule, features: pd.DataFrame, horizon_weeks: int) -> pd.DataFrame:
    """The rule's churn, visits and spend for ``features`` (module docstring)."""
    out = rule_predictions(features, horizon_weeks)
    out["churn_probability"] = rule.churn(features)
    return out


def recency_rule(
    train: pd.DataFrame, train_labels: pd.DataFrame, test: pd.DataFrame, horizon_weeks: int
) -> pd.DataFrame:
    """Rule predictions on ``test``; churn calibrated on the training window by recency alone."""
    return rule_frame(fit_recency_rule(train, train_labels), test, horizon_weeks)


@dataclass(frozen=True, eq=False)
class WindowPredictions:
    """Every contender's predictions on one labelled window (rows aligned with ``labels``).

    ``reasons[target]`` is ``"model"`` where the Pipeline was trained (else the model column
    holds its fallback and the model is no contender for that target).
    """

    predictions: dict[str, pd.DataFrame]
    labels: pd.DataFrame
    reasons: dict[str, str]

    def available(self, target: str) -> tuple[str, ...]:
        """Contenders with predictions of ``target`` on this window."""
        return tuple(
            c
            for c in CONTENDERS
            if c in self.predictions and (c != "model" or self.reasons.get(target) == "model")
        )


def window_predictions(
    train: pd.DataFrame,
    train_labels: pd.DataFrame,
    test: pd.DataFrame,
    test_labels: pd.DataFrame,
    *,
    columns: tuple[str, ...],
    horizon_weeks: int,
    config: ScoringConfig,
    random_state: int,
) -> WindowPredictions | str:
    """Fit every contender on the earlier window and predict the later one.

    Returns:
        The :class:`WindowPredictions`, or why the window was skipped (too few customers).
    """
    need = config.min_train_customers
    if len(train) < need or len(test) < need:
        return (
            f"skipped: {len(train)} training and {len(test)} holdout customers (need {need} each)"
        )
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
    predictions = {
        "model": predict_customer_models(models, test, base_pred, horizon_weeks),
        "rule": recency_rule(train, train_labels, test, horizon_weeks),
    }
    if base_pred is not None:
        predictions["bgnbd"] = base_pred
    pareto = pareto_predict(baseline, test, horizon_weeks, config.clv_weeks)
    if pareto is not None:
        predictions["pareto_nbd"] = pareto
    return WindowPredictions(predictions, test_labels, reasons)


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
        ``{"status", "rules", "model_status", "churn": {"model", "bgnbd", "pareto_nbd",
        "rule"}, "visits": {...}, "spend": {...}}``, or ``{"status": "skipped: ..."}``.
    """
    window = window_predictions(
        train,
        train_labels,
        test,
        test_labels,
        columns=columns,
        horizon_weeks=horizon_weeks,
        config=config,
        random_state=random_state,
    )
    return window_report(window)


def window_report(window: WindowPredictions | str) -> dict[str, Any]:
    """The JSON report of :func:`temporal_holdout` from a window's predictions."""
    if isinstance(window, str):
        return {"status": window}
    scored = {name: evaluate(p, window.labels) for name, p in window.predictions.items()}
    result: dict[str, Any] = {"status": "ok", "rules": RULES, "model_status": window.reasons}
    for target in ("churn", "visits", "spend"):
        result[target] = {name: values[target] for name, values in scored.items()}
    return result
