"""The promotion-lift regression: a Poisson gradient-boosting model of weekly units.

Objective: ``E[units | features] = scale * f(features)`` where ``scale`` is the product's recent
non-promoted weekly level (an offset) and ``f`` is learned by ``HistGradientBoostingRegressor``
with the Poisson loss. Fitting ``units / scale`` with ``sample_weight = scale`` is exactly a
Poisson model with offset ``log(scale)``, so ``f`` is the multiplier on the product's own
level: seasonality, promotion lift, discount and competitor-price effects shared across
products of any size.

Why this model: lifts are non-linear in the display/mailer shares and the discount depth and
interact with category and season (a plain Poisson GLM would need every interaction written
by hand); trees route missing competitor prices and reach natively; monotonic constraints keep
the promoted forecast at or above the baseline; one thread fits 200k rows in seconds.

Constraints: deterministic given ``random_state`` (no early stopping, no row subsampling other
than the seeded cap ``max_train_rows``); rows of a product's first observed week are not
trained on (they always have sales by construction and would teach a bias to new products),
nor are partial weeks or rows without a level of their own (``select_training_rows``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import sklearn
from sklearn.ensemble import HistGradientBoostingRegressor
from threadpoolctl import threadpool_limits

from optimizer.engine.promotions.features import FEATURES, LEVEL_FLOOR, MAX_CATEGORIES, MONOTONIC
from optimizer.engine.promotions.types import ForecastConfig


@dataclass(frozen=True, eq=False)
class LiftModel:
    """A fitted lift model, or ``estimator=None`` when there were too few rows (scale only)."""

    estimator: Any
    #: Features the estimator uses (a column with no known value in training is left out).
    features: tuple[str, ...]
    #: Level assumed for products without history: per category, then overall.
    category_level: dict[str, float]
    overall_level: float
    n_rows: int
    n_promoted_rows: int
    sklearn_version: str


#: Fewer training rows than this: no model, forecasts are the level times the median lift.
MIN_TRAIN_ROWS = 30


def category_codes(frame: pd.DataFrame) -> dict[str, int]:
    """Codes of the ``MAX_CATEGORIES`` categories with the most rows (ties by name)."""
    counts = frame["category"].value_counts()
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:MAX_CATEGORIES]
    return {name: code for code, name in enumerate(sorted(n for n, _ in ranked))}


def scale_of(frame: pd.DataFrame, model: LiftModel) -> np.ndarray:
    """The offset of each row: its level, else its category's level, else the overall level."""
    fill = frame["category"].map(model.category_level).fillna(model.overall_level)
    level = frame["level"].fillna(fill)
    scale: np.ndarray = np.maximum(level.to_numpy(np.float64), LEVEL_FLOOR)
    return scale


def _levels(train: pd.DataFrame) -> tuple[dict[str, float], float]:
    latest = train[train["wk"] == train["wk"].max()] if len(train) else train
    known = latest[latest["level"].notna()]
    per_cat = known.groupby("category")["level"].median()
    overall = float(known["level"].median()) if len(known) else 1.0
    return {str(k): float(v) for k, v in per_cat.items()}, overall


def select_training_rows(
    frame: pd.DataFrame, end_week: int, config: ForecastConfig, random_state: int
) -> pd.DataFrame:
    """Rows the model may learn from for a forecast of week ``end_week``.

    History rows before ``end_week`` within ``config.train_weeks``, with at least one earlier
    week of the product and a known level (the model is a multiplier on the product's own
    level: a row scaled by its category's level would teach that category's spread instead),
    never a partial week (its units are not a week's demand); capped at ``max_train_rows``
    (all promoted rows first, then a seeded sample of the non-promoted ones: the promotion flag
    is a function of the features, so the sample does not bias ``E[units | features]``).
    """
    keep = (
        ~frame["is_target"]
        & (frame["wk"] < end_week)
        & (frame["wk"] >= end_week - config.train_weeks)
        & (frame["history_weeks"] >= 1)
        & frame["units"].notna()
        & frame["level"].notna()
        & frame["price"].notna()
    )
    rows = frame[keep]
    if len(rows) <= config.max_train_rows:
        return rows
    promo = rows[rows["promoted"]]
    promo = promo.sample(min(len(promo), config.max_train_rows // 2), random_state=random_state)
    rest = rows[~rows["promoted"]]
    rest = rest.sample(config.max_train_rows - len(promo), random_state=random_state)
    return pd.concat([promo, rest]).sort_index()


def fit_lift_model(train: pd.DataFrame, config: ForecastConfig, random_state: int) -> LiftModel:
    """Fit the Poisson model on training rows in their observed scenario (see module doc)."""
    category_level, overall = _levels(train)
    shell = LiftModel(
        estimator=None,
        features=(),
        category_level=category_level,
        overall_level=overall,
        n_rows=len(train),
        n_promoted_rows=int(train["promoted"].sum()) if len(train) else 0,
        sklearn_version=sklearn.__version__,
    )
    if len(train) < MIN_TRAIN_ROWS or train["units"].sum() <= 0:
        return shell
    scale = scale_of(train, shell)
    features = tuple(f for f in FEATURES if train[f].notna().any())
    estimator = HistGradientBoostingRegressor(
        loss="poisson",
        max_iter=config.max_iter,
        learning_rate=config.learning_rate,
        max_leaf_nodes=config.max_leaf_nodes,
        min_samples_leaf=max(5, min(config.min_samples_leaf, len(train) // 20)),
        l2_regularization=config.l2_regularization,
        categorical_features=[f for f in features if f == "category_code"] or None,
        monotonic_cst={f: c for f, c in MONOTONIC.items() if f in features},
        early_stopping=False,
        random_state=random_state,
    )
    with threadpool_limits(limits=config.n_threads):
        estimator.fit(
            train[list(features)],
            train["units"].to_numpy(np.float64) / scale,
            sample_weight=scale,
        )
    return LiftModel(**{**vars(shell), "estimator": estimator, "features": features})


def predict_units(model: LiftModel, frame: pd.DataFrame, config: ForecastConfig) -> np.ndarray:
    """Expected units of each row of ``frame`` in the scenario its columns describe.

    Without an estimator: the scale (recent level) times the product's last observed lift when
    the row is promoted, else the level alone.
    """
    scale = scale_of(frame, model)
    if len(frame) == 0:
        return scale
    if model.estimator is None:
        promoted = (frame["display_share"] > 0) | (frame["mailer_share"] > 0)
        lift = frame["last_lift"].fillna(1.0).clip(lower=1.0)
        return scale * np.where(promoted, lift, 1.0)
    with threadpool_limits(limits=config.n_threads):
        units: np.ndarray = scale * model.estimator.predict(frame[list(model.features)])
    return units
