"""The optimizer's plain SQL statements, each scoped to one retailer by
:func:`loyalty_site.sql.retailer_sql`.

They read a retailer's history in bulk for the engines, aggregated in PostgreSQL and streamed
out with ``COPY`` (:func:`optimizer.frames.common.query_frame`); the frame modules turn the rows
into the engines' frames. Statements whose shape depends on the call (the customer filter of a
chunk, the number of category words, the target segments) are built by functions here; the
filter arrives as ``where``, an ``AND ...`` clause of named parameters
(:meth:`optimizer.frames.common.CustomerFilter.sql`).

Dates come back as days since 1970-01-01 (``x - DATE '1970-01-01'``), which
:func:`optimizer.frames.common.days_to_datetime` reads back; business dates are local to the
retailer's zone (``AT TIME ZONE %(tz)s``).
"""

# Only table names, SQL expressions written here and integers are formatted into the statements;
# every value is a named parameter.
# ruff: noqa: S608

from __future__ import annotations

from campaigns.models import Bonus, BonusState, BonusType, PastOffer, Redemption
from customers.models import Customer, Transaction, TransactionLine
from loyalty_site.sql import RetailerSQL, retailer_sql
from optimizer.models import CustomerScore
from retailers.models import Product, PromotionHistory, Store

#: Category codes packed per bigint word of the history query (bit 63 is the sign).
CODES_PER_WORD = 63

_TABLES = {
    "customer": Customer,
    "transaction": Transaction,
    "line": TransactionLine,
    "product": Product,
    "past_offer": PastOffer,
    "bonus": Bonus,
    "bonus_type": BonusType,
    "redemption": Redemption,
    "history": PromotionHistory,
    "score": CustomerScore,
    "store": Store,
}


def _scoped(template: str, where: str = "") -> RetailerSQL:
    return retailer_sql(template.replace("{where}", where), **_TABLES)


def _day(column: str) -> str:
    return f"({column} - DATE '1970-01-01')"


# --- Scoring: members, baskets, category days, offers ----------------------------------------


def member_ranges() -> RetailerSQL:
    """Members at ``%(as_of)s`` in runs of ``%(chunk_size)s`` consecutive ids:
    (first id, last id, count)."""
    return _scoped(
        "SELECT MIN(id), MAX(id), COUNT(*) FROM ("
        "SELECT id, (ROW_NUMBER() OVER (ORDER BY id) - 1) / %(chunk_size)s AS bucket "
        "FROM {customer} WHERE {retailer} AND enrolled_on < %(as_of)s) numbered "
        "GROUP BY bucket ORDER BY 1"
    )


def members(where: str) -> RetailerSQL:
    """Members enrolled before ``%(as_of)s``: (id, enrolment day), by id."""
    return _scoped(
        f"SELECT c.id, {_day('c.enrolled_on')} FROM {{customer}} c "
        "WHERE {retailer:c} AND c.enrolled_on < %(as_of)s{where} ORDER BY c.id",
        where,
    )


def _codes() -> str:
    """``codes``: the retailer's products with a non-blank category and that category's code,
    its position among the retailer's distinct non-blank categories (alphabetical). Numbered
    in the same statement as the history, so every chunk of a run codes alike."""
    return (
        "WITH codes AS (SELECT p.id, c.code FROM {product} p JOIN (SELECT category, "
        "(ROW_NUMBER() OVER (ORDER BY category) - 1)::int AS code "
        "FROM (SELECT DISTINCT category FROM {product} q "
        "WHERE {retailer:q} AND category <> '') d) c ON c.category = p.category "
        "WHERE {retailer:p}) "
    )


def history(words: int, where: str) -> RetailerSQL:
    """Baskets before ``%(cutoff)s`` with their local day and the basket's category codes
    packed in ``words`` bigints: (customer, day, amount, discount, w0, w1, ...).

    The chunk's transactions, each basket's lines through the line index (a chunk costs in
    proportion to its own baskets, however big the lines table), the lines joined to ``codes``
    as a set (hashed once for the statement) and one ``GROUP BY`` of the transaction. A
    transaction without lines has no row. The earlier per-transaction ``LATERAL`` aggregate
    joined ``codes`` inside it, and was planned as a re-scan of the materialised ``codes`` for
    every basket (3,030 products x 13,499 baskets for 2,000 customers, 19 times slower; issue
    18). The plans are checked by ``tests/optimizer/test_read_plans.py``.
    """
    packed = "".join(
        f", COALESCE(bit_or(CASE WHEN c.code / {CODES_PER_WORD} = {w} "
        f"THEN 1::int8 << (c.code %% {CODES_PER_WORD}) END), 0)"
        for w in range(words)
    )
    codes_join = " LEFT JOIN codes c ON c.id = l.product_id" if words else ""
    # OFFSET 0 keeps the lines a per-basket index scan (the subquery is not flattened into a
    # join the planner may turn into a scan of the whole lines table, every tenant's, for each
    # chunk); the category codes are hashed once for the statement.
    lines = "SELECT l.amount, l.discount, l.product_id FROM {line} l WHERE l.transaction_id = t.id"
    select = (
        'SELECT t.customer_id, ((t."timestamp" AT TIME ZONE %(tz)s)::date '
        "- DATE '1970-01-01'), "
        f"SUM(l.amount), SUM(l.discount){packed} "
        f"FROM {{transaction}} t CROSS JOIN LATERAL ({lines} OFFSET 0) l{codes_join} "
        """WHERE {retailer:t} AND t."timestamp" < %(cutoff)s{where} """
        'GROUP BY t.id ORDER BY t.customer_id, t."timestamp"'
    )
    return _scoped((_codes() if words else "") + select, where)


