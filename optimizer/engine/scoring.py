"""Entry points of the scoring engine: fit once, score customers in chunks, or do all in memory.

Objective: per customer at ``as_of``: churn probability, expected visits and spend over the next
``horizon_weeks``, 52-week CLV, P(alive), response probability per bonus type, a named segment, a
readable reason and the KPIs, with honestly validated holdout metrics.

Flow (``H`` = horizon, ``t1 = as_of - H``, ``t0 = as_of - 2H``; see ``validation.py``):

1. validate: train at ``t0`` on labels ``[t0, t1)``, measure at ``t1`` on ``[t1, as_of)``;
2. refit the models on the latest labelled window (features at ``t1``, labels ``[t1, as_of)``);
3. fit the BG/NBD baseline (fallback and comparison) and the response model on data before
   ``as_of``; fit the segments on the training customers' scores at ``as_of``;
4. score: features at ``as_of`` -> :func:`score_customers`.

The Django side trains with :func:`fit_scoring_models` (on a sample of customers: at most
``config.max_train_customers``), saves the :class:`ScoringModel` with joblib, and calls
:func:`score_customers` on ``compute_features(...)`` of each customer range in parallel tasks.
:func:`run_scoring` does all of it in memory.

Constraints: pure and deterministic given ``as_of`` and ``random_state``; nothing reads the
clock; nothing on or after ``as_of`` changes a feature or a training label; never crashes on tiny
or odd tenants (``ScoringModel.status`` and ``metrics`` say which fallback was used and why).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import date, timedelta
from typing import Any

import numpy as np
import pandas as pd
import sklearn
from threadpoolctl import threadpool_limits

from optimizer.engine.baseline import baseline_predict, fit_baseline
from optimizer.engine.customer_models import clv, fit_customer_models, predict_customer_models
from optimizer.engine.explain import explain, reason_reference
from optimizer.engine.features import (
    BASE_FEATURES,
    features_at,
    population_mask,
    type_feature_columns,
)
from optimizer.engine.history import day_of, prepare_history, subset_history
from optimizer.engine.labels import window_labels
from optimizer.engine.response import fit_response, predict_response
from optimizer.engine.segmentation import fit_segments, segment_names, segment_profile
from optimizer.engine.types import (
    Baseline,
    EngineInputError,
    History,
    ScoringConfig,
    ScoringModel,
    ScoringResult,
)
from optimizer.engine.validation import temporal_holdout

#: KPI columns copied to the output next to the scores.
OUTPUT_KPIS: tuple[str, ...] = (
    "recency_days",
    "frequency",
    "frequency_13w",
    "frequency_52w",
    "monetary_total",
    "monetary_52w",
    "avg_basket",
    "tenure_days",
    "mean_gap_days",
    "visit_trend",
    "spend_change_13w",
    "category_breadth",
    "discount_share",
    "returns_share",
    "offers_received",
    "offers_redeemed",
    "redemption_rate",
)
#: Columns averaged in the segment profile.
PROFILE_COLUMNS: tuple[str, ...] = (
    "churn_probability",
    "expected_visits",
    "expected_spend",
    "clv",
    "recency_days",
    "frequency_52w",
    "avg_basket",
    "tenure_days",
    "discount_share",
    "redemption_rate",
)
UNSEGMENTED = "all customers"


def _iso(day: int) -> str:
    return (date(1970, 1, 1) + timedelta(days=int(day))).isoformat()


def _baseline_info(b: Baseline) -> dict[str, Any]:
    return {
        "bgnbd": None if b.bgnbd is None else {k: float(v) for k, v in vars(b.bgnbd).items()},
        "gamma_gamma": None
        if b.gamma_gamma is None
        else {k: float(v) for k, v in vars(b.gamma_gamma).items()},
    }


def fit_from_history(
    history: History,
    *,
    as_of: date,
    horizon_weeks: int = 8,
    random_state: int = 0,
    config: ScoringConfig | None = None,
    previous_segments: Mapping[str, Any] | None = None,
) -> ScoringModel:
    """Validate and fit every model on a prepared history (usually a sample of customers).

    Args:
        history: from ``history.prepare_history`` (may hold data on or after ``as_of``; ignored).
        as_of: scoring date; only data strictly before it is used.
        horizon_weeks: H, the forecast horizon in weeks (> 0).
        random_state: seed of every sample and estimator.
        config: engine config (defaults: ``ScoringConfig()``).
        previous_segments: the previous run's ``segment_state`` for stable segment names.

    Returns:
        The fitted :class:`ScoringModel` (``metrics`` holds the holdout report).

    Raises:
        ValueError: ``horizon_weeks`` is not positive.
    """
    if horizon_weeks <= 0:
        raise ValueError(f"horizon_weeks must be positive, got {horizon_weeks}")
    config = config or ScoringConfig()
    with threadpool_limits(limits=config.n_threads):
        return _fit(history, day_of(as_of), horizon_weeks, random_state, config, previous_segments)


def _fit(
    history: History,
    as_of_day: int,
    horizon_weeks: int,
    random_state: int,
    config: ScoringConfig,
    previous_segments: Mapping[str, Any] | None,
) -> ScoringModel:
    t1 = as_of_day - 7 * horizon_weeks
    t0 = t1 - 7 * horizon_weeks
    columns = BASE_FEATURES + type_feature_columns(history.bonus_types)

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
    del f1, l1
    now = features_at(history, as_of_day)
    now = now[population_mask(history, as_of_day)].reset_index(drop=True)
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
        as_of_day=as_of_day,
        horizon_weeks=horizon_weeks,
        feature_columns=columns,
        config=config,
        random_state=random_state,
    )
    status["response"] = response_metrics["status"]
    holdout["response"] = response_metrics.pop("holdout")
    model = ScoringModel(
        as_of_day=as_of_day,
        horizon_weeks=horizon_weeks,
        random_state=random_state,
        config=config,
        feature_columns=columns,
        bonus_types=history.bonus_types,
        churn=models["churn"],
        visits=models["visits"],
        spend=models["spend"],
        baseline=baseline,
        response=response,
        segments=None,
        status=status,
        metrics={},
        reason_reference=reason_reference(now),
        sklearn_version=sklearn.__version__,
    )
    scored = score_customers(model, now, with_reasons=False)
    segments = fit_segments(
        scored, config=config, random_state=random_state, previous=previous_segments
    )
    metrics: dict[str, Any] = {
        "as_of": _iso(as_of_day),
        "horizon_weeks": horizon_weeks,
        "windows": {
            "train": {"features_at": _iso(t0), "labels": [_iso(t0), _iso(t1)]},
            "holdout": {"features_at": _iso(t1), "labels": [_iso(t1), _iso(as_of_day)]},
            "final_fit": {"features_at": _iso(t1), "labels": [_iso(t1), _iso(as_of_day)]},
        },
        "counts": {"training_customers": history.n_customers, "members_at_as_of": len(now)},
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
    return replace(model, segments=segments, metrics=metrics)


def fit_scoring_models(
    *,
    baskets: pd.DataFrame,
    customers: pd.DataFrame,
    as_of: date,
    horizon_weeks: int = 8,
    random_state: int = 0,
    offers: pd.DataFrame | None = None,
    category_days: pd.DataFrame | None = None,
    bonus_types: Iterable[str] | None = None,
    config: ScoringConfig | None = None,
    previous_segments: Mapping[str, Any] | None = None,
) -> ScoringModel:
    """Train once (on at most ``config.max_train_customers`` sampled customers).

    Args:
        baskets, customers, category_days, offers: see ``history.prepare_history`` for every
            column and dtype (``offers`` may be empty or ``None``, ``category_days`` ``None``).
        as_of: scoring date; data on or after it is ignored.
        horizon_weeks: forecast horizon H in weeks.
        random_state: seed.
        bonus_types: catalogue codes to score even without offer history (prior-based).
        config: engine config.
        previous_segments: the previous run's ``segment_state`` (stable names).

    Returns:
        The fitted, joblib-picklable :class:`ScoringModel`.

    Raises:
        EngineInputError: a required column is missing or unreadable.
        ValueError: ``horizon_weeks`` is not positive.
    """
    config = config or ScoringConfig()
    ids = pd.unique(customers["customer_id"].to_numpy(dtype=np.int64))
    if ids.size > config.max_train_customers:
        rng = np.random.default_rng(random_state)
        keep = rng.choice(ids, size=config.max_train_customers, replace=False)
        customers = customers[customers["customer_id"].isin(keep)]
    history = prepare_history(
        baskets, customers, category_days=category_days, offers=offers, bonus_types=bonus_types
    )
    return fit_from_history(
        history,
        as_of=as_of,
        horizon_weeks=horizon_weeks,
        random_state=random_state,
        config=config,
        previous_segments=previous_segments,
    )


def score_customers(
    model: ScoringModel, features: pd.DataFrame, *, with_reasons: bool = True
) -> pd.DataFrame:
    """Score customers from their features at ``as_of`` (any chunk of customers).

    Args:
        model: from :func:`fit_scoring_models` / :func:`fit_from_history`.
        features: ``features.compute_features(..., as_of)`` of the customers to score (columns
            and dtypes in ``features.features_at``); per-bonus-type columns the chunk lacks are
            read as 0.
        with_reasons: build the ``reason`` column (skip it for internal re-scoring).

    Returns:
        One row per input row: ``customer_id`` int64, ``churn_probability``,
        ``expected_visits``, ``expected_spend``, ``clv``, ``p_alive`` (float64; ``p_alive`` is
        ``1 - churn_probability`` where no BG/NBD could be fitted), ``response_<code>`` per
        bonus type (float64), ``segment`` (str), ``reason`` (str) and :data:`OUTPUT_KPIS`.

    Raises:
        EngineInputError: a base feature column is missing.
    """
    missing = [c for c in ("customer_id", *BASE_FEATURES) if c not in features.columns]
    if missing:
        raise EngineInputError(f"features are missing column(s) {missing}")
    with threadpool_limits(limits=model.config.n_threads):
        return _score(model, features, with_reasons)


def _score(model: ScoringModel, features: pd.DataFrame, with_reasons: bool) -> pd.DataFrame:
    frame = features.reset_index(drop=True)
    absent = [c for c in model.feature_columns if c not in frame.columns]
    if absent:
        frame = frame.assign(**dict.fromkeys(absent, 0))
    h = model.horizon_weeks
    base = baseline_predict(model.baseline, frame, h, model.config.clv_weeks)
    models = {"churn": model.churn, "visits": model.visits, "spend": model.spend}
    out = pd.DataFrame({"customer_id": frame["customer_id"].to_numpy(dtype=np.int64)})
    preds = predict_customer_models(models, frame, base, h)
    for column in preds.columns:
        out[column] = preds[column].to_numpy()
    out["clv"] = clv(
        out["expected_spend"].to_numpy(),
        out["churn_probability"].to_numpy(),
        h,
        model.config.clv_weeks,
    )
    out["p_alive"] = (
        base["p_alive"].to_numpy() if base is not None else 1.0 - out["churn_probability"]
    )
    responses = predict_response(model.response, frame)
    for column in responses.columns:
        out[column] = responses[column].to_numpy()
    for column in OUTPUT_KPIS:
        out[column] = frame[column].to_numpy()
    if model.segments is not None and len(out):
        out["segment"] = segment_names(model.segments, out).to_numpy()
    else:
        out["segment"] = pd.Series([UNSEGMENTED] * len(out), dtype="str")
    if with_reasons:
        out["reason"] = explain(frame, reference=model.reason_reference).to_numpy()
    return out


def run_scoring(
    *,
    baskets: pd.DataFrame,
    customers: pd.DataFrame,
    as_of: date,
    horizon_weeks: int = 8,
    random_state: int = 0,
    offers: pd.DataFrame | None = None,
    category_days: pd.DataFrame | None = None,
    bonus_types: Iterable[str] | None = None,
    config: ScoringConfig | None = None,
    previous_segments: Mapping[str, Any] | None = None,
) -> ScoringResult:
    """Fit and score every customer in memory (small and mid-sized tenants, tests, notebooks).

    Arguments as :func:`fit_scoring_models`; training uses a sample of at most
    ``config.max_train_customers`` customers, scoring covers all of ``customers``.

    Returns:
        :class:`ScoringResult` with ``scores`` (see :func:`score_customers`), the model, its
        metrics, the segment profile and the ``segment_state`` to pass to the next run.

    Raises:
        EngineInputError: a required column is missing or unreadable.
        ValueError: ``horizon_weeks`` is not positive.
    """
    config = config or ScoringConfig()
    history = prepare_history(
        baskets, customers, category_days=category_days, offers=offers, bonus_types=bonus_types
    )
    train = history
    if history.n_customers > config.max_train_customers:
        rng = np.random.default_rng(random_state)
        positions = rng.choice(history.n_customers, config.max_train_customers, replace=False)
        train = subset_history(history, positions)
    model = fit_from_history(
        train,
        as_of=as_of,
        horizon_weeks=horizon_weeks,
        random_state=random_state,
        config=config,
        previous_segments=previous_segments,
    )
    del train
    scores = score_customers(model, features_at(history, model.as_of_day))
    return ScoringResult(
        scores=scores,
        model=model,
        metrics=model.metrics,
        segment_profile=segment_profile(scores, PROFILE_COLUMNS),
        segment_state=None if model.segments is None else model.segments.state(),
    )
