"""Honest evaluation of the recommender on a temporal holdout.

Objective: how well would the lists made at ``split_day`` (trained only on purchases before
it) have predicted what each customer bought in the following weeks, against two baselines
made from the same data:

* ``popularity``: the ``top_k`` items with most buyers before the split (the same for all);
* ``buy_again``: the customer's own ``top_k`` items by purchase days (then recency).

Metrics over the customers who bought at least one allowed item in the holdout weeks:
precision@k, recall@k and NDCG@k (binary relevance; customers with a short list count the
missing slots as misses), plus the share of hits on items new to the customer, the mean
expected incremental value of an offer (same value model for all three lists:
:func:`optimizer.engine.recommend.model.offer_value`) and the calibration of ``P(buy anyway)``
(mean predicted vs observed holdout purchase rate per kind of the model's candidates).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from optimizer.engine.recommend.lists import LISTS, candidate_lists
from optimizer.engine.recommend.model import (
    RecommendConfig,
    Recommender,
    fit_recommender,
)

__all__ = ["LISTS", "WindowResult", "calibration", "evaluate_window", "ranking_metrics"]


@dataclass(frozen=True)
class WindowResult:
    """One window's evaluation: the JSON report, the fitted model, the three lists (candidate
    frames) of the evaluated customers and what they bought in the window."""

    report: dict[str, Any]
    model: Recommender
    lists: dict[str, pd.DataFrame]
    relevant: pd.DataFrame


def ranking_metrics(lists: pd.DataFrame, relevant: pd.DataFrame, k: int) -> dict[str, float]:
    """precision@k, recall@k, NDCG@k of ``lists`` (``customer_id``, ``product_id``, ``rank``
    1..k) against ``relevant`` (``customer_id``, ``product_id``: bought in the holdout), over
    the customers of ``relevant``."""
    relevant = relevant.drop_duplicates(["customer_id", "product_id"])
    n_relevant = relevant.groupby("customer_id").size()
    users = len(n_relevant)
    if users == 0:
        return {"precision": 0.0, "recall": 0.0, "ndcg": 0.0, "customers": 0}
    top = lists.loc[lists["rank"] <= k]
    hits = top.merge(relevant, on=["customer_id", "product_id"], how="inner")
    per_user = hits.groupby("customer_id").size()
    precision = float(per_user.sum()) / (k * users)
    recall = float((per_user / n_relevant.reindex(per_user.index)).sum()) / users
    gains = hits.assign(gain=1.0 / np.log2(hits["rank"].to_numpy(dtype=np.float64) + 1))
    dcg = gains.groupby("customer_id")["gain"].sum().reindex(n_relevant.index, fill_value=0.0)
    ideal_discounts = np.cumsum(1.0 / np.log2(np.arange(2, k + 2)))
    idcg = ideal_discounts[np.minimum(n_relevant.to_numpy(), k) - 1]
    ndcg = float((dcg.to_numpy() / idcg).mean())
    return {
        "precision": round(precision, 4),
        "recall": round(recall, 4),
        "ndcg": round(ndcg, 4),
        "customers": users,
    }


def _value(lists: pd.DataFrame) -> float:
    if lists.empty:
        return 0.0
    return round(float(lists["incremental_value"].mean()), 4)


def _new_hit_share(
    lists: pd.DataFrame, relevant: pd.DataFrame, history: pd.DataFrame, k: int
) -> float:
    hits = lists.loc[lists["rank"] <= k].merge(relevant, on=["customer_id", "product_id"])
    if hits.empty:
        return 0.0
    owned = hits.merge(history[["customer_id", "product_id"]], on=["customer_id", "product_id"])
    return round(1.0 - len(owned) / len(hits), 4)


def evaluate_window(
    history: pd.DataFrame,
    holdout: pd.DataFrame,
    products: pd.DataFrame,
    customers: pd.DataFrame,
    *,
    split_day: int,
    excluded_categories: tuple[str, ...],
    config: RecommendConfig,
    max_customers: int | None = 20_000,
    random_state: int = 0,
) -> WindowResult:
    """Fit on ``history`` (before ``split_day``), score the lists against ``holdout``.

    Args:
        history: as :func:`~optimizer.engine.recommend.model.fit_recommender`, before
            ``split_day``.
        holdout: ``customer_id``, ``product_id`` bought on or after ``split_day`` (the
            holdout weeks).
        products, customers: as for the fit.
        max_customers: evaluate a random sample of at most this many holdout buyers (``None``:
            all); the fit always uses every customer.

    Returns:
        :class:`WindowResult`; its report is ``{"k", "split_day", "customers", "table": {list:
        metrics}, "calibration": [...]}`` (calibration of the recommender's list), JSON-ready.
    """
    k = config.top_k
    model = fit_recommender(
        history,
        products,
        customers,
        as_of_day=split_day,
        excluded_categories=excluded_categories,
        config=config,
    )
    allowed_ids = model.item_ids[model.allowed]
    relevant = holdout.loc[holdout["product_id"].isin(allowed_ids), ["customer_id", "product_id"]]
    relevant = relevant.drop_duplicates()
    evaluated = np.sort(relevant["customer_id"].unique())
    buyers = len(evaluated)
    if max_customers is not None and buyers > max_customers:
        rng = np.random.default_rng(random_state)
        evaluated = np.sort(rng.choice(evaluated, max_customers, replace=False))
        relevant = relevant.loc[relevant["customer_id"].isin(evaluated)]
    members = customers.loc[customers["customer_id"].isin(evaluated)]
    own_history = history.loc[history["customer_id"].isin(evaluated)]
    lists = {name: candidate_lists(model, own_history, members, config, name) for name in LISTS}
    table = {}
    for name, frame in lists.items():
        table[name] = {
            **ranking_metrics(frame, relevant, k),
            "new_item_hit_share": _new_hit_share(frame, relevant, own_history, k),
            "incremental_value_per_offer": _value(frame),
        }
    report = {
        "k": k,
        "split_day": split_day,
        "customers": len(evaluated),
        "holdout_buyers": buyers,
        "cold_start_customers": int(len(evaluated) - own_history["customer_id"].nunique()),
        "table": table,
        "calibration": calibration(lists["model"], relevant),
    }
    return WindowResult(report=report, model=model, lists=lists, relevant=relevant)


def calibration(candidates: pd.DataFrame, relevant: pd.DataFrame) -> list[dict[str, Any]]:
    """Per kind: offers, mean predicted ``P(buy anyway)`` and the observed holdout purchase
    rate of the candidates (nobody had a product offer in the holdout, so observed = anyway)."""
    if candidates.empty:
        return []
    bought = candidates.merge(
        relevant.assign(bought=1), on=["customer_id", "product_id"], how="left"
    )
    bought["bought"] = bought["bought"].fillna(0)
    rows = []
    for kind, group in bought.groupby("kind", sort=True):
        rows.append(
            {
                "kind": str(kind),
                "offers": len(group),
                "predicted": round(float(group["p_anyway"].mean()), 4),
                "observed": round(float(group["bought"].mean()), 4),
                "incremental_value": round(float(group["incremental_value"].mean()), 4),
            }
        )
    return rows