def _past_offers() -> str:
    """Imported offer history as (customer_id, bonus_type, sent, valid, redeemed)."""
    return (
        f"SELECT o.customer_id, bt.code, {_day('o.sent_on')}, {_day('o.valid_until')}, "
        f"CASE WHEN o.redeemed_on < %(as_of)s THEN {_day('o.redeemed_on')} END "
        "FROM {past_offer} o JOIN {bonus_type} bt ON bt.id = o.bonus_type_id "
        "WHERE {retailer:o} AND o.sent_on < %(as_of)s{where}"
    )


def _issued_bonuses() -> str:
    """Bonuses the platform issued, redeemed when their first use happened before ``as_of``.

    This closes the feedback loop: the redemptions of one campaign become the "response to
    previous rewards" of the next scoring run. Cancelled bonuses were never really offered.
    The first use is a join and one ``GROUP BY`` (not a sub-select run once per bonus).
    """
    return (
        f"SELECT o.customer_id, bt.code, {_day('o.valid_from')}, {_day('o.valid_to')}, "
        f"{_day('MIN((r.redeemed_at AT TIME ZONE %(tz)s)::date)')} "
        "FROM {bonus} o JOIN {bonus_type} bt ON bt.id = o.bonus_type_id "
        "LEFT JOIN {redemption} r ON r.bonus_id = o.id AND r.redeemed_at < %(cutoff)s "
        "WHERE {retailer:o} AND o.valid_from < %(as_of)s "
        f"AND o.state <> '{BonusState.CANCELLED.value}'{{where}} "
        "GROUP BY o.id, bt.code"
    )


#: Offer histories the response features learn from, as templates of the same five columns
#: (``{where}`` takes the customer filter on ``o.customer_id``): imported history and the
#: bonuses the platform issued itself.
OFFER_SOURCES = (_past_offers, _issued_bonuses)


def offers(where: str) -> RetailerSQL:
    """Every offer source's rows, by customer, sent day and bonus type."""
    union = " UNION ALL ".join(source() for source in OFFER_SOURCES)
    return _scoped(f"SELECT * FROM ({union}) offers ORDER BY 1, 3, 2", where)


# --- Weekly promotions -----------------------------------------------------------------------


def sales_weeks() -> RetailerSQL:
    """Units, revenue, discount and distinct buyers per product and local Monday week of the
    lines with a positive quantity in [``%(start)s``, ``%(cutoff)s``)."""
    week = """(date_trunc('week', t."timestamp" AT TIME ZONE %(tz)s)::date - DATE '1970-01-01')"""
    return _scoped(
        f"SELECT l.product_id, {week}, SUM(l.quantity::float8), SUM(l.amount::float8), "
        "SUM(ABS(l.discount::float8)), COUNT(DISTINCT t.customer_id) "
        "FROM {line} l JOIN {transaction} t ON t.id = l.transaction_id "
        "WHERE {retailer:t} AND {retailer:l} "
        """AND t."timestamp" >= %(start)s AND t."timestamp" < %(cutoff)s AND l.quantity > 0 """
        "GROUP BY 1, 2"
    )


def promotion_history() -> RetailerSQL:
    """``PromotionHistory`` of the weeks in [``%(since)s``, ``%(before)s``)."""
    return _scoped(
        f"SELECT product_id, {_day('week_start')}, display_stores, mailer_stores "
        "FROM {history} WHERE {retailer} AND week_start >= %(since)s AND week_start < %(before)s"
    )


def reach(segments: int | None) -> RetailerSQL:
    """Distinct buyers per product of the lines in [``%(start)s``, ``%(cutoff)s``); with
    ``segments``, only customers whose score of run ``%(run)s`` is in ``%(seg0)s``, ..."""
    join = ""
    if segments is not None:
        names = ", ".join(f"%(seg{n})s" for n in range(segments))
        join = (
            " JOIN {score} s ON s.customer_id = t.customer_id "
            f"AND s.run_id = %(run)s AND s.segment IN ({names})"
        )
    return _scoped(
        "SELECT l.product_id, COUNT(DISTINCT t.customer_id) "
        f"FROM {{line}} l JOIN {{transaction}} t ON t.id = l.transaction_id{join} "
        """WHERE {retailer:t} AND t."timestamp" >= %(start)s """
        """AND t."timestamp" < %(cutoff)s AND l.quantity > 0 GROUP BY 1"""
    )


