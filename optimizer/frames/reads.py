"""Readers of a retailer's history before ``as_of`` into the engine's input frames."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import numpy as np
import pandas as pd
from django.db import connection

from campaigns.models import Bonus, BonusState, BonusType, PastOffer, Redemption
from customers.models import Customer, Transaction, TransactionLine
from optimizer.frames.common import (
    ALL_CUSTOMERS,
    CustomerFilter,
    ScoringFrames,
    base_params,
    days_to_datetime,
    query_frame,
    table,
)
from retailers.models import Product, Retailer

#: Category codes packed per bigint word of the history query (bit 63 is the sign).
CODES_PER_WORD = 63
BASKET_COLUMNS = ["customer_id", "date", "amount", "discount"]
CATEGORY_COLUMNS = ["customer_id", "date", "category"]


def customers_frame(
    *, retailer: Retailer, as_of: dt.date, customers: CustomerFilter = ALL_CUSTOMERS
) -> pd.DataFrame:
    """Members at ``as_of``: ``customer_id`` int64 (sorted), ``enrolled_on`` datetime64[s].

    A member enrolled before ``as_of``; later enrolments are not scored in this run.
    """
    params = base_params(retailer, as_of)
    where = customers.sql("c.id", params)
    sql = (
        f"SELECT c.id, c.enrolled_on - DATE '1970-01-01' FROM {table(Customer)} c "  # noqa: S608
        f"WHERE c.retailer_id = %(retailer)s AND c.enrolled_on < %(as_of)s{where} ORDER BY c.id"
    )
    frame = query_frame(sql, params, ["customer_id", "enrolled_on"], {"customer_id": "int64"})
    frame["customer_id"] = frame["customer_id"].astype(np.int64)
    frame["enrolled_on"] = days_to_datetime(frame["enrolled_on"])
    return frame


def _category_count(retailer: Retailer) -> int:
    products = Product.objects.for_retailer(retailer).exclude(category="")
    return products.values("category").distinct().count()


def _codes_cte() -> str:
    """``codes(id, code)``: the retailer's products and the alphabetical position of their
    non-blank category, computed in the same query so every chunk of a run codes alike."""
    products = table(Product)
    return (
        "WITH codes AS MATERIALIZED (SELECT p.id, c.code FROM "  # noqa: S608
        f"{products} p JOIN (SELECT category, "
        "(ROW_NUMBER() OVER (ORDER BY category) - 1)::int AS code "
        f"FROM (SELECT DISTINCT category FROM {products} "
        "WHERE retailer_id = %(retailer)s AND category <> '') d) c ON c.category = p.category "
        "WHERE p.retailer_id = %(retailer)s) "
    )


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
    """One query for baskets and category days: for each transaction, a lateral aggregate over
    its lines (found through their transaction index, so a chunk costs in proportion to its own
    baskets, not to the whole table) with the basket's categories packed as bitmasks."""
    params = base_params(retailer, as_of)
    where = customers.sql("t.customer_id", params)
    words = -(-_category_count(retailer) // CODES_PER_WORD)
    ts = connection.ops.quote_name("timestamp")
    packed = "".join(
        f", COALESCE(bit_or(CASE WHEN c.code / {CODES_PER_WORD} = {w} "
        f"THEN 1::int8 << (c.code %% {CODES_PER_WORD}) END), 0) AS w{w}"
        for w in range(words)
    )
    # Only quoted table names and integers are formatted in; values are query parameters.
    lateral = (
        f"SELECT SUM(l.amount) AS amount, SUM(l.discount) AS discount, COUNT(*) AS n{packed} "  # noqa: S608
        f"FROM {table(TransactionLine)} l"
        + (" LEFT JOIN codes c ON c.id = l.product_id" if words else "")
        + " WHERE l.transaction_id = t.id"
    )
    columns = "".join(f", x.w{w}" for w in range(words))
    select = (
        f"SELECT t.customer_id, ((t.{ts} AT TIME ZONE %(tz)s)::date - DATE '1970-01-01'), "  # noqa: S608
        f"x.amount, x.discount{columns} FROM {table(Transaction)} t "
        f"CROSS JOIN LATERAL ({lateral}) x "
        f"WHERE t.retailer_id = %(retailer)s AND t.{ts} < %(cutoff)s{where} AND x.n > 0 "
        f"ORDER BY t.customer_id, t.{ts}"
    )
    sql = (_codes_cte() if words else "") + select
    names = [*BASKET_COLUMNS, *(f"w{w}" for w in range(words))]
    dtypes = dict.fromkeys(names, "int64") | {"amount": "float64", "discount": "float64"}
    frame = query_frame(sql, params, names, dtypes)
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


def _day(column: str) -> str:
    """A date column as days since 1970-01-01 (what ``days_to_datetime`` reads back)."""
    return f"({column} - DATE '1970-01-01')"


def _past_offers_sql() -> str:
    """Imported offer history as (customer_id, bonus_type, sent, valid, redeemed)."""
    day = _day
    return (
        f"SELECT o.customer_id, bt.code, {day('o.sent_on')}, {day('o.valid_until')}, "  # noqa: S608
        f"CASE WHEN o.redeemed_on < %(as_of)s THEN {day('o.redeemed_on')} END "
        f"FROM {table(PastOffer)} o JOIN {table(BonusType)} bt ON bt.id = o.bonus_type_id "
        "WHERE o.retailer_id = %(retailer)s AND o.sent_on < %(as_of)s{where}"
    )


def _issued_bonuses_sql() -> str:
    """Bonuses the platform issued, redeemed when their first use happened before ``as_of``.

    This closes the feedback loop: the redemptions of one campaign become the "response to
    previous rewards" of the next scoring run. Cancelled bonuses were never really offered.
    """

    day = _day
    used_on = "(r.redeemed_at AT TIME ZONE %(tz)s)::date"
    first_use = (
        f"(SELECT MIN({used_on}) FROM {table(Redemption)} r "  # noqa: S608
        "WHERE r.bonus_id = o.id AND r.redeemed_at < %(cutoff)s)"
    )
    return (
        f"SELECT o.customer_id, bt.code, {day('o.valid_from')}, {day('o.valid_to')}, "  # noqa: S608
        f"{day(first_use)} "
        f"FROM {table(Bonus)} o JOIN {table(BonusType)} bt ON bt.id = o.bonus_type_id "
        "WHERE o.retailer_id = %(retailer)s AND o.valid_from < %(as_of)s "
        f"AND o.state <> '{BonusState.CANCELLED.value}'{{where}}"
    )


#: Offer histories the response features learn from, as SQL builders of the same five columns
#: (``{where}`` takes the customer filter on ``o.customer_id``): imported history and the
#: bonuses the platform issued itself.
OFFER_SOURCES: tuple[Callable[[], str], ...] = (_past_offers_sql, _issued_bonuses_sql)


def offers_frame(
    *, retailer: Retailer, as_of: dt.date, customers: CustomerFilter = ALL_CUSTOMERS
) -> pd.DataFrame:
    """Offers sent before ``as_of`` and their outcome as known then, ordered by customer and date.

    Columns: ``customer_id`` int64, ``bonus_type`` str (code), ``sent_on``, ``valid_until``,
    ``redeemed_on`` datetime64[s] (``redeemed_on`` NaT: not redeemed before ``as_of``).
    """
    params = base_params(retailer, as_of)
    where = customers.sql("o.customer_id", params)
    union = " UNION ALL ".join(source().replace("{where}", where) for source in OFFER_SOURCES)
    sql = f"SELECT * FROM ({union}) offers ORDER BY 1, 3, 2"  # noqa: S608
    names = ["customer_id", "bonus_type", "sent_on", "valid_until", "redeemed_on"]
    dtypes = {
        "customer_id": "int64",
        "bonus_type": "str",
        "sent_on": "int64",
        "valid_until": "int64",
        "redeemed_on": "float64",
    }
    frame = query_frame(sql, params, names, dtypes)
    frame["customer_id"] = frame["customer_id"].astype(np.int64)
    frame["bonus_type"] = frame["bonus_type"].astype("str")
    for column in ("sent_on", "valid_until", "redeemed_on"):
        frame[column] = days_to_datetime(frame[column])
    return frame


def bonus_type_codes(*, retailer: Retailer) -> list[str]:
    """Codes of the retailer's whole bonus catalogue (active or not), sorted."""
    return sorted(BonusType.objects.for_retailer(retailer).values_list("code", flat=True))


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
