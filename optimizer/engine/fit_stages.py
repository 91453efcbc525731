"""The stages of a scoring fit before and after the customers are scored once for segmentation.

Objective: keep :func:`optimizer.engine.scoring._fit` a short list of its stages: validate on the
older window and refit on the latest one (:func:`validate_and_refit`), fit the baseline and the
response model on everyone at ``as_of`` (:func:`fit_population_models`), then describe the fit
(:func:`fit_metrics`). Segmentation needs the scoring itself, so it stays in ``scoring.py``.

Constraints: pure and deterministic given ``as_of_day`` and ``random_state``; nothing reads the
clock; windows are ``t0 = as_of - 2H`` and ``t1 = as_of - H`` (see ``validation.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import pandas as pd

from optimizer.engine.baseline import fit_baseline
from optimizer.engine.customer_models import fit_customer_models
from optimizer.engine.features import (
    MODEL_FEATURES,
    features_at,
    model_type_columns,
    population_mask,
)
from optimizer.engine.labels import window_labels
from optimizer.engine.response import fit_response
from optimizer.engine.types import Baseline, History, ResponseModel, ScoringConfig, SegmentModel
from optimizer.engine.validation import temporal_holdout


@dataclass(frozen=True)
class FitWindows:
    """The days of one fit (days since 1970-01-01) and its feature columns."""

    as_of_day: int
    horizon_weeks: int
    t0: int
    t1: int
    columns: tuple[str, ...]

    @classmethod
    def at(cls, history: History, as_of_day: int, horizon_weeks: int) -> FitWindows:
        """``t1 = as_of - H`` and ``t0 = as_of - 2H``; the columns are the model features
        (``features.MODEL_FEATURES``) and every bonus type's redemption rate."""
        t1 = as_of_day - 7 * horizon_weeks
        return cls(
            as_of_day=as_of_day,
            horizon_weeks=horizon_weeks,
            t0=t1 - 7 * horizon_weeks,
            t1=t1,
            columns=MODEL_FEATURES + model_type_columns(history.bonus_types),
        )


def _iso(day: int) -> str:
    return (date(1970, 1, 1) + timedelta(days=int(day))).isoformat()


def _baseline_info(b: Baseline) -> dict[str, Any]:
    return {
        "bgnbd": None if b.bgnbd is None else {k: float(v) for k, v in vars(b.bgnbd).items()},
        "gamma_gamma": None
        if b.gamma_gamma is None
        else {k: float(v) for k, v in vars(b.gamma_gamma).items()},
    }


def validate_and_refit(
    history: History, w: FitWindows, *, config: ScoringConfig, random_state: int
) -> tuple[dict[str, Any], dict[str, str], dict[str, Any]]:
    """Measure on the holdout (train at ``t0``, test at ``t1``), then refit at ``t1``.

    Returns ``(models, reasons, holdout)``: the churn, visits and spend pipelines, why each is
    a model or a fallback, and the holdout metrics.
    """

    t0, t1, horizon_weeks, columns = w.t0, w.t1, w.horizon_weeks, w.columns

    def window(cutoff: int) -> tuple[pd.DataFrame, pd.DataFrame]:
        members = population_mask(history, cutoff)
        feats = features_at(history, cutoff)[members].reset_index(drop=True)
        labels = window_labels(history, cutoff, horizon_weeks)[members].reset_index(drop=True)
        return feats, labels

    f0, l0 = window(t0)
    f1, l1 = window(t1)
    holdout = temporal_holdout(
        f0,
        l0,
        f1,
        l1,
        columns=columns,
        horizon_weeks=horizon_weeks,
        config=config,
        random_state=random_state,
    )
    del f0, l0
    models, reasons = fit_customer_models(
        f1, l1, columns=columns, config=config, random_state=random_state
    )
    return models, reasons, holdout


def fit_population_models(
    history: History,
    now: pd.DataFrame,
    w: FitWindows,
    *,
    reasons: dict[str, str],
    config: ScoringConfig,
    random_state: int,
) -> tuple[Baseline, ResponseModel, dict[str, Any], dict[str, str]]:
    """Fit the baseline on the members at ``as_of`` (``now``: their features) and the response
    model on the history before ``as_of``.

    Returns ``(baseline, response, response_metrics, status)``; ``status`` says per target
    what serves it (the model, or which fallback and why, from ``reasons``).
    """
    baseline = fit_baseline(
        now,
        sample_size=config.baseline_sample,
        min_customers=config.min_baseline_customers,
        random_state=random_state,
    )
    fallback = "BG/NBD baseline" if baseline.bgnbd is not None else "recent-rate rule"
    status = {t: r if r == "model" else f"{fallback} ({r})" for t, r in reasons.items()}
    response, response_metrics = fit_response(
        history,
        as_of_day=w.as_of_day,
        horizon_weeks=w.horizon_weeks,
        feature_columns=w.columns,
        config=config,
        random_state=random_state,
    )
    status["response"] = response_metrics["status"]
    return baseline, response, response_metrics, status


def fit_metrics(
    history: History,
    w: FitWindows,
    *,
    members: int,
    status: dict[str, str],
    holdout: dict[str, Any],
    response_metrics: dict[str, Any],
    segments: SegmentModel | None,
    baseline: Baseline,
) -> dict[str, Any]:
    """The fit's metrics as stored on the run: windows, counts, status, holdout, segments."""
    as_of_day, t0, t1, horizon_weeks = w.as_of_day, w.t0, w.t1, w.horizon_weeks
    metrics: dict[str, Any] = {
        "as_of": _iso(as_of_day),
        "horizon_weeks": horizon_weeks,
        "windows": {
            "train": {"features_at": _iso(t0), "labels": [_iso(t0), _iso(t1)]},
            "holdout": {"features_at": _iso(t1), "labels": [_iso(t1), _iso(as_of_day)]},
            "final_fit": {"features_at": _iso(t1), "labels": [_iso(t1), _iso(as_of_day)]},
        },
        "counts": {"training_customers": history.n_customers, "members_at_as_of": members},
        "status": dict(status),
        "holdout": holdout,
        "response": response_metrics,
        "segments": None
        if segments is None
        else {
            "k": segments.k,
            "names": list(segments.names),
            "inherited": list(segments.inherited),
            "silhouette": {str(k): v for k, v in segments.silhouette.items()},
        },
    }
    metrics["baseline"] = _baseline_info(baseline)
    return metrics