def trading_days() -> RetailerSQL:
    """Distinct local days with a transaction in [``%(start)s``, ``%(cutoff)s``)."""
    day = """((t."timestamp" AT TIME ZONE %(tz)s)::date - DATE '1970-01-01')"""
    return _scoped(
        f"SELECT DISTINCT {day} FROM {{transaction}} t "
        """WHERE {retailer:t} AND t."timestamp" >= %(start)s AND t."timestamp" < %(cutoff)s"""
    )


# --- Allocation ------------------------------------------------------------------------------


def run_scores() -> RetailerSQL:
    """The scores of scoring run ``%(run)s`` with each customer's marketing consent."""
    return _scoped(
        "SELECT s.customer_id, s.segment, s.churn_probability, s.expected_visits, "
        "s.expected_spend, s.clv, s.recency_days, s.frequency_52w, s.avg_basket, "
        "c.marketing_consent "
        "FROM {score} s JOIN {customer} c ON c.id = s.customer_id "
        "WHERE s.run_id = %(run)s AND {retailer:s} ORDER BY s.customer_id"
    )


def run_home_stores() -> RetailerSQL:
    """Per customer of scoring run ``%(run)s``: the store (external id and region) of most of
    their baskets in [``%(start)s``, ``%(cutoff)s``); ties go to the latest visit, then the
    lowest store id. Customers without a basket at a store in the window have no row."""
    return _scoped(
        "SELECT DISTINCT ON (t.customer_id) t.customer_id, st.external_id, st.region "
        "FROM {transaction} t JOIN {store} st ON st.id = t.store_id "
        "WHERE {retailer:t} AND {retailer:st} "
        """AND t."timestamp" >= %(start)s AND t."timestamp" < %(cutoff)s """
        "AND t.customer_id IN (SELECT s.customer_id FROM {score} s "
        "WHERE s.run_id = %(run)s AND {retailer:s}) "
        "GROUP BY t.customer_id, st.id, st.external_id, st.region "
        """ORDER BY t.customer_id, COUNT(*) DESC, MAX(t."timestamp") DESC, st.id"""
    )


def run_email_addresses() -> RetailerSQL:
    """Per customer of scoring run ``%(run)s``: whether they have an e-mail address."""
    return _scoped(
        "SELECT s.customer_id, c.email <> '' "
        "FROM {score} s JOIN {customer} c ON c.id = s.customer_id "
        "WHERE s.run_id = %(run)s AND {retailer:s}"
    )


def run_responses() -> RetailerSQL:
    """Scoring run ``%(run)s``'s response probabilities, one row per customer and bonus type."""
    return _scoped(
        "SELECT s.customer_id, j.key, j.value "
        "FROM {score} s, jsonb_each_text(s.responses) j WHERE s.run_id = %(run)s AND {retailer:s}"
    )


# --- Recommendations --------------------------------------------------------------------------


def product_history(where: str) -> RetailerSQL:
    """Per (customer, product) with a positive line in [``%(start)s``, ``%(cutoff)s``): distinct
    local purchase days, first and last local day (days since 1970-01-01)."""
    day = """((t."timestamp" AT TIME ZONE %(tz)s)::date - DATE '1970-01-01')"""
    return _scoped(
        f"SELECT t.customer_id, l.product_id, COUNT(DISTINCT {day}), MIN({day}), MAX({day}) "
        "FROM {line} l JOIN {transaction} t ON t.id = l.transaction_id "
        "WHERE {retailer:t} AND {retailer:l} "
        """AND t."timestamp" >= %(start)s AND t."timestamp" < %(cutoff)s AND l.quantity > 0"""
        "{where} GROUP BY 1, 2",
        where,
    )


def recommend_products() -> RetailerSQL:
    """Every product with its name, category and unit margin (price - unit cost)."""
    return _scoped(
        "SELECT id, name, category, (price - unit_cost)::float8 FROM {product} WHERE {retailer} "
        "ORDER BY id"
    )


def member_segments(where: str) -> RetailerSQL:
    """Members at ``%(as_of)s`` with their segment in scoring run ``%(run)s`` ('' if none)."""
    return _scoped(
        "SELECT c.id, COALESCE(s.segment, '') FROM {customer} c "
        "LEFT JOIN {score} s ON s.customer_id = c.id AND s.run_id = %(run)s "
        "WHERE {retailer:c} AND c.enrolled_on < %(as_of)s{where} ORDER BY c.id",
        where,
    )
