"""The campaigns app's plain SQL statements, each scoped to one retailer by
:func:`loyalty_site.sql.retailer_sql`.

They serve the tills (lookup, redemption, idempotent answers), which call at the rate of a
national chain's checkouts: plain statements, sent as prepared statements through
:func:`loyalty_site.hot_sql.hot_cursor`, cost a fraction of the ORM's query compilation. Their
callers: :mod:`campaigns.services.redemption`, :mod:`campaigns.api.queries`,
:mod:`campaigns.api.idempotency`.
"""

from __future__ import annotations

from campaigns.models import Bonus, BonusType, Campaign, IdempotencyRecord, Redemption
from customers.models import Customer, PointsEntry
from loyalty_site.sql import retailer_sql
from retailers.models import Product
from retailers.webhook_models import WebhookEndpoint

_TABLES = {
    "endpoint": WebhookEndpoint,
    "bonus": Bonus,
    "bonus_type": BonusType,
    "campaign": Campaign,
    "customer": Customer,
    "redemption": Redemption,
    "product": Product,
}

# --- Redemption (campaigns.services.redemption; steps as in its module docstring) ------------

#: Step 0: the bonus with its type and customer (no lock).
BONUS_FIND = retailer_sql(
    """
SELECT b.id, b.campaign_id, b.code, b.value, b.redemption_cost,
       b.valid_from, b.valid_to, b.state, b.max_uses, t.kind, c.external_id
FROM {bonus} b JOIN {bonus_type} t ON t.id = b.bonus_type_id
JOIN {customer} c ON c.id = b.customer_id
WHERE {retailer:b} AND b.code = %(code)s
""",
    **_TABLES,
)

#: Step 1: take one use (the row lock serialises the uses of one bonus); no row: none left.
BONUS_TAKE_USE = retailer_sql(
    """
UPDATE {bonus}
SET uses = uses + 1,
    state = CASE WHEN uses + 1 >= max_uses THEN %(redeemed)s ELSE state END,
    state_changed_at = %(now)s
WHERE id = %(bonus_id)s AND {retailer} AND state = %(issued)s AND uses < max_uses
RETURNING uses
""",
    **_TABLES,
)

#: Steps 1-3 in one statement, for a bonus whose cost is its fixed ``redemption_cost`` and that
#: is not a product offer (whose basket is checked first, step 0); its last column says whether
#: an active webhook endpoint wants the redemption (``event_types``: the JSON list of that one
#: type), so the common case, nobody subscribed, needs no query of its own.
BONUS_TAKE_RECORD_BOOK = retailer_sql(
    """
WITH take AS (
    UPDATE {bonus} b
    SET uses = b.uses + 1,
        state = CASE WHEN b.uses + 1 >= b.max_uses THEN %(redeemed)s ELSE b.state END,
        state_changed_at = %(now)s
    FROM {bonus_type} t, {customer} c
    WHERE {retailer:b} AND b.code = %(code)s
      AND t.id = b.bonus_type_id AND c.id = b.customer_id AND t.kind <> %(multiplier)s
      AND b.product_id IS NULL
      AND b.state = %(issued)s AND b.uses < b.max_uses
      AND b.valid_from <= %(today)s AND b.valid_to >= %(today)s
    RETURNING b.id, b.campaign_id, b.code, b.value, b.redemption_cost, b.uses, b.max_uses,
              t.kind, c.external_id
), record AS (
    INSERT INTO {redemption}
        (retailer_id, bonus_id, use_no, cost, basket_amount, store_id, api_token_id, redeemed_at)
    SELECT {retailer_id}, id, uses, redemption_cost, %(basket)s, %(store_id)s,
           %(api_token_id)s, %(now)s
    FROM take
    RETURNING id
), book AS (
    UPDATE {campaign} ca SET spent = ca.spent + take.redemption_cost
    FROM take
    WHERE ca.id = take.campaign_id AND {retailer:ca} AND take.redemption_cost > 0
      AND ca.spent <= ca.spend_limit - take.redemption_cost
    RETURNING ca.id
)
SELECT take.*, record.id, take.redemption_cost <= 0 OR EXISTS (SELECT FROM book),
       EXISTS (SELECT FROM {endpoint} e WHERE {retailer:e} AND e.is_active
               AND e.event_types @> %(event_types)s::jsonb)
FROM take, record
""",
    **_TABLES,
)

#: A product offer's product (no row: the bonus is not a product offer).
BONUS_PRODUCT = retailer_sql(
    """
SELECT p.sku, p.name FROM {bonus} b JOIN {product} p ON p.id = b.product_id
WHERE b.id = %(bonus_id)s AND {retailer:b}
""",
    **_TABLES,
)

#: Why a use could not be taken: the bonus's state now.
BONUS_STATE = retailer_sql(
    "SELECT state, valid_to FROM {bonus} WHERE id = %(bonus_id)s AND {retailer}", **_TABLES
)

#: Step 2: the redemption row.
REDEMPTION_RECORD = retailer_sql(
    """
INSERT INTO {redemption}
    (retailer_id, bonus_id, use_no, cost, basket_amount, store_id, api_token_id, redeemed_at)
VALUES ({retailer_id}, %(bonus_id)s, %(use_no)s, %(cost)s, %(basket)s, %(store_id)s,
        %(api_token_id)s, %(now)s)
RETURNING id
""",
    **_TABLES,
)

#: Step 3: book the cost on the campaign (no row: the spend limit cannot cover it).
CAMPAIGN_BOOK = retailer_sql(
    """
UPDATE {campaign} SET spent = spent + %(cost)s
WHERE id = %(campaign_id)s AND {retailer} AND spent <= spend_limit - %(cost)s
""",
    **_TABLES,
)

# --- The till's customer lookup (campaigns.api.queries) --------------------------------------

#: The customer with, in one row, their bonuses issued and valid on ``today`` or later (soonest
#: expiry first) and their points ledger in order, each a JSON array of arrays (money as text, so
#: no float ever holds it; dates as ISO strings): one round trip per lookup.
CUSTOMER_SNAPSHOT = retailer_sql(
    """
SELECT c.id,
       (SELECT json_agg(json_build_array(b.code, t.code, t.name, t.kind, b.value::text,
                                         b.points, b.valid_from, b.valid_to, b.state, b.uses,
                                         b.max_uses)
                        ORDER BY b.valid_to, b.id)
        FROM {bonus} b JOIN {bonus_type} t ON t.id = b.bonus_type_id
        WHERE b.customer_id = c.id AND {retailer:b}
          AND b.state = %(issued)s AND b.valid_to >= %(today)s),
       (SELECT json_agg(json_build_array(p.seq, p.points, p.expires_on, p.balance_after)
                        ORDER BY p.seq)
        FROM {ledger} p
        WHERE p.customer_id = c.id AND {retailer:p})
FROM {customer} c
WHERE {retailer:c} AND c.external_id = %(external_id)s
""",
    ledger=PointsEntry,
    **_TABLES,
)

# --- Idempotent answers (campaigns.api.idempotency) ------------------------------------------

#: Store a key's answer unless another request holds the key (then no row).
IDEMPOTENCY_CLAIM = retailer_sql(
    """
INSERT INTO {record}
    (retailer_id, endpoint, "key", request_hash, status_code, response_body, created_at)
VALUES ({retailer_id}, %(endpoint)s, %(key)s, %(hash)s, %(status)s, %(body)s, %(now)s)
ON CONFLICT (retailer_id, endpoint, "key") DO NOTHING
RETURNING id
""",
    record=IdempotencyRecord,
)
