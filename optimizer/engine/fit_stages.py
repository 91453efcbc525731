"""The stages of a scoring fit before and after the customers are scored once for segmentation.

Objective: keep :func:`optimizer.engine.scoring._fit` a short list of its stages: validate on the
older windows and refit on the latest one (:func:`validate_and_refit`), fit the baseline and the
response model on everyone at ``as_of`` (:func:`fit_population_models`), choose each output's
champion on the validation window (:func:`champion_stage`), then describe the fit
(:func:`fit_metrics`). Segmentation needs the scoring itself, so it stays in ``scoring.py``.

Constraints: pure and deterministic given ``as_of_day`` and ``random_state``; nothing reads the
clock; windows are ``tv = as_of - 3H`` (validation), ``t0 = as_of - 2H`` and ``t1 = as_of - H``
(holdout; see ``validation.py`` and ``champion.py``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Any

import pandas as pd

from optimizer.engine.baseline import fit_baseline
from optimizer.engine.champion import (
    NAMES,
    choose_customer_champions,
    choose_response_champion,
    holdout_intervals,
    name_of,
    response_rows,
)
from optimizer.engine.customer_models import fit_customer_models
from optimizer.engine.features import (
    MODEL_FEATURES,
    features_at,
    model_type_columns,
    population_mask,
)
from optimizer.engine.labels import window_labels
from optimizer.engine.response import fit_response
from optimizer.engine.types import (
    Baseline,
    Champions,
    History,
    ResponseModel,
    ScoringConfig,
    SegmentModel,
)
from optimizer.engine.validation import (
    RecencyRule,
    WindowPredictions,
    fit_recency_rule,
    window_predictions,
    window_report,
)


@dataclass(frozen=True)
class FitWindows:
    """The days of one fit (days since 1970-01-01) and its feature columns."""

    as_of_day: int
    horizon_weeks: int
    t0: int
    t1: int
    columns: tuple[str, ...]

    @property
    def tv(self) -> int:
        """Start of the validation window's training labels: ``as_of - 3H``."""
        return self.t0 - 7 * self.horizon_weeks

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
        "pareto_nbd": None
        if getattr(b, "pareto", None) is None
        else {k: float(v) for k, v in vars(b.pareto).items()},
    }


@dataclass(frozen=True, eq=False)
class Refit:
    """Output of :func:`validate_and_refit`.

    ``models``/``reasons``: the churn, visits and spend pipelines fitted on the latest window
    and why each is a model or not; ``holdout``: the holdout report (``validation.py``);
    ``validation_window`` and ``holdout_window``: every contender's predictions on those
    windows (or why skipped); ``recency_rule``: the rule's churn fitted on the latest window.
    """

    models: dict[str, Any]
    reasons: dict[str, str]
    holdout: dict[str, Any]
    validation_window: WindowPredictions | str
    holdout_window: WindowPredictions | str
    recency_rule: RecencyRule


def validate_and_refit(
    history: History, w: FitWindows, *, config: ScoringConfig, random_state: int
) -> Refit:
    """Validate (train at ``tv``, test at ``t0``), measure on the holdout (train at ``t0``,
    test at ``t1``), then refit at ``t1``."""

    t0, t1, horizon_weeks, columns = w.t0, w.t1, w.horizon_weeks, w.columns

    def window(cutoff: int) -> tuple[pd.DataFrame, pd.DataFrame]:
        members = population_mask(history, cutoff)
        feats = features_at(history, cutoff)[members].reset_index(drop=True)
        labels = window_labels(history, cutoff, horizon_weeks)[members].reset_index(drop=True)
        return feats, labels

    def predict(
        train: tuple[pd.DataFrame, pd.DataFrame], test: tuple[pd.DataFrame, pd.DataFrame]
    ) -> WindowPredictions | str:
        return window_predictions(
            *train,
            *test,
            columns=columns,
            horizon_weeks=horizon_weeks,
            config=config,
            random_state=random_state,
        )

    fv, f0, f1 = window(w.tv), window(t0), window(t1)
    validation = predict(fv, f0)
    del fv
    holdout = predict(f0, f1)
    del f0
    models, reasons = fit_customer_models(
        *f1, columns=columns, config=config, random_state=random_state
    )
    return Refit(
        models=models,
        reasons=reasons,
        holdout=window_report(holdout),
        validation_window=validation,
        holdout_window=holdout,
        recency_rule=fit_recency_rule(*f1),
    )


def champion_stage(
    history: History,
    now: pd.DataFrame,
    w: FitWindows,
    *,
    refit: Refit,
    baseline: Baseline,
    response: ResponseModel,
    status: dict[str, str],
    config: ScoringConfig,
    random_state: int,
) -> tuple[Champions, dict[str, Any], ResponseModel, dict[str, str]]:
    """Choose each output's champion on the validation window, then report the holdout.

    Returns ``(champions, report, response, status)``: the choice, the JSON report per output
    (``champion.py``), the response model to serve (the prior alone when the prior wins) and
    ``status`` saying what serves each output and why.
    """
    servable = {
        t: tuple(
            c
            for c, ok in (
                ("model", refit.models.get(t) is not None),
                ("pareto_nbd", getattr(baseline, "pareto", None) is not None),
                ("bgnbd", baseline.bgnbd is not None),
                ("rule", True),
            )
            if ok
        )
        for t in ("churn", "visits", "spend")
    }
    window_text = f"labels {_iso(w.t0)} to {_iso(w.t1)}, trained on {_iso(w.tv)} to {_iso(w.t0)}"
    chosen = choose_customer_champions(
        refit.validation_window,
        servable=servable,
        baseline=baseline,
        now=now,
        window_text=window_text,
    )

    def rows(known_day: int, split_day: int) -> Any:
        return response_rows(
            history,
            config=config,
            columns=w.columns,
            known_day=known_day,
            split_day=split_day,
            random_state=random_state,
        )

    chosen["response"] = choose_response_champion(
        rows(w.t1, w.t0),
        model_servable=response.pipeline is not None and bool(response.learned_types),
        window_text=f"offers sent {_iso(w.t0)} to {_iso(w.t1)}",
    )
    report = holdout_intervals(
        chosen,
        refit.holdout_window,
        rows(w.as_of_day, w.t1),
        random_state=random_state,
    )
    picks = {k: v["champion"] for k, v in chosen.items()}
    if picks["response"] == "rule":
        response = replace(response, pipeline=None, learned_types=())
    status = dict(status)
    for output, entry in chosen.items():
        status[output] = f"{name_of(output, entry['champion'])}: {entry['reason']}"
    rule = refit.recency_rule
    return Champions(picks, (rule.intercept, rule.coef)), report, response, status


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
    fallback = NAMES["bgnbd"] if baseline.bgnbd is not None else "recent-rate rule"
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
    champions: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The fit's metrics as stored on the run: windows, counts, status, holdout, segments."""
    as_of_day, t0, t1, horizon_weeks = w.as_of_day, w.t0, w.t1, w.horizon_weeks
    metrics: dict[str, Any] = {
        "as_of": _iso(as_of_day),
        "horizon_weeks": horizon_weeks,
        "windows": {
            "validation": {
                "train_features_at": _iso(w.tv),
                "features_at": _iso(t0),
                "labels": [_iso(t0), _iso(t1)],
            },
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
    if champions is not None:
        metrics["champions"] = champions
    return metrics
