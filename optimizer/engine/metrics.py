"""Holdout metrics as plain, JSON-ready Python numbers.

Objective: one definition of every reported metric, identical for the models, the BG/NBD
baseline and the recency/recent-rate rules so that they can be compared side by side.

* Probabilities (churn, response): ROC AUC, Brier score, base rate, mean prediction.
* Counts and amounts (visits, spend): MAE, Spearman rank correlation and top-decile capture
  (share of the actual total that the 10% highest-predicted customers account for; actual values
  floored at 0), plus means.

Constraints: every value is a Python ``float``/``int`` (``.item()``/``float()``), or ``None`` where
the metric is undefined (one class only, constant input, empty input): ``NaN`` is not valid JSON.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy.stats import spearmanr
from sklearn.metrics import brier_score_loss, roc_auc_score


def _clean(value: float) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


def classification_metrics(y_true: np.ndarray, probability: np.ndarray) -> dict[str, Any]:
    """AUC and Brier score of ``probability`` for binary ``y_true`` (0/1).

    Returns:
        ``{"n", "base_rate", "mean_prediction", "auc", "brier"}``; ``auc`` is ``None`` with only
        one class, everything but ``n`` is ``None`` when empty.
    """
    y = np.asarray(y_true, dtype=np.float64)
    p = np.clip(np.asarray(probability, dtype=np.float64), 0.0, 1.0)
    n = int(y.size)
    if n == 0:
        return {"n": 0, "base_rate": None, "mean_prediction": None, "auc": None, "brier": None}
    one_class = bool(np.all(y == y[0]))
    return {
        "n": n,
        "base_rate": _clean(y.mean()),
        "mean_prediction": _clean(p.mean()),
        "auc": None if one_class else _clean(roc_auc_score(y, p)),
        "brier": _clean(brier_score_loss(y, p)),
    }


def top_decile_capture(y_true: np.ndarray, prediction: np.ndarray) -> float | None:
    """Share of ``sum(max(y_true, 0))`` held by the top 10% (at least one) by ``prediction``."""
    y = np.maximum(np.asarray(y_true, dtype=np.float64), 0.0)
    total = y.sum()
    if y.size == 0 or total <= 0:
        return None
    k = max(1, math.ceil(0.1 * y.size))
    top = np.argsort(-np.asarray(prediction, dtype=np.float64), kind="stable")[:k]
    return _clean(y[top].sum() / total)


def regression_metrics(y_true: np.ndarray, prediction: np.ndarray) -> dict[str, Any]:
    """MAE, Spearman correlation and top-decile capture of ``prediction`` for ``y_true``.

    Returns:
        ``{"n", "mean_actual", "mean_prediction", "mae", "spearman", "top_decile_capture"}``;
        ``spearman`` is ``None`` if either side is constant.
    """
    y = np.asarray(y_true, dtype=np.float64)
    p = np.asarray(prediction, dtype=np.float64)
    n = int(y.size)
    if n == 0:
        keys = ("mean_actual", "mean_prediction", "mae", "spearman", "top_decile_capture")
        return {"n": 0, **dict.fromkeys(keys)}
    constant = bool(np.all(y == y[0]) or np.all(p == p[0]))
    rho = None if constant else _clean(spearmanr(y, p).statistic)
    return {
        "n": n,
        "mean_actual": _clean(y.mean()),
        "mean_prediction": _clean(p.mean()),
        "mae": _clean(np.abs(y - p).mean()),
        "spearman": rho,
        "top_decile_capture": top_decile_capture(y, p),
    }
