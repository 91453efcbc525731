"""Readers of a retailer's history before ``as_of`` into the engine's input frames."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from campaigns.models import BonusKind, BonusType
from optimizer import queries
from optimizer.frames.common import (
    ALL_CUSTOMERS,
    CustomerFilter,
    ScoringFrames,
    base_params,
    days_to_datetime,
    query_frame,
)
from optimizer.queries import CODES_PER_WORD, OFFER_SOURCES
from retailers.models import Product, Retailer

__all__ = ["OFFER_SOURCES"]  # re-exported by optimizer.frames

BASKET_COLUMNS = ["customer_id", "date", "amount", "discount"]
CATEGORY_COLUMNS = ["customer_id", "date", "category"]


def customers_frame(
    *, retailer: Retailer, as_of: dt.date, customers: CustomerFilter = ALL_CUSTOMERS
) -> pd.DataFrame:
    """Members at ``as_of``: ``customer_id`` int64 (sorted), ``enrolled_on`` datetime64[s].

    A member enrolled before ``as_of``; later enrolments are not scored in this run.
    """
    params = base_params(retailer, as_of)
    query = queries.members(customers.sql("c.id", params))
    names = ["customer_id", "enrolled_on"]
    frame = query_frame(query, retailer.pk, params, names, {"customer_id": "int64"})
    frame["customer_id"] = frame["customer_id"].astype(np.int64)
    frame["enrolled_on"] = days_to_datetime(frame["enrolled_on"])
    return frame


def _category_count(retailer: Retailer) -> int:
    products = Product.objects.for_retailer(retailer).exclude(category="")
    return products.values("category").distinct().count()


def _unpack_categories(customer_id: np.ndarray, day: np.ndarray, words: np.ndarray) -> pd.DataFrame:
    """Distinct (customer, day, code) from per-basket category bitmasks, sorted."""
    rows, codes = [], []
    for w in range(words.shape[1]):
        packed = np.ascontiguousarray(words[:, w], dtype="<i8").view(np.uint8).reshape(-1, 8)
        row, bit = np.nonzero(np.unpackbits(packed, axis=1, bitorder="little"))
        rows.append(row)
        codes.append(bit + w * CODES_PER_WORD)
    row = np.concatenate(rows) if rows else np.zeros(0, dtype=np.int64)
    c, d = customer_id[row], day[row]
    k = (np.concatenate(codes) if codes else np.zeros(0, dtype=np.int64)).astype(np.int32)
    order = np.lexsort((k, d, c))
    c, d, k = c[order], d[order], k[order]
    first = np.ones(c.size, dtype=bool)
    first[1:] = (c[1:] != c[:-1]) | (d[1:] != d[:-1]) | (k[1:] != k[:-1])
    return pd.DataFrame({"customer_id": c[first], "date": d[first], "category": k[first]})


def _history(
    retailer: Retailer, as_of: dt.date, customers: CustomerFilter
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One query for baskets and category days (``optimizer.queries.history``), with each
    basket's categories packed as bitmasks."""
    params = base_params(retailer, as_of)
    where = customers.sql("t.customer_id", params)
    words = -(-_category_count(retailer) // CODES_PER_WORD)
    names = [*BASKET_COLUMNS, *(f"w{w}" for w in range(words))]
    dtypes = dict.fromkeys(names, "int64") | {"amount": "float64", "discount": "float64"}
    frame = query_frame(queries.history(words, where), retailer.pk, params, names, dtypes)
    customer_id = frame["customer_id"].to_numpy(dtype=np.int64)
    day = frame["date"].to_numpy(dtype=np.int64)
    categories = _unpack_categories(
        customer_id, day, frame[names[4:]].to_numpy(dtype=np.int64).reshape(len(frame), words)
    )
    categories["date"] = days_to_datetime(categories["date"])
    baskets = frame[BASKET_COLUMNS].copy()
    baskets["date"] = days_to_datetime(baskets["date"])
    return baskets, categories


def history_frames(
    *, retailer: Retailer, as_of: dt.date, customers: CustomerFilter = ALL_CUSTOMERS
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(baskets, category_days)`` before ``as_of``, both ordered by customer then date.

    ``baskets``: one row per transaction with lines: ``customer_id`` int64, ``date``
    datetime64[s] (local business date), ``amount`` and ``discount`` float64 summed over its
    lines (``amount`` is what was paid, negative for returns).

    ``category_days``: distinct ``customer_id`` int64, ``date`` datetime64[s], ``category``
    int32: the position of the product's category among the retailer's distinct non-blank
    categories (alphabetical). Products without a category are left out.
    """
    return _history(retailer, as_of, customers)


def baskets_frame(
    *, retailer: Retailer, as_of: dt.date, customers: CustomerFilter = ALL_CUSTOMERS
) -> pd.DataFrame:
    """The baskets of :func:`history_frames` alone."""
    return history_frames(retailer=retailer, as_of=as_of, customers=customers)[0]


def category_days_frame(
    *, retailer: Retailer, as_of: dt.date, customers: CustomerFilter = ALL_CUSTOMERS
) -> pd.DataFrame:
    """The category days of :func:`history_frames` alone."""
    return history_frames(retailer=retailer, as_of=as_of, customers=customers)[1]


def offers_frame(
    *, retailer: Retailer, as_of: dt.date, customers: CustomerFilter = ALL_CUSTOMERS
) -> pd.DataFrame:
    """Offers sent before ``as_of`` and their outcome as known then, ordered by customer and date.

    Columns: ``customer_id`` int64, ``bonus_type`` str (code), ``sent_on``, ``valid_until``,
    ``redeemed_on`` datetime64[s] (``redeemed_on`` NaT: not redeemed before ``as_of``).
    """
    params = base_params(retailer, as_of)
    query = queries.offers(customers.sql("o.customer_id", params))
    names = ["customer_id", "bonus_type", "sent_on", "valid_until", "redeemed_on"]
    dtypes = {
        "customer_id": "int64",
        "bonus_type": "str",
        "sent_on": "int64",
        "valid_until": "int64",
        "redeemed_on": "float64",
    }
    frame = query_frame(query, retailer.pk, params, names, dtypes)
    frame["customer_id"] = frame["customer_id"].astype(np.int64)
    frame["bonus_type"] = frame["bonus_type"].astype("str")
    for column in ("sent_on", "valid_until", "redeemed_on"):
        frame[column] = days_to_datetime(frame[column])
    return frame


def bonus_type_codes(*, retailer: Retailer) -> list[str]:
    """Codes of the retailer's whole bonus catalogue (active or not), sorted; product offers
    aside (priced per product by ``optimizer.services.offers``, not by a response model)."""
    types = BonusType.objects.for_retailer(retailer).exclude(kind=BonusKind.PRODUCT_OFFER)
    return sorted(types.values_list("code", flat=True))


def scoring_frames_read(
    *, retailer: Retailer, as_of: dt.date, customers: CustomerFilter = ALL_CUSTOMERS
) -> ScoringFrames:
    """Every input frame of the engine for the ``customers`` of ``retailer`` before ``as_of``."""
    baskets, category_days = history_frames(retailer=retailer, as_of=as_of, customers=customers)
    return ScoringFrames(
        customers=customers_frame(retailer=retailer, as_of=as_of, customers=customers),
        baskets=baskets,
        category_days=category_days,
        offers=offers_frame(retailer=retailer, as_of=as_of, customers=customers),
    )
