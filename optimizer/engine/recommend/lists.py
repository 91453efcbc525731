"""The three lists a run can serve, as candidate frames of one shape.

Objective: the recommender's own list (:func:`optimizer.engine.recommend.model.recommend`)
and the two simple baselines it must beat to be served:

* ``popularity``: the ``top_k`` allowed items with most buyers before the cut-off, the same
  for everyone (kind ``popular``);
* ``buy_again``: each customer's own ``top_k`` allowed items by purchase days, then most
  recent (kind ``buy_again``; a customer without history gets no list).

:func:`candidate_lists` makes any of them with the candidate columns (offer value included),
so the holdout evaluation scores exactly what a run would serve; :func:`serve` makes the list
the run chose (``Recommender.served``) and applies its calibration of ``P(buy anyway)``.

Constraints: excluded categories never appear (the fitted model's ``allowed``); pure.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from optimizer.engine.recommend.model import (
    AGO_MAX_DAYS,
    AGO_TEXTS,
    CANDIDATE_COLUMNS,
    Calibration,
    RecommendConfig,
    Recommender,
    _item_index,
    offer_value,
    recommend,
    with_offer_value,
)

LISTS = ("model", "popularity", "buy_again")
KIND_OF = {"popularity": "popular", "buy_again": "buy_again"}


def popularity_lists(model: Recommender, customer_ids: np.ndarray, k: int) -> pd.DataFrame:
    """The popularity baseline: ``customer_id``, ``product_id``, ``rank`` (same items for all)."""
    top = model.popular.get("", np.array([], dtype=np.int64))[:k]
    return pd.DataFrame(
        {
            "customer_id": np.repeat(customer_ids, len(top)),
            "product_id": np.tile(model.item_ids[top], len(customer_ids)),
            "rank": np.tile(np.arange(1, len(top) + 1), len(customer_ids)),
        }
    )


def buy_again_lists(model: Recommender, history: pd.DataFrame, k: int) -> pd.DataFrame:
    """The buy-again baseline: each customer's most often bought allowed items (``customer_id``,
    ``product_id``, ``rank``)."""
    items = _item_index(model.item_ids, history["product_id"])
    ok = (items >= 0) & model.allowed[np.maximum(items, 0)]
    own = history.loc[ok].sort_values(
        ["customer_id", "days", "last_day"], ascending=[True, False, False]
    )
    own = own.assign(rank=own.groupby("customer_id").cumcount() + 1)
    return own.loc[own["rank"] <= k, ["customer_id", "product_id", "rank"]]


def candidate_lists(
    model: Recommender,
    history: pd.DataFrame,
    customers: pd.DataFrame,
    config: RecommendConfig,
    name: str,
) -> pd.DataFrame:
    """List ``name`` (one of :data:`LISTS`) of ``customers`` with the candidate columns
    (:data:`~optimizer.engine.recommend.model.CANDIDATE_COLUMNS`), uncalibrated.

    Args:
        history: as for :func:`~optimizer.engine.recommend.model.fit_recommender`.
        customers: ``customer_id`` (int64), ``segment`` (str).
    """
    if name == "model":
        return recommend(model, history, customers, config)
    customer_ids = customers["customer_id"].to_numpy(dtype=np.int64)
    history = history.loc[history["customer_id"].isin(customer_ids)]
    if name == "popularity":
        lists = popularity_lists(model, customer_ids, config.top_k)
    elif name == "buy_again":
        lists = buy_again_lists(model, history, config.top_k)
    else:
        raise ValueError(f"unknown list {name!r}")
    return _as_candidates(model, history, lists, name, config)


def _as_candidates(
    model: Recommender,
    history: pd.DataFrame,
    lists: pd.DataFrame,
    name: str,
    config: RecommendConfig,
) -> pd.DataFrame:
    if lists.empty:
        return pd.DataFrame({c: [] for c in CANDIDATE_COLUMNS})
    history = history.assign(item=_item_index(model.item_ids, history["product_id"]))
    history = history.loc[history["item"] >= 0]
    frame = lists.assign(item=_item_index(model.item_ids, lists["product_id"]))
    frame = frame.reset_index(drop=True)
    frame = offer_value(model, history, frame, config)
    rank = frame["rank"].to_numpy()
    frame["kind"] = KIND_OF[name]
    frame["score"] = 1.0 - (rank - 1) / config.top_k
    names = model.names[frame["item"].to_numpy()].astype(object)
    if name == "popularity":
        frame["reason"] = "popular with all customers"
    else:
        own = history.set_index(["customer_id", "item"])[["days", "last_day"]]
        seen = own.reindex(pd.MultiIndex.from_frame(frame[["customer_id", "item"]]))
        ago = np.clip(model.as_of_day - seen["last_day"].to_numpy(), 0, AGO_MAX_DAYS)
        days = seen["days"].to_numpy()
        counted = np.where(days == 1, "1 day", days.astype(str).astype(object) + " days").astype(
            object
        )
        reasons = (
            "you bought " + names + " on " + counted + "; last " + AGO_TEXTS[ago.astype(np.int64)]
        )
        frame["reason"] = [text[:255] for text in reasons]
    return frame[list(CANDIDATE_COLUMNS)]


def calibrate(
    model: Recommender, candidates: pd.DataFrame, config: RecommendConfig
) -> pd.DataFrame:
    """``candidates`` with ``p_anyway`` mapped through ``model.calibration`` per kind (kinds
    without a map keep theirs) and ``p_offer``, ``incremental_value`` recomputed."""
    maps: dict[str, Calibration] = getattr(model, "calibration", {})  # older artifacts: none
    if candidates.empty or not maps:
        return candidates
    p = candidates["p_anyway"].to_numpy(dtype=np.float64).copy()
    kinds = candidates["kind"].to_numpy()
    for kind, mapping in maps.items():
        rows = kinds == kind
        p[rows] = mapping.apply(p[rows])
    items = _item_index(model.item_ids, candidates["product_id"])
    valued = with_offer_value(model, candidates.assign(item=items), p, config)
    return valued[list(CANDIDATE_COLUMNS)]


def serve(
    model: Recommender, history: pd.DataFrame, customers: pd.DataFrame, config: RecommendConfig
) -> pd.DataFrame:
    """The list the run serves (``model.served``), calibrated: what a chunk writes."""
    served = getattr(model, "served", "model")  # artifacts saved before the champion: the model
    lists = candidate_lists(model, history, customers, config, served)
    return calibrate(model, lists, config)
