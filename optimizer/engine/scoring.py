"""Entry points of the scoring engine: fit once, score customers in chunks, or do all in memory.

Objective: per customer at ``as_of``: churn probability, expected visits and spend over the next
``horizon_weeks``, 52-week CLV, P(alive), response probability per bonus type, a named segment, a
readable reason and the KPIs, with honestly validated holdout metrics.

Flow (``H`` = horizon, ``t1 = as_of - H``, ``t0 = as_of - 2H``; see ``validation.py``):

1. validate: train at ``as_of - 3H``, measure at ``t0`` on ``[t0, t1)`` (every contender);
2. holdout: train at ``t0`` on labels ``[t0, t1)``, measure at ``t1`` on ``[t1, as_of)``;
3. refit the models on the latest labelled window (features at ``t1``, labels ``[t1, as_of)``);
4. fit BG/NBD, Pareto/NBD, Gamma-Gamma and the response model on data before ``as_of``;
5. choose each output's champion on the validation window (``champion.py``) and report every
   contender's holdout metric with a bootstrap interval; fit the segments on the training
   customers' scores at ``as_of``;
6. score: features at ``as_of`` -> :func:`score_customers`, each output from its champion.

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
from datetime import date
from typing import Any

import numpy as np
import pandas as pd
import sklearn
from threadpoolctl import threadpool_limits

from optimizer.engine.baseline import baseline_predict, pareto_predict
from optimizer.engine.customer_models import clv, predict_customer_models
from optimizer.engine.explain import explain, reason_reference
from optimizer.engine.features import (
    BASE_FEATURES,
    features_at,
    population_mask,
)
from optimizer.engine.fit_stages import (
    FitWindows,
    champion_stage,
    fit_metrics,
    fit_population_models,
    validate_and_refit,
)
from optimizer.engine.history import day_of, prepare_history, subset_history
from optimizer.engine.response import predict_response
from optimizer.engine.segmentation import fit_segments, segment_names, segment_profile
from optimizer.engine.types import (
    Champions,
    EngineInputError,
    History,
    ScoringConfig,
    ScoringModel,
    ScoringResult,
)
from optimizer.engine.validation import RecencyRule, rule_frame

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
    w = FitWindows.at(history, as_of_day, horizon_weeks)
    refit = validate_and_refit(history, w, config=config, random_state=random_state)
    models, holdout = refit.models, refit.holdout
    now = features_at(history, as_of_day)
    now = now[population_mask(history, as_of_day)].reset_index(drop=True)
    baseline, response, response_metrics, status = fit_population_models(
        history, now, w, reasons=refit.reasons, config=config, random_state=random_state
    )
    champions, report, response, status = champion_stage(
        history,
        now,
        w,
        refit=refit,
        baseline=baseline,
        response=response,
        status=status,
        config=config,
        random_state=random_state,
    )
    holdout["response"] = response_metrics.pop("holdout")
    model = ScoringModel(
        as_of_day=as_of_day,
        horizon_weeks=horizon_weeks,
        random_state=random_state,
        config=config,
        feature_columns=w.columns,
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
        champions=champions,
    )
    scored = score_customers(model, now, with_reasons=False)
    segments = fit_segments(
        scored, config=config, random_state=random_state, previous=previous_segments
    )
    metrics = fit_metrics(
        history,
        w,
        members=len(now),
        status=status,
        holdout=holdout,
        response_metrics=response_metrics,
        segments=segments,
        baseline=baseline,
        champions=report,
    )
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
    p_alive = base["p_alive"].to_numpy() if base is not None else None
    if model.champions is not None:
        preds, p_alive = _champion_predictions(model, model.champions, frame, preds, p_alive)
    for column in preds.columns:
        out[column] = preds[column].to_numpy()
    out["clv"] = clv(
        out["expected_spend"].to_numpy(),
        out["churn_probability"].to_numpy(),
        h,
        model.config.clv_weeks,
    )
    out["p_alive"] = p_alive if p_alive is not None else 1.0 - out["churn_probability"]
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


def _champion_predictions(
    model: ScoringModel,
    champions: Champions,
    frame: pd.DataFrame,
    preds: pd.DataFrame,
    p_alive: np.ndarray | None,
) -> tuple[pd.DataFrame, np.ndarray | None]:
    """Replace each target's column by its champion's prediction (``champion.py``)."""
    h, clv_weeks = model.horizon_weeks, model.config.clv_weeks
    chosen = champions.chosen
    needed = {chosen.get(t, "model") for t in ("churn", "visits", "spend")}
    frames: dict[str, pd.DataFrame | None] = {}
    if "bgnbd" in needed:
        frames["bgnbd"] = baseline_predict(model.baseline, frame, h, clv_weeks)
    if "pareto_nbd" in needed:
        frames["pareto_nbd"] = pareto_predict(model.baseline, frame, h, clv_weeks)
    if "rule" in needed:
        frames["rule"] = rule_frame(RecencyRule(*champions.recency_rule), frame, h)
    out = preds.copy()
    for target, column in (
        ("churn", "churn_probability"),
        ("visits", "expected_visits"),
        ("spend", "expected_spend"),
    ):
        source = frames.get(chosen.get(target, "model"))
        if source is not None:
            out[column] = np.clip(source[column].to_numpy(dtype=np.float64), 0.0, None)
    out["churn_probability"] = out["churn_probability"].clip(upper=1.0)
    pareto = frames.get("pareto_nbd")
    if chosen.get("churn") == "pareto_nbd" and pareto is not None:
        p_alive = pareto["p_alive"].to_numpy()
    return out, p_alive


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
