"""Django <-> DataFrame adapters of the recommender: history per (customer, product), the
products, the members with their segment, and the candidates written back.

The history is aggregated in PostgreSQL (one row per customer and product: distinct local
purchase days, first and last local day) and streamed out with ``COPY``; a chunk reads only its
customer id range. Candidates go back with ``COPY`` (:func:`loyalty_site.bulk.insert_frame`).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from loyalty_site.bulk import insert_frame
from optimizer import queries
from optimizer.frames.common import (
    ALL_CUSTOMERS,
    CustomerFilter,
    base_params,
    cutoff_of,
    query_frame,
)
from optimizer.frames.writes import round_half_up
from optimizer.models import OfferCandidate
from retailers.models import Retailer

HISTORY_NAMES = ["customer_id", "product_id", "days", "first_day", "last_day"]
HISTORY_TYPES = {n: "int64" for n in HISTORY_NAMES}


def product_history_frame(
    *,
    retailer: Retailer,
    start: dt.date | None,
    end: dt.date,
    customers: CustomerFilter = ALL_CUSTOMERS,
) -> pd.DataFrame:
    """Purchases in [``start``, ``end``) local days (``start=None``: since the beginning), one
    row per (customer, product): ``customer_id``, ``product_id``, ``days``, ``first_day``,
    ``last_day`` (int64; days since 1970-01-01)."""
    params = base_params(retailer, end)
    params["start"] = cutoff_of(retailer, start or dt.date(1900, 1, 1))
    query = queries.product_history(customers.sql("t.customer_id", params))
    return query_frame(query, retailer.pk, params, HISTORY_NAMES, HISTORY_TYPES)


def products_frame(*, retailer: Retailer) -> pd.DataFrame:
    """``product_id`` int64, ``name``, ``category`` (str), ``margin`` float64 (price - cost)."""
    names = ["product_id", "name", "category", "margin"]
    frame = query_frame(
        queries.recommend_products(),
        retailer.pk,
        {},
        names,
        {"product_id": "int64", "name": "str", "category": "str", "margin": "float64"},
    )
    frame["name"] = frame["name"].fillna("").astype(str)
    frame["category"] = frame["category"].fillna("").astype(str)
    return frame


def member_segments_frame(
    *,
    retailer: Retailer,
    as_of: dt.date,
    scoring_run_id: int | None,
    customers: CustomerFilter = ALL_CUSTOMERS,
) -> pd.DataFrame:
    """Members at ``as_of``: ``customer_id`` int64, ``segment`` (their segment in scoring run
    ``scoring_run_id``; "" when none)."""
    params = base_params(retailer, as_of)
    params["run"] = scoring_run_id or 0
    query = queries.member_segments(customers.sql("c.id", params))
    frame = query_frame(
        query,
        retailer.pk,
        params,
        ["customer_id", "segment"],
        {"customer_id": "int64", "segment": "str"},
    )
    frame["segment"] = frame["segment"].fillna("").astype(str)
    return frame


def offer_candidates_write(*, retailer_id: int, run_id: int, candidates: pd.DataFrame) -> int:
    """Insert the engine's candidates as :class:`OfferCandidate` rows of run ``run_id``;
    returns the count. Call inside ``transaction.atomic`` after deleting replaced rows."""
    rows = pd.DataFrame(
        {
            "retailer_id": retailer_id,
            "run_id": run_id,
            "customer_id": candidates["customer_id"].to_numpy(dtype=np.int64),
            "product_id": candidates["product_id"].to_numpy(dtype=np.int64),
            "kind": candidates["kind"].astype(str).to_numpy(),
            "score": candidates["score"].to_numpy(dtype=np.float64).round(6),
            "rank": candidates["rank"].to_numpy(dtype=np.int64),
            "incremental_value": round_half_up(candidates["incremental_value"], 2),
            "reason": candidates["reason"].astype(str).str.slice(0, 255).to_numpy(),
        }
    )
    return insert_frame(OfferCandidate, rows)
