"""Customer segments: KMeans on scaled KPIs, readable names, stable from run to run.

Objective: a handful of segments that deserve different treatment, each with a unique readable
name, a size and a KPI profile, and the same name for the same kind of customer next run.

* Space: :data:`SEGMENT_FEATURES` after ``log1p`` of the skewed ones (recency, frequency, basket,
  tenure), standardised (mean 0, std 1) on the fitting sample.
* k: silhouette score (Euclidean, on a seeded sample of ``silhouette_sample`` points) over
  ``k = segment_k_min .. segment_k_max``; the best wins. With a previous state, its k is kept
  unless another k beats it by more than ``k_switch_margin`` (stability over marginal gains).
* Naming rule: every name has an explicit score on the centroid's z-profile (:data:`NAME_RULES`;
  ``z_r`` recency, ``z_f`` visits in 52 weeks, ``z_m`` average basket, ``z_t`` tenure, ``z_d``
  discount share, ``z_c`` churn probability). Names go to clusters by the assignment with the
  highest total score (``linear_sum_assignment``), which makes them unique.
* Stability: given the previous run's state (``SegmentModel.state()``: centroids in the unscaled
  transformed space + names), KMeans starts from the previous centroids when k is unchanged, new
  clusters are matched to the previous ones by minimum total centroid distance
  (``linear_sum_assignment``) and inherit the name when they moved less than
  ``inherit_max_distance`` (z units); the remaining clusters are named by the rules.

Constraints: fitting on a seeded sample of ``segment_fit_sample`` customers; KMeans runs to full
convergence (``tol=0``) so that a warm start from the previous run's centroids on the same data
stays exactly where it was; assignment of any number of customers is a vectorised
nearest-centroid lookup; deterministic given ``random_state``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment
from sklearn.cluster import KMeans
from sklearn.metrics import silhouette_score
from threadpoolctl import threadpool_limits

from optimizer.engine.types import ScoringConfig, SegmentModel

SEGMENT_FEATURES: tuple[str, ...] = (
    "recency_days",
    "frequency_52w",
    "avg_basket",
    "tenure_days",
    "discount_share",
    "churn_probability",
)
_LOG_FEATURES = frozenset({"recency_days", "frequency_52w", "avg_basket", "tenure_days"})

#: name -> weights on (z_r, z_f, z_m, z_t, z_d, z_c); score = weights . centroid z-profile.
NAME_RULES: dict[str, tuple[float, float, float, float, float, float]] = {
    "champions": (-1.0, 1.5, 1.0, 0.0, 0.0, -1.0),
    "loyal regulars": (-0.5, 1.0, -0.5, 1.0, 0.0, -0.5),
    "new customers": (0.0, 0.0, 0.0, -2.0, 0.0, 0.0),
    "at risk": (0.5, 0.5, 0.5, 0.5, 0.0, 1.0),
    "dormant": (1.5, -1.0, 0.0, 0.0, 0.0, 1.0),
    "bargain hunters": (0.0, 0.0, -0.5, 0.0, 2.0, 0.0),
    "big spenders": (0.0, 0.0, 2.0, 0.0, -0.5, 0.0),
    "occasional shoppers": (0.0, -1.0, 0.0, 0.5, 0.0, 0.0),
}


def transform(frame: pd.DataFrame) -> np.ndarray:
    """The unscaled segmentation space of ``frame`` (float64, one column per feature)."""
    cols = []
    for name in SEGMENT_FEATURES:
        values = frame[name].to_numpy(dtype=np.float64)
        cols.append(np.log1p(np.maximum(values, 0.0)) if name in _LOG_FEATURES else values)
    return np.column_stack(cols)


def _name_clusters(z: np.ndarray, taken: set[str]) -> list[str]:
    names = [n for n in NAME_RULES if n not in taken]
    weights = np.array([NAME_RULES[n] for n in names])
    scores = z @ weights.T
    rows, cols = linear_sum_assignment(-scores)
    out = [""] * z.shape[0]
    for i, j in zip(rows, cols, strict=True):
        out[i] = names[j]
    extra = 2
    for i, name in enumerate(out):
        if not name:
            out[i] = f"segment {extra}"
            extra += 1
    return out


def _choose_k(
    points: np.ndarray, config: ScoringConfig, previous_k: int | None, random_state: int
) -> tuple[int, dict[int, float]]:
    rng = np.random.default_rng(random_state)
    sample = points
    if len(points) > config.silhouette_sample:
        sample = points[rng.choice(len(points), config.silhouette_sample, replace=False)]
    distinct = len(np.unique(sample.round(6), axis=0))
    k_max = min(config.segment_k_max, distinct - 1)
    scores: dict[int, float] = {}
    for k in range(config.segment_k_min, k_max + 1):
        labels = KMeans(k, n_init=3, tol=0.0, random_state=random_state).fit_predict(sample)
        if len(np.unique(labels)) > 1:
            scores[k] = float(silhouette_score(sample, labels))
    if not scores:
        return max(1, min(config.segment_k_min, distinct)), scores
    best = max(scores, key=lambda k: scores[k])
    if previous_k in scores and scores[best] - scores[previous_k] <= config.k_switch_margin:
        return previous_k, scores
    return best, scores


def fit_segments(
    frame: pd.DataFrame,
    *,
    config: ScoringConfig,
    random_state: int,
    previous: Mapping[str, Any] | None = None,
) -> SegmentModel | None:
    """Fit the segmentation on customers' KPIs.

    Args:
        frame: one row per customer with the :data:`SEGMENT_FEATURES` columns (features plus
            ``churn_probability``); a seeded sample of ``segment_fit_sample`` rows is used.
        config: engine config (k range, sample sizes, stability knobs).
        random_state: seed.
        previous: the previous run's ``SegmentModel.state()`` or ``None``; a state with other
            features or a malformed one is ignored.

    Returns:
        The fitted :class:`SegmentModel`, or ``None`` with fewer than 2 customers.
    """
    if len(frame) < 2:
        return None
    with threadpool_limits(limits=config.n_threads):
        return _fit(frame, config, random_state, previous)


def _fit(
    frame: pd.DataFrame,
    config: ScoringConfig,
    random_state: int,
    previous: Mapping[str, Any] | None,
) -> SegmentModel:
    rng = np.random.default_rng(random_state)
    rows = np.arange(len(frame))
    if len(frame) > config.segment_fit_sample:
        rows = np.sort(rng.choice(len(frame), config.segment_fit_sample, replace=False))
    raw = transform(frame.iloc[rows])
    mean, std = raw.mean(axis=0), raw.std(axis=0)
    std = np.where(std > 1e-9, std, 1.0)
    points = (raw - mean) / std
    prev_centroids, prev_names = _previous(previous)
    prev_k = None if prev_centroids is None else len(prev_centroids)
    k, silhouettes = _choose_k(points, config, prev_k, random_state)
    if prev_centroids is not None and k == prev_k:
        init = (prev_centroids - mean) / std
        km = KMeans(k, init=init, n_init=1, tol=0.0, random_state=random_state).fit(points)
    else:
        km = KMeans(k, n_init=4, tol=0.0, random_state=random_state).fit(points)
    centers = km.cluster_centers_
    names: list[str] = [""] * k
    inherited = [False] * k
    if prev_centroids is not None:
        old = (prev_centroids - mean) / std
        dist = np.linalg.norm(centers[:, None, :] - old[None, :, :], axis=2)
        for i, j in zip(*linear_sum_assignment(dist), strict=True):
            if dist[i, j] <= config.inherit_max_distance:
                names[i], inherited[i] = prev_names[j], True
    todo = [i for i in range(k) if not names[i]]
    if todo:
        fresh = _name_clusters(centers[todo], {n for n in names if n})
        for i, name in zip(todo, fresh, strict=True):
            names[i] = name
    return SegmentModel(
        features=SEGMENT_FEATURES,
        scale_mean=mean,
        scale_std=std,
        centroids=centers * std + mean,
        names=tuple(names),
        k=k,
        silhouette=silhouettes,
        inherited=tuple(inherited),
    )


def _previous(previous: Mapping[str, Any] | None) -> tuple[np.ndarray | None, list[str]]:
    if not previous:
        return None, []
    try:
        centroids = np.asarray(previous["centroids"], dtype=np.float64)
        names = [str(n) for n in previous["names"]]
        ok = (
            tuple(previous["features"]) == SEGMENT_FEATURES
            and centroids.ndim == 2
            and centroids.shape == (len(names), len(SEGMENT_FEATURES))
            and len(set(names)) == len(names)
            and len(names) > 0
        )
    except (KeyError, TypeError, ValueError):
        return None, []
    return (centroids, names) if ok else (None, [])


def assign_segments(model: SegmentModel, frame: pd.DataFrame) -> np.ndarray:
    """Index of the nearest centroid (scaled space) for every row of ``frame``; int32."""
    points = (transform(frame) - model.scale_mean) / model.scale_std
    centers = (model.centroids - model.scale_mean) / model.scale_std
    best = np.zeros(len(frame), dtype=np.int32)
    best_d = np.full(len(frame), np.inf)
    for j, center in enumerate(centers):
        d = np.einsum("ij,ij->i", points - center, points - center)
        closer = d < best_d
        best[closer], best_d[closer] = j, d[closer]
    return best


def segment_names(model: SegmentModel, frame: pd.DataFrame) -> pd.Series:
    """Segment name of every row of ``frame`` (pandas ``str`` Series aligned with it)."""
    names = np.asarray(model.names, dtype=object)[assign_segments(model, frame)]
    return pd.Series(names, index=frame.index, dtype="str")


def segment_profile(scores: pd.DataFrame, columns: tuple[str, ...]) -> pd.DataFrame:
    """Size, share and mean of ``columns`` per ``segment`` of a scores frame.

    Returns:
        One row per segment (sorted by size, descending): ``segment``, ``size``, ``share`` and the
        mean of each of ``columns`` present in ``scores``.
    """
    present = [c for c in columns if c in scores.columns]
    grouped = scores.groupby("segment", observed=True)
    profile = grouped[present].mean()
    profile.insert(0, "size", grouped.size())
    profile.insert(1, "share", profile["size"] / max(len(scores), 1))
    return profile.sort_values("size", ascending=False).reset_index()
