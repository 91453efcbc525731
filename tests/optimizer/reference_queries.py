"""The history statement as it was before issue 18, kept as the reference the set-based one
must match row for row (``test_read_plans.py``) and as the "before" of ``bench/scoring.py
--reads lateral``: a per-transaction ``LATERAL`` aggregate over the lines, joined to a
materialised ``codes`` CTE (planned as a re-scan of the CTE for every basket)."""

# Only integers and our own SQL are formatted into the statements.
# ruff: noqa: S608

from __future__ import annotations

from loyalty_site.sql import RetailerSQL
from optimizer.queries import CODES_PER_WORD, _scoped


def history_lateral(words: int, where: str) -> RetailerSQL:
    """Same columns and order as :func:`optimizer.queries.history`."""
    codes = (
        "WITH codes AS MATERIALIZED (SELECT p.id, c.code FROM {product} p JOIN (SELECT category, "
        "(ROW_NUMBER() OVER (ORDER BY category) - 1)::int AS code "
        "FROM (SELECT DISTINCT category FROM {product} q "
        "WHERE {retailer:q} AND category <> '') d) c ON c.category = p.category "
        "WHERE {retailer:p}) "
    )
    packed = "".join(
        f", COALESCE(bit_or(CASE WHEN c.code / {CODES_PER_WORD} = {w} "
        f"THEN 1::int8 << (c.code %% {CODES_PER_WORD}) END), 0) AS w{w}"
        for w in range(words)
    )
    lateral = (
        f"SELECT SUM(l.amount) AS amount, SUM(l.discount) AS discount, COUNT(*) AS n{packed} "
        "FROM {line} l"
        + (" LEFT JOIN codes c ON c.id = l.product_id" if words else "")
        + " WHERE l.transaction_id = t.id"
    )
    columns = "".join(f", x.w{w}" for w in range(words))
    select = (
        'SELECT t.customer_id, ((t."timestamp" AT TIME ZONE %(tz)s)::date '
        "- DATE '1970-01-01'), "
        f"x.amount, x.discount{columns} FROM {{transaction}} t "
        f"CROSS JOIN LATERAL ({lateral}) x "
        """WHERE {retailer:t} AND t."timestamp" < %(cutoff)s{where} AND x.n > 0 """
        'ORDER BY t.customer_id, t."timestamp"'
    )
    return _scoped((codes if words else "") + select, where)


def issued_bonuses_subselect() -> str:
    """The issued-bonus offer source before issue 18: a correlated sub-select per bonus."""
    day = "(({}) - DATE '1970-01-01')".format
    first_use = (
        "(SELECT MIN((r.redeemed_at AT TIME ZONE %(tz)s)::date) FROM {redemption} r "
        "WHERE r.bonus_id = o.id AND r.redeemed_at < %(cutoff)s)"
    )
    return (
        f"SELECT o.customer_id, bt.code, {day('o.valid_from')}, {day('o.valid_to')}, "
        f"{day(first_use)} "
        "FROM {bonus} o JOIN {bonus_type} bt ON bt.id = o.bonus_type_id "
        "WHERE {retailer:o} AND o.valid_from < %(as_of)s "
        "AND o.state <> 'cancelled'{where}"
    )
