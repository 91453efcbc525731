"""Which list a recommendation run serves, and its calibration of ``P(buy anyway)``.

Objective: a marketer sees only numbers we would defend. So, like scoring's champions
(:mod:`optimizer.engine.champion`), the three lists of :mod:`optimizer.engine.recommend.lists`
(recommender, popularity, buy again) compete on a *validation* window that ends where the
holdout starts; the best by NDCG@k is served, and the holdout then reports all three. Changing
the holdout's purchases cannot change the choice.

Windows (``H`` = the holdout weeks): validation fits at ``as_of - 2H`` and measures on
``[as_of - 2H, as_of - H)``; the holdout fits at ``as_of - H`` and measures on
``[as_of - H, as_of)``; the served list is made from everything before ``as_of``.

Why NDCG@k and not the value per offer: NDCG is measured (what customers bought), while the
value per offer rests on an assumed offer effect (``offer_odds_ratio``) that no campaign has
measured yet; choosing by an assumption would let the assumption pick the list. A tie goes to
the simpler list (popularity, then buy again, then the recommender).

Calibration: per candidate kind of the served list, an isotonic regression (scikit-learn) of
the validation window's observed purchases (nobody had a product offer, so bought = bought
anyway) on the predicted ``P(buy anyway)``; kinds with fewer than ``min_offers`` validation
offers keep the raw prediction. The holdout shows predicted vs observed before and after.

Constraints: pure; deterministic; JSON-ready reports.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.isotonic import IsotonicRegression

from optimizer.engine.recommend.evaluate import WindowResult, calibration, evaluate_window
from optimizer.engine.recommend.lists import calibrate
from optimizer.engine.recommend.model import Calibration, RecommendConfig

METRIC = "ndcg"
#: Tie order: the simpler list first.
TIE_ORDER = ("popularity", "buy_again", "model")
NAMES = {
    "model": "the recommender",
    "popularity": "the popularity baseline",
    "buy_again": "the buy-again baseline (each customer's most bought items)",
}


@dataclass(frozen=True)
class Window:
    """One evaluation window: ``history`` before ``split_day`` and the ``purchases`` from it
    (columns as for :func:`~optimizer.engine.recommend.evaluate.evaluate_window`)."""

    history: pd.DataFrame
    purchases: pd.DataFrame
    split_day: int


@dataclass(frozen=True)
class Choice:
    """The list to serve, its calibration maps and the JSON report of both windows."""

    served: str
    calibration: dict[str, Calibration]
    report: dict[str, Any]


def pick(table: dict[str, dict[str, Any]]) -> str:
    """The list with the highest NDCG in ``table`` (ties: :data:`TIE_ORDER`)."""
    best = TIE_ORDER[0]
    for name in TIE_ORDER[1:]:
        if float(table[name][METRIC]) > float(table[best][METRIC]) + 1e-12:
            best = name
    return best


def fit_calibration(
    candidates: pd.DataFrame, relevant: pd.DataFrame, min_offers: int
) -> dict[str, Calibration]:
    """Per ``kind`` of ``candidates`` (``customer_id``, ``product_id``, ``kind``,
    ``p_anyway``): the isotonic map of predicted to observed (``relevant``: bought)."""
    if candidates.empty:
        return {}
    keys = ["customer_id", "product_id"]
    bought = candidates.merge(
        relevant[keys].drop_duplicates().assign(bought=1.0), on=keys, how="left"
    )
    bought["bought"] = bought["bought"].fillna(0.0)
    maps = {}
    for kind, group in bought.groupby("kind", sort=True):
        if len(group) < min_offers:
            continue
        isotonic = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
        isotonic.fit(group["p_anyway"].to_numpy(), group["bought"].to_numpy())
        maps[str(kind)] = Calibration(
            x=tuple(float(v) for v in isotonic.X_thresholds_),
            y=tuple(float(v) for v in isotonic.y_thresholds_),
        )
    return maps


def _calibration_rows(
    served: WindowResult, name: str, maps: dict[str, Calibration], config: RecommendConfig
) -> list[dict[str, Any]]:
    lists = served.lists[name]
    before = calibration(lists, served.relevant)
    model = dataclasses.replace(served.model, calibration=maps)
    after = {
        row["kind"]: row for row in calibration(calibrate(model, lists, config), served.relevant)
    }
    return [
        {
            **row,
            "calibrated": row["kind"] in maps,
            "predicted_after": after[row["kind"]]["predicted"],
            "incremental_value_after": after[row["kind"]]["incremental_value"],
        }
        for row in before
    ]


def evaluate_and_choose(
    validation: Window | None,
    holdout: Window,
    products: pd.DataFrame,
    customers: pd.DataFrame,
    *,
    excluded_categories: tuple[str, ...],
    config: RecommendConfig,
    max_customers: int | None = 20_000,
    min_offers: int = 100,
) -> Choice:
    """Choose the served list on ``validation``, fit its calibration there, report both.

    Returns:
        :class:`Choice`; ``report`` is ``{"champion": {...}, "holdout": {...}}``: the champion
        part names the served list, the metric, every list's validation metrics and the
        reason; the holdout part is the holdout evaluation of all three lists, its
        ``calibration`` rows (of the served list) carrying the predicted mean before
        (``predicted``) and after (``predicted_after``) calibration next to ``observed``.
    """

    def run(window: Window) -> WindowResult:
        return evaluate_window(
            window.history,
            window.purchases,
            products,
            customers,
            split_day=window.split_day,
            excluded_categories=excluded_categories,
            config=config,
            max_customers=max_customers,
        )

    checked = run(validation) if validation is not None else None
    if checked is None or checked.report["customers"] == 0:
        served, maps = "model", {}
        champion: dict[str, Any] = {
            "served": served,
            "metric": METRIC,
            "validation": None,
            "reason": "no validation window before the holdout (history too short or nobody "
            "bought in it): the recommender is served untested and uncalibrated",
        }
    else:
        table = checked.report["table"]
        served = pick(table)
        maps = fit_calibration(checked.lists[served], checked.relevant, min_offers)
        others = ", ".join(
            f"{NAMES[name]} {table[name][METRIC]:.4f}" for name in TIE_ORDER if name != served
        )
        champion = {
            "served": served,
            "metric": METRIC,
            "validation": table,
            "validation_split_day": validation.split_day if validation else None,
            "validation_customers": checked.report["customers"],
            "calibrated_kinds": sorted(maps),
            "reason": f"{NAMES[served]} had the best NDCG@{config.top_k} on the validation "
            f"window before the holdout: {table[served][METRIC]:.4f}, against {others}",
        }
    tested = run(holdout)
    report = dict(tested.report)
    report["calibration"] = _calibration_rows(tested, served, maps, config)
    report["calibration_list"] = served
    return Choice(served=served, calibration=maps, report={"champion": champion, "holdout": report})


def calibration_points(maps: dict[str, Calibration]) -> dict[str, int]:
    """Step points per calibrated kind (for the run's metrics)."""
    return {kind: len(np.asarray(mapping.x)) for kind, mapping in maps.items()}
