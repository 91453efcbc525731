"""Personal product-offer candidates: item-item collaborative filtering plus "buy again".

Objective: per customer, up to ``top_k`` products worth an offer, of three kinds:

* ``buy_again``: the customer's most frequent items (at least ``min_repeat`` distinct days;
  optionally only those due, ``r = elapsed / own inter-purchase interval >= min_due``). Score
  ``log1p(days) * (1 + due_boost * min(r, 1)) * exp(-max(r - 3, 0) / 3)``: frequency first
  (the buy-again baseline's strength: most of next month's basket is what the customer always
  buys), and an item not bought for more than three of the customer's own intervals fades
  (they probably left it); ties go to the most recently bought. ``due_boost`` (default 0)
  favours due items: on the demo's validation windows any positive boost lowered NDCG@10.
* ``try``: items the customer never bought, scored by implicit's item-item cosine
  recommender (``K`` nearest items per item, fitted on log1p(purchase days)); the customer's
  score of an item is the sum of its similarities to the items they bought.
* ``popular``: fill for cold-start customers (no history) and short lists: the most bought
  items of the customer's segment (all customers when the segment is unknown or small).

Constraints: items of an excluded category never appear (their columns of the similarity and
the popular lists are dropped at fit time); a customer never gets the same product twice; at
most ``buy_again_slots`` buy-again items (default: the whole list); ``try`` items fill what is
left, so discovery gets the slots of customers with few regular items, where it earns them.

Offer value (see docs/recommendations.md): ``P(buy anyway)`` within ``horizon_weeks`` is the
customer's own purchase rate of the item (a Poisson rate, faded like the score when lapsed)
for items bought before, and the item's adoption rate (share of its non-buyers who started
buying it in the last ``horizon_weeks`` before the cut-off) for new items. An offer is assumed
to multiply the odds of buying by ``offer_odds_ratio``, so ``P(buy | offer) = L o / (1 + L o)``
with ``o = p / (1 - p)``; the incremental value is ``(P(buy | offer) - p) x unit margin``: near
zero for items bought every week (p close to 1) and for items of no interest (p close to 0).

Why hand-written around ``implicit``: the similarity is implicit's; scoring is a sparse
product done per customer chunk with scipy, so that a million customers are scored in chunks
without implicit's per-user loop, and the mixing, exclusions and value are domain rules.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.sparse as sp
from implicit.nearest_neighbours import CosineRecommender
from threadpoolctl import threadpool_limits

from optimizer.engine.errors import EngineInputError

HISTORY_COLUMNS = ("customer_id", "product_id", "days", "first_day", "last_day")
PRODUCT_COLUMNS = ("product_id", "name", "category", "margin")
CANDIDATE_COLUMNS = (
    "customer_id",
    "product_id",
    "kind",
    "score",
    "rank",
    "p_anyway",
    "p_offer",
    "incremental_value",
    "reason",
)


@dataclass(frozen=True)
class RecommendConfig:
    """Settings of the recommender (defaults documented in docs/recommendations.md)."""

    top_k: int = 10
    neighbours: int = 20
    min_repeat: int = 2
    min_due: float = 0.0
    due_boost: float = 0.0
    buy_again_slots: int = 10
    horizon_weeks: int = 4
    offer_odds_ratio: float = 2.0
    popular_per_segment: int = 100
    min_segment_customers: int = 50

    def __post_init__(self) -> None:
        if self.top_k < 1 or self.neighbours < 1 or self.horizon_weeks < 1:
            raise EngineInputError("top_k, neighbours and horizon_weeks must be at least 1")
        if self.offer_odds_ratio < 1:
            raise EngineInputError("offer_odds_ratio must be at least 1 (an offer never hurts)")


@dataclass(frozen=True)
class Calibration:
    """A monotone map of predicted to observed ``P(buy anyway)`` (isotonic step points)."""

    x: tuple[float, ...]
    y: tuple[float, ...]

    def apply(self, p: np.ndarray) -> np.ndarray:
        """Calibrated probabilities (flat beyond the fitted range)."""
        mapped: np.ndarray = np.interp(p, np.asarray(self.x), np.asarray(self.y))
        return mapped


@dataclass(frozen=True)
class Recommender:
    """What :func:`fit_recommender` learnt; :func:`recommend` applies it to any chunk."""

    item_ids: np.ndarray  # product ids, matrix column order
    names: np.ndarray  # product names (reasons)
    margin: np.ndarray  # unit margin per item (float)
    allowed: np.ndarray  # bool per item: not in an excluded category
    similarity: sp.csr_matrix  # items x items, no diagonal, excluded columns dropped
    adoption: np.ndarray  # P(a non-buyer starts buying within the horizon) per item
    popular: dict[str, np.ndarray] = field(default_factory=dict)  # segment -> item indexes
    as_of_day: int = 0
    # Set by the run after its validation window (optimizer.engine.recommend.champion):
    served: str = "model"  # which list serve() makes: "model", "popularity" or "buy_again"
    calibration: dict[str, Calibration] = field(default_factory=dict)  # kind -> P(anyway) map


def _check(frame: pd.DataFrame, columns: tuple[str, ...], name: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise EngineInputError(f"{name} frame lacks column(s) {', '.join(missing)}")


def _item_index(model_ids: np.ndarray, ids: pd.Series) -> np.ndarray:
    positions: np.ndarray = pd.Index(model_ids).get_indexer(ids.to_numpy())
    return positions


def pair_keys(
    customer_id: pd.Series | np.ndarray, item: pd.Series | np.ndarray, n: int
) -> np.ndarray:
    """One int64 per (customer, item): hashing and set tests on one column are far faster than
    on a two-level index (a chunk has millions of pairs)."""
    keys: np.ndarray = np.asarray(customer_id, dtype=np.int64) * n + np.asarray(
        item, dtype=np.int64
    )
    return keys


def user_item_matrix(
    history: pd.DataFrame, rows: np.ndarray, items: np.ndarray, n_items: int
) -> sp.csr_matrix:
    """Customers (``rows`` positions) x items, weight log1p(distinct purchase days)."""
    weights = np.log1p(history["days"].to_numpy(dtype=np.float32))
    shape = (int(rows.max()) + 1 if len(rows) else 0, n_items)
    return sp.csr_matrix((weights, (rows, items)), shape=shape, dtype=np.float32)


def fit_recommender(
    history: pd.DataFrame,
    products: pd.DataFrame,
    customers: pd.DataFrame,
    *,
    as_of_day: int,
    excluded_categories: tuple[str, ...],
    config: RecommendConfig,
) -> Recommender:
    """Fit the item-item similarity, the popular lists and the adoption rates.

    Args:
        history: one row per (customer, product) bought before the cut-off: ``customer_id``,
            ``product_id`` (int64), ``days`` (distinct purchase days, int), ``first_day``,
            ``last_day`` (days since 1970-01-01, int).
        products: ``product_id`` (int64), ``name``, ``category`` (str), ``margin`` (float,
            unit price minus unit cost).
        customers: ``customer_id`` (int64), ``segment`` (str, "" when unknown).
        as_of_day: the cut-off (days since 1970-01-01); nothing on or after it is read.
        excluded_categories: categories never recommended (compared without regard to case).

    Raises:
        EngineInputError: a frame lacks a column, or history is dated on/after the cut-off.
    """
    _check(history, HISTORY_COLUMNS, "history")
    _check(products, PRODUCT_COLUMNS, "products")
    _check(customers, ("customer_id", "segment"), "customers")
    if len(history) and int(history["last_day"].max()) >= as_of_day:
        raise EngineInputError("history has purchases on or after the cut-off day")
    item_ids = products["product_id"].to_numpy(dtype=np.int64)
    excluded = {c.casefold() for c in excluded_categories}
    allowed = ~products["category"].astype(str).str.casefold().isin(excluded).to_numpy()
    items = _item_index(item_ids, history["product_id"])
    known = items >= 0
    history, items = history.loc[known], items[known]
    customer_codes, customer_ids = pd.factorize(history["customer_id"], sort=True)
    matrix = user_item_matrix(history, customer_codes, items, len(item_ids))
    similarity = _similarity(matrix, allowed, config)
    return Recommender(
        item_ids=item_ids,
        names=products["name"].astype(str).to_numpy(),
        margin=products["margin"].to_numpy(dtype=np.float64),
        allowed=allowed,
        similarity=similarity,
        adoption=_adoption(history, items, len(item_ids), as_of_day, config),
        popular=_popular(history, items, customer_ids, customers, allowed, config),
        as_of_day=as_of_day,
    )


def _similarity(
    matrix: sp.csr_matrix, allowed: np.ndarray, config: RecommendConfig
) -> sp.csr_matrix:
    n_items = matrix.shape[1]
    if matrix.nnz == 0:
        return sp.csr_matrix((n_items, n_items), dtype=np.float32)
    recommender = CosineRecommender(K=config.neighbours + 1, num_threads=1)
    # implicit normalises the matrix to COO itself and then warns about its own conversion.
    with threadpool_limits(1, "blas"), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Method expects CSR input")
        recommender.fit(matrix, show_progress=False)
    similarity = sp.csr_matrix(recommender.similarity, dtype=np.float32)
    similarity.setdiag(0)
    # Excluded items are never a target (a column); they may still be evidence (a row).
    similarity = similarity @ sp.diags(allowed.astype(np.float32))
    similarity.eliminate_zeros()
    return sp.csr_matrix(similarity)


def _adoption(
    history: pd.DataFrame, items: np.ndarray, n_items: int, as_of_day: int, config: RecommendConfig
) -> np.ndarray:
    start = as_of_day - 7 * config.horizon_weeks
    first = history["first_day"].to_numpy()
    active = history["customer_id"].nunique()
    before = np.bincount(items[first < start], minlength=n_items).astype(np.float64)
    new = np.bincount(items[first >= start], minlength=n_items).astype(np.float64)
    rate: np.ndarray = new / np.maximum(active - before, 1.0)
    return rate


def _popular(
    history: pd.DataFrame,
    items: np.ndarray,
    customer_ids: pd.Index,
    customers: pd.DataFrame,
    allowed: np.ndarray,
    config: RecommendConfig,
) -> dict[str, np.ndarray]:
    segments = customers.set_index("customer_id")["segment"].astype(str)
    segment_of = segments.reindex(history["customer_id"].to_numpy()).fillna("").to_numpy()
    buyers = pd.DataFrame({"segment": segment_of, "item": items})
    lists: dict[str, np.ndarray] = {}
    groups = [("", buyers)]
    sizes = segments.value_counts()
    groups += [
        (str(name), group)
        for name, group in buyers.groupby("segment", sort=True)
        if name and sizes.get(name, 0) >= config.min_segment_customers
    ]
    for name, group in groups:
        counts = np.bincount(group["item"].to_numpy(), minlength=len(allowed))
        counts = np.where(allowed, counts, -1)
        order = np.argsort(-counts, kind="stable")[: config.popular_per_segment]
        lists[name] = order[counts[order] > 0]
    return lists


def buy_again_scores(history: pd.DataFrame, as_of_day: int, due_boost: float = 0.0) -> pd.DataFrame:
    """``history`` with ``interval`` (days, NaN for one purchase), ``ratio`` (elapsed / interval)
    and ``score`` of the buy-again rule (module docstring)."""
    days = history["days"].to_numpy(dtype=np.float64)
    span = (history["last_day"] - history["first_day"]).to_numpy(dtype=np.float64)
    interval = np.where(days >= 2, np.maximum(span, 1.0) / np.maximum(days - 1, 1), np.nan)
    elapsed = as_of_day - history["last_day"].to_numpy(dtype=np.float64)
    ratio = elapsed / interval
    fade = np.exp(-np.maximum(np.nan_to_num(ratio) - 3.0, 0.0) / 3.0)
    due = np.nan_to_num(np.minimum(ratio, 1.0))
    score = np.log1p(days) * (1.0 + due_boost * due) * fade
    return history.assign(interval=interval, ratio=ratio, score=score, elapsed=elapsed)


def purchase_probability(
    model: Recommender, history: pd.DataFrame, pairs: pd.DataFrame, config: RecommendConfig
) -> np.ndarray:
    """P(customer buys the product within the horizon without an offer), per row of ``pairs``
    (``customer_id``, ``item``): the own Poisson rate for items bought before, else adoption."""
    scored = buy_again_scores(history, model.as_of_day)
    rate = scored["days"] / np.maximum(model.as_of_day - scored["first_day"], 7)
    fade = np.exp(-np.maximum(scored["ratio"].fillna(0.0) - 3.0, 0.0) / 3.0)
    own = (1.0 - np.exp(-rate * fade * 7 * config.horizon_weeks)).to_numpy(dtype=np.float64)
    n = len(model.item_ids)
    at = pd.Index(pair_keys(scored["customer_id"], scored["item"], n)).get_indexer(
        pair_keys(pairs["customer_id"], pairs["item"], n)
    )
    own = np.append(own, np.nan)  # position -1 (never bought) reads the NaN
    p = own[at]
    fallback = model.adoption[pairs["item"].to_numpy()]
    probability: np.ndarray = np.clip(np.where(np.isnan(p), fallback, p), 0.0, 0.999)
    return probability


def offer_value(
    model: Recommender, history: pd.DataFrame, pairs: pd.DataFrame, config: RecommendConfig
) -> pd.DataFrame:
    """``pairs`` (``customer_id``, ``item``) with ``p_anyway``, ``p_offer`` and
    ``incremental_value`` (expected incremental margin of one offer, before its cost).
    ``history`` must carry ``item`` (the model's index of ``product_id``)."""
    p = purchase_probability(model, history, pairs, config)
    return with_offer_value(model, pairs, p, config)


def with_offer_value(
    model: Recommender, pairs: pd.DataFrame, p_anyway: np.ndarray, config: RecommendConfig
) -> pd.DataFrame:
    """``pairs`` (with ``item``) and ``P(buy anyway)`` -> ``p_anyway``, ``p_offer`` and
    ``incremental_value`` under the odds model (module docstring)."""
    p = np.clip(np.asarray(p_anyway, dtype=np.float64), 0.0, 0.999)
    odds = config.offer_odds_ratio * p / (1.0 - p)
    p_offer = odds / (1.0 + odds)
    value = (p_offer - p) * np.maximum(model.margin[pairs["item"].to_numpy()], 0.0)
    return pairs.assign(p_anyway=p, p_offer=p_offer, incremental_value=value)


#: Longest "last bought" that gets its own text (days); longer ones read as this many.
AGO_MAX_DAYS = 3650
KINDS = np.array(["buy_again", "try", "popular"], dtype=object)
TRY_REASON = "customers who buy what you buy also buy it"


def _ago_texts() -> np.ndarray:
    """``texts[d]``: "d days ago" under two weeks, else "w weeks ago" (d = 0..AGO_MAX_DAYS)."""
    texts = []
    for days in range(AGO_MAX_DAYS + 1):
        if days < 14:
            texts.append(f"{days} day{'s' if days != 1 else ''} ago")
        else:
            weeks = round(days / 7)
            texts.append(f"{weeks} weeks ago")
    return np.array(texts, dtype=object)


AGO_TEXTS = _ago_texts()


def recommend(
    model: Recommender,
    history: pd.DataFrame,
    customers: pd.DataFrame,
    config: RecommendConfig,
) -> pd.DataFrame:
    """Candidates of ``customers`` (``customer_id``, ``segment``), from their ``history``
    (columns as for :func:`fit_recommender`, before ``model.as_of_day``).

    Returns:
        :data:`CANDIDATE_COLUMNS`: ``rank`` 1..top_k per customer (buy-again first, then try,
        then popular), ``score`` (the kind's own score), offer value columns (floats) and a
        ``reason`` sentence.
    """
    _check(history, HISTORY_COLUMNS, "history")
    _check(customers, ("customer_id", "segment"), "customers")
    customer_ids = customers["customer_id"].to_numpy(dtype=np.int64)
    history = history.loc[history["customer_id"].isin(customer_ids)]
    history = history.assign(item=_item_index(model.item_ids, history["product_id"]))
    history = history.loc[history["item"] >= 0]
    position = pd.Index(customer_ids).get_indexer(history["customer_id"].to_numpy())
    segments = customers["segment"].astype(str).to_numpy()
    parts = [
        _buy_again(model, history, config),
        _try(model, history, position, customer_ids, config),
        _fill_popular(model, customer_ids, segments, config),
    ]
    present = [part for part in parts if len(part)]
    if not present:  # no history and no popular item (a tenant with no sales yet)
        return pd.DataFrame({c: [] for c in CANDIDATE_COLUMNS})
    frame = pd.concat(present, ignore_index=True)
    n = len(model.item_ids)
    keys = pair_keys(frame["customer_id"], frame["item"], n)
    new = ~np.isin(keys, pair_keys(history["customer_id"], history["item"], n))
    keep = (frame["order"].to_numpy() == 0) | new
    frame, keys = frame.loc[keep], keys[keep]
    order = np.lexsort(
        (-frame["score"].to_numpy(), frame["order"].to_numpy(), frame["customer_id"].to_numpy())
    )
    frame, keys = frame.iloc[order], keys[order]
    first = ~pd.Series(keys).duplicated().to_numpy()
    frame = frame.loc[first].reset_index(drop=True)
    customer = frame["customer_id"].to_numpy()
    starts = np.r_[0, np.flatnonzero(np.diff(customer)) + 1]
    rank = np.arange(len(frame)) - np.repeat(starts, np.diff(np.r_[starts, len(frame)])) + 1
    frame = frame.assign(rank=rank).loc[rank <= config.top_k].reset_index(drop=True)
    frame = offer_value(model, history, frame, config)
    frame["product_id"] = model.item_ids[frame["item"].to_numpy()]
    frame["kind"] = KINDS[frame["order"].to_numpy()]
    frame["reason"] = _reasons(model, frame, segments)
    return frame[list(CANDIDATE_COLUMNS)]


def _reasons(model: Recommender, frame: pd.DataFrame, segments: np.ndarray) -> np.ndarray:
    """The sentence of each candidate, built only for the rows kept (vectorised: a chunk has
    a million of them)."""
    order, note = frame["order"].to_numpy(), frame["note"].to_numpy()
    reasons = np.full(len(frame), TRY_REASON, dtype=object)
    again = order == 0
    if again.any():
        names = model.names[frame["item"].to_numpy()[again]].astype(object)
        ago = AGO_TEXTS[np.clip(note[again], 0, AGO_MAX_DAYS).astype(np.int64)]
        reasons[again] = "you often buy " + names + "; last bought " + ago
    popular = order == 2
    if popular.any():
        labels = np.array(
            [
                f"popular with {s} customers" if s in model.popular and s else "popular"
                for s in np.unique(segments)
            ],
            dtype=object,
        )
        which = np.searchsorted(np.unique(segments), segments[note[popular].astype(np.int64)])
        reasons[popular] = labels[which]
    return np.array([text[:255] for text in reasons], dtype=object)


def _buy_again(model: Recommender, history: pd.DataFrame, config: RecommendConfig) -> pd.DataFrame:
    scored = buy_again_scores(history, model.as_of_day, config.due_boost)
    ok = (
        (scored["days"] >= config.min_repeat)
        & ((scored["ratio"] >= config.min_due) | (config.min_due <= 0))
        & model.allowed[scored["item"].to_numpy()]
    )
    # Ties (same purchase days, not lapsed) go to the most recent: it beat due-ness on the demo.
    scored = scored.loc[ok].sort_values(
        ["customer_id", "score", "last_day"], ascending=[True, False, False], kind="stable"
    )
    scored = scored.loc[scored.groupby("customer_id").cumcount() < config.buy_again_slots]
    return pd.DataFrame(
        {
            "customer_id": scored["customer_id"].to_numpy(dtype=np.int64),
            "item": scored["item"].to_numpy(dtype=np.int64),
            "order": np.int8(0),
            "score": scored["score"].to_numpy(dtype=np.float64),
            "note": scored["elapsed"].to_numpy(dtype=np.float64),
        }
    )


def _try(
    model: Recommender,
    history: pd.DataFrame,
    position: np.ndarray,
    customer_ids: np.ndarray,
    config: RecommendConfig,
) -> pd.DataFrame:
    if history.empty or model.similarity.nnz == 0:
        return pd.DataFrame()
    matrix = user_item_matrix(history, position, history["item"].to_numpy(), len(model.item_ids))
    scores = sp.csr_matrix(matrix @ model.similarity)
    # Items already bought are not "try": drop them (same sparsity as the purchases).
    bought = matrix.copy()
    bought.data[:] = 1.0
    scores = sp.csr_matrix(scores - scores.multiply(bought))
    scores.eliminate_zeros()
    rows = np.repeat(np.arange(scores.shape[0]), np.diff(scores.indptr))
    # CSR keeps each customer's entries together: sort within rows, keep the first top_k.
    order = np.lexsort((-scores.data, rows))
    rank = np.arange(len(order)) - scores.indptr[rows[order]]
    keep = order[rank < config.top_k]
    return pd.DataFrame(
        {
            "customer_id": customer_ids[rows[keep]],
            "item": scores.indices[keep].astype(np.int64),
            "order": np.int8(1),
            "score": scores.data[keep].astype(np.float64),
            "note": np.nan,
        }
    )


def _fill_popular(
    model: Recommender, customer_ids: np.ndarray, segments: np.ndarray, config: RecommendConfig
) -> pd.DataFrame:
    """Each customer's segment's popular items (enough to fill a list after removing the
    items they already bought); ``note`` is the customer's position (for the reason)."""
    pieces = []
    wanted = 3 * config.top_k
    for segment in np.unique(segments):
        rows = np.flatnonzero(segments == segment)
        top = model.popular.get(segment if segment in model.popular else "", np.zeros(0))[:wanted]
        if len(top) == 0:
            continue
        pieces.append(
            pd.DataFrame(
                {
                    "customer_id": np.repeat(customer_ids[rows], len(top)),
                    "item": np.tile(top.astype(np.int64), len(rows)),
                    "order": np.int8(2),
                    "score": np.tile(1.0 - np.arange(len(top)) / len(top), len(rows)),
                    "note": np.repeat(rows.astype(np.float64), len(top)),
                }
            )
        )
    return pd.concat(pieces, ignore_index=True) if pieces else pd.DataFrame()
