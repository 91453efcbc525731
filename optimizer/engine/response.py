"""Offer response: probability that a customer redeems an offer of each bonus type.

Objective: ``response_<code>`` per customer and bonus type, learned from past offers where there
is enough history, from a documented prior where there is not.

* Label: the offer was redeemed within its validity (``sent_on <= redeemed_on <= valid_until``).
  An offer is usable at a cutoff only once its validity ended before the cutoff. Counting offers
  that are still open but already redeemed would keep the early "yes" answers of an open campaign
  and drop its pending "no" answers: a sample biased towards redemption (on the demo data this
  made the holdout Brier score of the model 0.55).
* Features: the customer's features at a snapshot on or before ``sent_on`` (snapshots every
  ``response_snapshot_weeks`` weeks counted back from the cutoff, so they never see the offer's
  own outcome), plus the bonus type as a categorical feature of one pooled classifier.
* Prior (types with fewer than ``min_type_offers`` resolved offers, or when no classifier can be
  trained): the type rate is the Beta posterior mean ``(redeemed_t + k * overall) /
  (resolved_t + k)`` with ``k = type_prior_strength`` and ``overall`` the tenant's redemption rate
  (``default_response_rate`` without any history); a customer's lift is their own shrunk rate
  ``(redeemed_i + s * overall) / (resolved_i + s)`` divided by ``overall`` (``s =
  customer_prior_strength``); ``response = clip(type_rate * lift, 0, 1)``. Once a type has enough
  offers, a later run learns it and the prior is no longer used for it.
* Window: each offer row also carries its validity (``valid_until - sent_on + 1`` days) and the
  customer's predicted days from ``sent_on`` to the next visit. ``visit_reference`` (``v_b``, the
  type's mean chance of a visit within its offers' windows) lets the allocation turn ``p`` into
  ``P(redeem)`` for *its* window (``allocation.window``); the holdout reports the same adjustment
  on each holdout offer's own window (``window_adjusted``) beside the unadjusted metrics.
* Validation: trained on offers known at ``as_of - horizon``, evaluated on offers sent after that
  and known at ``as_of``; the final model is refitted on everything known at ``as_of``.

Constraints: at most ``max_response_rows`` offers sampled; vectorised; never crashes on a tenant
without offers (everything comes from the prior and the metrics say why).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from optimizer.engine.allocation.window import visit_within
from optimizer.engine.estimators import TYPE_COLUMN, response_pipeline
from optimizer.engine.features import features_at
from optimizer.engine.history import subset_history
from optimizer.engine.metrics import classification_metrics
from optimizer.engine.types import History, ResponseModel, ScoringConfig

#: Weight of the prior in a learned type's response. Offer histories are small and noisy (Complete
#: Journey: about 7,000 offers, 2,100 redemptions); the classifier alone ranked the next
#: campaigns' redeemers worse than the prior in time-based cross-validation, an equal blend of
#: the two better than either (bench/score_quality.py --cases cv; figures in docs/model-quality.md).
PRIOR_WEIGHT = 0.5

#: Offer-row columns beside the features (not model inputs): validity days, days to next visit.
WINDOW_COLUMN = "offer_window_days"
VISIT_COLUMN = "offer_days_to_visit"


def _outcomes(history: History, cutoff: int) -> tuple[np.ndarray, np.ndarray]:
    """(outcome known at cutoff, redeemed within validity) per offer row (module docstring)."""
    sent, red, valid = history.offer_sent, history.offer_redeemed, history.offer_valid
    known = (sent < cutoff) & (valid < cutoff)
    redeemed = known & (red >= sent) & (red <= valid)
    return known, redeemed


def _days_to_visit(feats: pd.DataFrame, lag: np.ndarray) -> np.ndarray:
    """Predicted days from the send day (``lag`` days after the snapshot) to the next visit.

    The same rule as the allocation's timing (``gap - days_since_last_visit``, >= 0), with the
    gap ``364 / frequency_52w`` (two visits or more in a year) else the mean gap seen so far.
    """
    freq = feats["frequency_52w"].to_numpy(dtype=np.float64)
    gap = np.where(freq >= 2, 364.0 / np.maximum(freq, 1.0), feats["mean_gap_days"].to_numpy())
    since = feats["recency_days"].to_numpy(dtype=np.float64) + lag
    return np.asarray(np.clip(gap - since, 0.0, None))


def visit_reference(frame: pd.DataFrame | None, bonus_types: tuple[str, ...]) -> dict[str, float]:
    """``v_b``: mean chance of a visit within the offer's window over a type's offers (1.0 if none).

    The response model's ``p`` is a redemption rate *at these windows and timings*; dividing by
    ``v_b`` gives the response to a bonus the customer can use (``allocation.window``).
    """
    out = dict.fromkeys(bonus_types, 1.0)
    if frame is None or not len(frame):
        return out
    chance = visit_within(frame[WINDOW_COLUMN].to_numpy(), frame[VISIT_COLUMN].to_numpy())
    means = pd.Series(chance).groupby(frame[TYPE_COLUMN].to_numpy()).mean()
    for code, v in means.items():
        out[str(code)] = float(min(max(v, 1e-3), 1.0))
    return out


def window_adjusted(frame: pd.DataFrame, p: np.ndarray, reference: dict[str, float]) -> np.ndarray:
    """``min(1, p / v_b) x V(window, days to visit)`` for offer rows (see allocation.window)."""
    ref = frame[TYPE_COLUMN].map(reference).fillna(1.0).to_numpy(dtype=np.float64)
    chance = visit_within(frame[WINDOW_COLUMN].to_numpy(), frame[VISIT_COLUMN].to_numpy())
    return np.asarray(np.minimum(p / ref, 1.0) * chance)


def _offer_rows(
    history: History,
    rows: np.ndarray,
    labels: np.ndarray,
    anchor: int,
    step: int,
    columns: tuple[str, ...],
) -> pd.DataFrame:
    """Feature rows of the offers ``rows`` at their snapshot day, with type, label, the offer's
    validity window (days) and the predicted days from its send day to the next visit."""
    sent = history.offer_sent[rows].astype(np.int64)
    window = history.offer_valid[rows].astype(np.int64) - sent + 1
    snapshot = anchor - step * np.ceil((anchor - sent) / step).astype(np.int64)
    cust = history.offer_customer[rows]
    positions, local = np.unique(cust, return_inverse=True)
    sub = subset_history(history, positions)
    parts = []
    for day in np.unique(snapshot):
        take = np.flatnonzero(snapshot == day)
        feats = features_at(sub, int(day)).iloc[local[take]].reset_index(drop=True)
        part = feats.reindex(columns=list(columns), fill_value=0)
        part[WINDOW_COLUMN] = window[take]
        part[VISIT_COLUMN] = _days_to_visit(feats, (sent[take] - day).astype(np.float64))
        part[TYPE_COLUMN] = np.asarray(history.bonus_types, dtype=object)[
            history.offer_type[rows[take]]
        ]
        part["label"] = labels[take]
        parts.append(part)
    return pd.concat(parts, ignore_index=True)


def _sample(rows: np.ndarray, limit: int, rng: np.random.Generator) -> np.ndarray:
    return np.sort(rng.choice(rows, size=limit, replace=False)) if rows.size > limit else rows


def _prior_rates(
    history: History, cutoff: int, config: ScoringConfig
) -> tuple[dict[str, float], float, np.ndarray]:
    known, redeemed = _outcomes(history, cutoff)
    n_types = len(history.bonus_types)
    resolved_t = np.bincount(history.offer_type[known], minlength=n_types)
    redeemed_t = np.bincount(history.offer_type[redeemed], minlength=n_types)
    total = int(resolved_t.sum())
    overall = float(redeemed_t.sum() / total) if total else config.default_response_rate
    overall = min(max(overall, 1e-3), 1.0 - 1e-3)
    k = config.type_prior_strength
    rates = {
        code: float((redeemed_t[j] + k * overall) / (resolved_t[j] + k))
        for j, code in enumerate(history.bonus_types)
    }
    return rates, overall, resolved_t


def prior_response(
    type_rate: float, overall: float, strength: float, features: pd.DataFrame
) -> np.ndarray:
    """Prior response of each customer in ``features`` to a type with rate ``type_rate``.

    Uses ``offers_redeemed`` and ``offers_resolved`` (absent columns read as 0).
    """
    n = len(features)
    red = features.get("offers_redeemed", pd.Series(np.zeros(n))).to_numpy(dtype=np.float64)
    res = features.get("offers_resolved", pd.Series(np.zeros(n))).to_numpy(dtype=np.float64)
    lift = (red + strength * overall) / (res + strength) / overall
    return np.asarray(np.clip(type_rate * lift, 0.0, 1.0))


def _train_rows(
    history: History,
    cutoff: int,
    config: ScoringConfig,
    columns: tuple[str, ...],
    rng: np.random.Generator,
) -> pd.DataFrame | None:
    known, redeemed = _outcomes(history, cutoff)
    recent = history.offer_sent >= cutoff - 7 * config.response_lookback_weeks
    rows = _sample(np.flatnonzero(known & recent), config.max_response_rows, rng)
    if rows.size == 0:
        return None
    step = 7 * config.response_snapshot_weeks
    return _offer_rows(history, rows, redeemed[rows].astype(np.int8), cutoff, step, columns)


def _fit(
    frame: pd.DataFrame | None,
    history: History,
    config: ScoringConfig,
    columns: tuple[str, ...],
    random_state: int,
) -> tuple[Any, tuple[str, ...], str]:
    """(pipeline or None, learned types, status)."""
    if frame is None or len(frame) < config.min_type_offers:
        n = 0 if frame is None else len(frame)
        return None, (), f"prior: {n} resolved offers (need {config.min_type_offers})"
    if frame["label"].nunique() < 2:
        return None, (), "prior: resolved offers are all of one outcome"
    counts = frame[TYPE_COLUMN].value_counts()
    learned = tuple(c for c in history.bonus_types if counts.get(c, 0) >= config.min_type_offers)
    if not learned:
        return None, (), f"prior: no bonus type has {config.min_type_offers} resolved offers"
    pipe = response_pipeline(history.bonus_types, columns, config, len(frame), random_state)
    pipe.fit(frame, frame["label"].to_numpy())
    return pipe, learned, "model"


def predict_response(model: ResponseModel, features: pd.DataFrame) -> pd.DataFrame:
    """``response_<code>`` (float64) per bonus type for the customers in ``features``.

    Args:
        model: fitted response model.
        features: feature frame (see ``features.features_at``); missing per-type columns are 0.

    Returns:
        Frame aligned with ``features`` with one column per ``model.bonus_types``.
    """
    out = pd.DataFrame(index=features.index)
    frame = None
    if model.pipeline is not None and model.learned_types:
        frame = features.reindex(columns=list(model.feature_columns), fill_value=0)
    for code in model.bonus_types:
        prior = prior_response(
            model.type_rates[code], model.overall_rate, model.customer_prior_strength, features
        )
        if frame is not None and code in model.learned_types:
            frame[TYPE_COLUMN] = code
            learned = model.pipeline.predict_proba(frame)[:, 1]
            out[f"response_{code}"] = blend_with_prior(learned, prior)
        else:
            out[f"response_{code}"] = prior
    return out


def blend_with_prior(learned: np.ndarray, prior: np.ndarray) -> np.ndarray:
    """``PRIOR_WEIGHT * prior + (1 - PRIOR_WEIGHT) * learned`` (see :data:`PRIOR_WEIGHT`)."""
    return np.asarray(PRIOR_WEIGHT * prior + (1.0 - PRIOR_WEIGHT) * learned)


@dataclass(frozen=True)
class HoldoutPredictions:
    """Every response contender's P(redeem) on the offers of one validation window.

    ``test`` holds the offer rows (features, type, window columns, ``label``) grouped by snapshot
    day; ``customers`` the customer of each row (same order, for bootstraps by customer);
    ``prior`` the rule's probabilities; ``model`` the served model's (the classifier blended with
    the prior exactly as :func:`predict_response` serves it, the prior on types it did not learn),
    or ``None`` when no classifier could be trained; ``train`` the training rows and
    ``train_status`` why the classifier was or was not trained.
    """

    test: pd.DataFrame
    customers: np.ndarray
    prior: np.ndarray
    model: np.ndarray | None
    train: pd.DataFrame | None
    train_status: Any

    @property
    def labels(self) -> np.ndarray:
        return np.asarray(self.test["label"].to_numpy())


def holdout_predictions(
    history: History,
    *,
    config: ScoringConfig,
    columns: tuple[str, ...],
    known_day: int,
    split_day: int,
    random_state: int,
) -> HoldoutPredictions | str:
    """Contenders trained on offers resolved before ``split_day``, predicted on the offers sent
    from ``split_day`` and resolved before ``known_day``.

    The one place both the response holdout metrics and the champion choice get their
    predictions, so the page shows one figure per contender. Returns why there is nothing to
    measure when no offer of the window is resolved.
    """
    rng = np.random.default_rng(random_state + 1)
    train = _train_rows(history, split_day, config, columns, rng)
    pipe, learned, status = _fit(train, history, config, columns, random_state)
    known, redeemed = _outcomes(history, known_day)
    rows = _sample(
        np.flatnonzero(known & (history.offer_sent >= split_day)), config.max_response_rows, rng
    )
    if rows.size == 0:
        return "no offers sent and resolved in the window"
    step = 7 * config.response_snapshot_weeks
    test = _offer_rows(history, rows, redeemed[rows].astype(np.int8), known_day, step, columns)
    # _offer_rows groups the rows by snapshot day (stable): the same order gives each customer.
    sent = history.offer_sent[rows].astype(np.int64)
    snapshot = known_day - step * np.ceil((known_day - sent) / step).astype(np.int64)
    customers = history.offer_customer[rows][np.argsort(snapshot, kind="stable")]
    rates, overall, _ = _prior_rates(history, split_day, config)
    prior = np.empty(len(test))
    for code in history.bonus_types:
        m = (test[TYPE_COLUMN] == code).to_numpy()
        prior[m] = prior_response(rates[code], overall, config.customer_prior_strength, test[m])
    model = None
    if pipe is not None:
        model = prior.copy()
        m = test[TYPE_COLUMN].isin(learned).to_numpy()
        if m.any():
            model[m] = blend_with_prior(pipe.predict_proba(test[m])[:, 1], prior[m])
    return HoldoutPredictions(test, customers, prior, model, train, status)


def _holdout_metrics(
    history: History,
    config: ScoringConfig,
    columns: tuple[str, ...],
    as_of_day: int,
    split_day: int,
    random_state: int,
) -> dict[str, Any]:
    got = holdout_predictions(
        history,
        config=config,
        columns=columns,
        known_day=as_of_day,
        split_day=split_day,
        random_state=random_state,
    )
    if isinstance(got, str):
        # The training status is not needed to say why: there is nothing to measure.
        return {"status": "no offers sent and resolved in the holdout window"}
    labels = got.labels
    result: dict[str, Any] = {
        "train": got.train_status,
        "prior": classification_metrics(labels, got.prior),
    }
    if got.model is not None:
        result["model"] = classification_metrics(labels, got.model)
    served = got.model if got.model is not None else got.prior
    # The allocation's P(redeem) on the same offers: each offer's own window and timing.
    reference = visit_reference(got.train, history.bonus_types)
    result["window_adjusted"] = classification_metrics(
        labels, window_adjusted(got.test, served, reference)
    )
    result["window_adjusted"]["before"] = "model" if got.model is not None else "prior"
    result["visit_reference"] = reference
    return result


def fit_response(
    history: History,
    *,
    as_of_day: int,
    horizon_weeks: int,
    feature_columns: tuple[str, ...],
    config: ScoringConfig,
    random_state: int,
) -> tuple[ResponseModel, dict[str, Any]]:
    """Validate then fit the response model on offers known at ``as_of_day``.

    Args:
        history: prepared history (offers of the training customers).
        as_of_day: int day number; only outcomes known strictly before it are used.
        horizon_weeks: the holdout is the last ``horizon_weeks`` weeks before ``as_of_day``.
        feature_columns: customer feature columns used by the classifier.
        config: engine config (sampling, prior strengths, thresholds).
        random_state: seed.

    Returns:
        ``(model, metrics)``; ``metrics`` has ``status``, per-type counts and holdout metrics.
    """
    split_day = as_of_day - 7 * horizon_weeks
    metrics: dict[str, Any] = {
        "holdout": _holdout_metrics(
            history, config, feature_columns, as_of_day, split_day, random_state
        )
    }
    rng = np.random.default_rng(random_state + 2)
    frame = _train_rows(history, as_of_day, config, feature_columns, rng)
    pipe, learned, status = _fit(frame, history, config, feature_columns, random_state)
    rates, overall, resolved_t = _prior_rates(history, as_of_day, config)
    metrics["status"] = status
    metrics["overall_rate"] = overall
    metrics["resolved_offers"] = {c: int(resolved_t[j]) for j, c in enumerate(history.bonus_types)}
    metrics["learned_types"] = list(learned)
    metrics["visit_reference"] = visit_reference(frame, history.bonus_types)
    model = ResponseModel(
        bonus_types=history.bonus_types,
        learned_types=learned,
        pipeline=pipe,
        feature_columns=feature_columns,
        type_rates=rates,
        overall_rate=overall,
        customer_prior_strength=config.customer_prior_strength,
    )
    return model, metrics
