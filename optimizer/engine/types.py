"""Frozen value types shared by the scoring engine: configuration, prepared history, fitted models.

Objective: one place for the plain structures that cross module boundaries, so that the Django glue
can build a config, pickle a fitted :class:`ScoringModel` with joblib and store a
:class:`SegmentState`-shaped dict as JSON without knowing the modules that produce them.

Constraints: stdlib, numpy, pandas and scikit-learn objects only; no behaviour beyond tiny helpers.
Classes that hold arrays or estimators use ``eq=False`` (identity equality) because element-wise
array comparison has no single truth value.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from optimizer.engine.errors import EngineInputError as EngineInputError

#: Day number used for "no such day" in int32 day arrays (NaT redemption, no purchase, ...).
NO_DAY = np.iinfo(np.int32).max


@dataclass(frozen=True)
class ScoringConfig:
    """Tuning knobs of the scoring engine; every default is documented where it is used.

    ``horizon_weeks`` and ``random_state`` are passed explicitly to the entry points and are not
    part of this config.
    """

    #: Threads for OpenMP/BLAS inside the engine. 1 by default: the worker cluster runs one task
    #: per core, and OpenMP's spin-waiting makes 2 threads on a busy 2-core machine ~10x slower.
    n_threads: int = 1
    #: Train on at most this many customers (random sample); scoring covers everyone.
    max_train_customers: int = 50_000
    #: Fewer customers than this in a training window: no supervised model, fall back.
    min_train_customers: int = 100
    #: BG/NBD and Gamma-Gamma are fitted on a random sample of at most this many customers.
    baseline_sample: int = 50_000
    #: Fewer purchasing customers than this: no BG/NBD baseline.
    min_baseline_customers: int = 30
    #: Gradient-boosting settings shared by the three customer models.
    max_iter: int = 100
    learning_rate: float = 0.2
    max_leaf_nodes: int = 31
    min_samples_leaf: int = 40
    l2_regularization: float = 1.0
    #: CLV horizon in weeks (52 = one year).
    clv_weeks: int = 52
    #: Response model: offer snapshots every N weeks, offers sent within the look-back only.
    response_snapshot_weeks: int = 4
    response_lookback_weeks: int = 52
    max_response_rows: int = 50_000
    #: A bonus type needs this many resolved offers before its learned response replaces the prior.
    min_type_offers: int = 50
    #: Pseudo-offers of the Beta prior on a type's redemption rate (shrinks to the overall rate).
    type_prior_strength: float = 20.0
    #: Pseudo-offers of the per-customer shrinkage towards the customer's type rate.
    customer_prior_strength: float = 4.0
    #: Redemption rate assumed when a tenant has no resolved offer at all.
    default_response_rate: float = 0.10
    #: Segmentation: candidate k, sample sizes and stability knobs.
    segment_k_min: int = 3
    segment_k_max: int = 8
    segment_fit_sample: int = 50_000
    silhouette_sample: int = 4_000
    #: Keep the previous run's k unless another k beats its silhouette by this margin.
    k_switch_margin: float = 0.03
    #: A new cluster inherits a previous name only if its centroid moved less than this (z units).
    inherit_max_distance: float = 1.0


@dataclass(frozen=True, eq=False)
class History:
    """Transactions, categories and offers of a customer set, as compact sorted arrays.

    Built once by :func:`optimizer.engine.history.prepare_history`; features and labels at any
    cutoff are masks over these arrays. Days are int32 day numbers since 1970-01-01.

    Attributes:
        customer_ids: int64, sorted, unique: the customers; other arrays index into it.
        enrolled_day: int32 per customer (enrolment day; ``NO_DAY`` if unknown).
        day_customer, day_day: int32 per (customer, day) with any transaction, sorted by both.
        day_gross: float32 sum of positive amounts that day (0 for a returns-only day).
        day_returns: float32 sum of ``-amount`` over negative amounts that day (>= 0).
        day_discount: float32 sum of discounts over the positive transactions that day.
        day_transactions: int32 number of positive transactions that day.
        cat_customer, cat_day, cat_code: int32 category-day triples (empty if no category data).
        has_categories: whether category data was given.
        offer_customer, offer_type: int32 offer rows (type indexes ``bonus_types``).
        offer_sent, offer_valid, offer_redeemed: int32 days (``NO_DAY`` for NaT).
        bonus_types: the bonus type codes, sorted.
    """

    customer_ids: np.ndarray
    enrolled_day: np.ndarray
    day_customer: np.ndarray
    day_day: np.ndarray
    day_gross: np.ndarray
    day_returns: np.ndarray
    day_discount: np.ndarray
    day_transactions: np.ndarray
    cat_customer: np.ndarray
    cat_day: np.ndarray
    cat_code: np.ndarray
    has_categories: bool
    offer_customer: np.ndarray
    offer_type: np.ndarray
    offer_sent: np.ndarray
    offer_valid: np.ndarray
    offer_redeemed: np.ndarray
    bonus_types: tuple[str, ...]

    @property
    def n_customers(self) -> int:
        """Number of customers covered."""
        return int(self.customer_ids.shape[0])


@dataclass(frozen=True)
class BGNBDParams:
    """BG/NBD parameters (Fader, Hardie & Lee 2005); time unit: weeks.

    Transaction rate ``lambda ~ Gamma(shape=r, rate=alpha)``; after each purchase the customer
    drops out with probability ``p ~ Beta(a, b)``.
    """

    r: float
    alpha: float
    a: float
    b: float
    n_fitted: int
    log_likelihood: float


@dataclass(frozen=True)
class ParetoNBDParams:
    """Pareto/NBD parameters; time unit: weeks.

    Purchase rate ``lambda ~ Gamma(shape=r, rate=alpha)``; dropout rate ``mu ~ Gamma(shape=s,
    rate=beta)``.
    """

    r: float
    alpha: float
    s: float
    beta: float
    n_fitted: int
    log_likelihood: float


@dataclass(frozen=True)
class GammaGammaParams:
    """Gamma-Gamma spend parameters (Fader, Hardie & Lee 2005; Fader & Hardie 2013 note).

    Visit value ``z ~ Gamma(shape=p, rate=nu)``, ``nu ~ Gamma(shape=q, rate=gamma)``; ``q > 1``.
    """

    p: float
    q: float
    gamma: float
    n_fitted: int
    log_likelihood: float


@dataclass(frozen=True)
class Baseline:
    """Fitted buy-till-you-die baseline; either part may be missing on tiny data."""

    bgnbd: BGNBDParams | None
    gamma_gamma: GammaGammaParams | None
    #: Mean value of a purchase day when Gamma-Gamma could not be fitted.
    fallback_visit_value: float
    #: Pareto/NBD on the same customers (``None``: not fitted, or a model saved before it).
    pareto: ParetoNBDParams | None = None


@dataclass(frozen=True, eq=False)
class ResponseModel:
    """Offer-response probabilities per bonus type: a pooled classifier plus Beta priors.

    Types in ``learned_types`` are scored by ``pipeline``; the others by the documented prior
    ``type_rates[code] * customer lift`` (see :mod:`optimizer.engine.response`).
    """

    bonus_types: tuple[str, ...]
    learned_types: tuple[str, ...]
    pipeline: Any
    feature_columns: tuple[str, ...]
    #: Posterior-mean redemption rate per type (Beta prior shrunk to ``overall_rate``).
    type_rates: dict[str, float]
    overall_rate: float
    customer_prior_strength: float


@dataclass(frozen=True, eq=False)
class SegmentModel:
    """Fitted segmentation: transform, scaler, centroids and the readable names.

    ``centroids`` live in the transformed but unscaled space (see ``segmentation.SEGMENT_FEATURES``)
    so that a later run with another scaler can still compare them.
    """

    features: tuple[str, ...]
    scale_mean: np.ndarray
    scale_std: np.ndarray
    centroids: np.ndarray
    names: tuple[str, ...]
    k: int
    silhouette: dict[int, float]
    inherited: tuple[bool, ...]

    def state(self) -> dict[str, Any]:
        """The serialisable structure to pass as ``previous_segments`` to the next run."""
        return {
            "version": 1,
            "features": list(self.features),
            "centroids": [[float(v) for v in row] for row in self.centroids],
            "names": list(self.names),
        }


@dataclass(frozen=True)
class Champions:
    """What serves each output (see ``champion.py``): ``chosen[output]`` is ``"model"``,
    ``"bgnbd"``, ``"pareto_nbd"`` or ``"rule"`` for churn, visits and spend, ``"model"`` or
    ``"rule"`` (the prior) for response; ``recency_rule`` is the rule's churn
    ``(intercept, coef)`` on ``log1p(recency_days)``, fitted on the latest labelled window."""

    chosen: dict[str, str]
    recency_rule: tuple[float, float]


@dataclass(frozen=True, eq=False)
class ScoringModel:
    """Everything needed to score customers at ``as_of`` (picklable with joblib).

    ``churn``, ``visits`` and ``spend`` are fitted sklearn Pipelines, or ``None`` where
    ``status[target]`` explains the fallback used instead (baseline or recent-rate rule).
    """

    as_of_day: int
    horizon_weeks: int
    random_state: int
    config: ScoringConfig
    feature_columns: tuple[str, ...]
    bonus_types: tuple[str, ...]
    churn: Any
    visits: Any
    spend: Any
    baseline: Baseline
    response: ResponseModel
    segments: SegmentModel | None
    status: dict[str, str]
    metrics: dict[str, Any]
    #: Tenant-level references of the reasons (so that every chunk words them alike).
    reason_reference: dict[str, float]
    sklearn_version: str
    #: What serves each output; ``None`` (models saved before champions): the model or its
    #: fallback, as ``status`` says.
    champions: Champions | None = None


@dataclass(frozen=True, eq=False)
class ScoringResult:
    """Output of :func:`optimizer.engine.scoring.run_scoring`.

    ``scores`` has one row per customer (columns in ``scoring.score_customers``),
    ``segment_profile`` one row per segment, ``segment_state`` feeds the next run.
    """

    scores: pd.DataFrame
    model: ScoringModel
    metrics: dict[str, Any]
    segment_profile: pd.DataFrame
    segment_state: dict[str, Any] | None
