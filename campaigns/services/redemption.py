"""Redemption of a bonus at the till, and the daily expiry of bonuses.

One transaction does, in this order (the same lock order everywhere, so no deadlock):
    0. read the bonus with its type and customer (no lock) and check its dates; a product offer
       also needs its product among the basket's lines (its product never changes, so no lock);
    1. ``UPDATE bonus SET uses = uses + 1 WHERE id = .. AND state = 'issued' AND uses < max_uses
       RETURNING uses`` (no row: already redeemed, or cancelled meanwhile) - the row lock
       serialises the redemptions of one bonus;
    2. the ``Redemption`` row (unique ``(bonus, use_no)``) and, for a points multiplier, the ledger
       credit (customer row lock);
    3. ``UPDATE campaign SET spent = spent + cost WHERE id = .. AND spent + cost <= spend_limit``
       (0 rows: budget exhausted) - the row lock serialises the spend of one campaign, so it comes
       last and is held only until the commit, after the caller's own last write (the API stores
       its answer to the till).
Any refusal raises, which rolls the whole transaction back. The check constraints
``uses <= max_uses`` and ``spent <= spend_limit`` are the backstop.

Tills redeem at the rate of a national chain's checkouts, so these are plain SQL statements
(``campaigns.queries``, each scoped to the retailer) rather than ORM queries, whose compilation cost
more CPU than the database work itself. Steps 1-3 are a single statement for every bonus whose cost
is its fixed ``redemption_cost`` (all kinds but the points multiplier) and that is not a product
offer; step 0 is then only needed to say why a redemption was refused.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Collection
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

# Re-exported: callers import the redemption errors from here as well as from campaigns.exceptions.
from campaigns.exceptions import (  # noqa: F401
    AlreadyRedeemed,
    BonusCancelled,
    BonusExpired,
    BonusNotFound,
    BonusNotYetValid,
    BudgetExhausted,
    ProductNotInBasket,
    RedemptionError,
)
from campaigns.models import Bonus, BonusKind, BonusState
from campaigns.queries import (
    BONUS_FIND,
    BONUS_PRODUCT,
    BONUS_STATE,
    BONUS_TAKE_RECORD_BOOK,
    BONUS_TAKE_USE,
    CAMPAIGN_BOOK,
    REDEMPTION_RECORD,
)
from campaigns.services.events import bonus_redeemed_emit, bonuses_expired_emit
from customers.services.points import points_bonus_credit, retailer_today
from loyalty_site.hot_sql import hot_cursor
from loyalty_site.money import ZERO, quantize
from retailers.models import Retailer
from retailers.webhook_models import WebhookEventType


@dataclass(frozen=True)
class Redeemed:
    """One use of a bonus, as the till is told about it."""

    redemption_id: int
    bonus_id: int
    code: str
    customer_external_id: str
    kind: str
    value: Decimal
    use_no: int
    max_uses: int
    cost: Decimal
    redeemed_at: dt.datetime


@dataclass(frozen=True)
class _Found:
    id: int
    campaign_id: int
    code: str
    value: Decimal
    redemption_cost: Decimal
    valid_from: dt.date
    valid_to: dt.date
    state: str
    max_uses: int
    kind: str
    customer_external_id: str


def _find(cursor: Any, retailer: Retailer, code: str) -> _Found | None:
    cursor.execute(BONUS_FIND.text, BONUS_FIND.params(retailer.pk, code=code))
    row = cursor.fetchone()
    if row is None:
        return None
    found = _Found(*row)
    return replace(
        found,
        value=quantize(found.value),
        redemption_cost=quantize(found.redemption_cost),
        valid_from=found.valid_from,
        valid_to=found.valid_to,
    )


def _check_dates(
    code: str, state: str, valid_from: dt.date, valid_to: dt.date, today: dt.date
) -> None:
    if state == BonusState.CANCELLED:
        raise BonusCancelled(f"Bonus {code} was cancelled.")
    if state == BonusState.EXPIRED or today > valid_to:
        raise BonusExpired(f"Bonus {code} expired on {valid_to}.")
    if today < valid_from:
        raise BonusNotYetValid(f"Bonus {code} is valid from {valid_from}.")


def _check_basket(cursor: Any, use: _Use, bonus: _Found) -> None:
    """A product offer needs its product among the basket's lines (the only product-offer step)."""
    cursor.execute(BONUS_PRODUCT.text, BONUS_PRODUCT.params(use.retailer.pk, bonus_id=bonus.id))
    row = cursor.fetchone()
    if row is not None and row[0] not in use.basket_skus:
        sku, name = row
        raise ProductNotInBasket(
            f"Bonus {bonus.code} is an offer on product {sku} ({name}): the basket has no line "
            f"with SKU {sku}."
        )


def _multiplier_points(bonus: _Found, retailer: Retailer, basket: Decimal | None) -> int:
    if bonus.kind != BonusKind.POINTS_MULTIPLIER or not basket or basket <= 0:
        return 0
    extra = max(bonus.value - 1, ZERO)
    return math.floor(basket * retailer.points_per_currency_unit * extra)


@dataclass(frozen=True)
class _Use:
    """One redemption request, as the statements need it."""

    retailer: Retailer
    code: str
    today: dt.date
    now: dt.datetime
    basket_amount: Decimal | None
    store_id: int | None
    api_token_id: int | None
    basket_skus: frozenset[str] = frozenset()

    @property
    def stamp(self) -> Any:
        return connection.ops.adapt_datetimefield_value(self.now)


#: The JSON list the one-statement path matches webhook endpoints' ``event_types`` against.
_REDEEMED_EVENT_TYPES = json.dumps([WebhookEventType.BONUS_REDEEMED.value])


def _take_at_once(cursor: Any, use: _Use) -> tuple[Redeemed, bool] | None:
    """Take the use, record it and book its cost in one statement, or ``None``.

    Covers the common case, a bonus still issued and valid today whose cost is its fixed
    ``redemption_cost`` (every kind but the points multiplier). ``None`` (no row) leaves it to
    :func:`_take`, which handles the multiplier and tells the till why a refusal is one. With
    the use comes whether a webhook endpoint of the retailer wants ``bonus.redeemed``.

    Raises:
        BudgetExhausted: the campaign's spend limit cannot cover this use (the caller's
            transaction must roll back the use taken).
    """
    query = BONUS_TAKE_RECORD_BOOK
    cursor.execute(
        query.text,
        query.params(
            use.retailer.pk,
            redeemed=BonusState.REDEEMED.value,
            now=use.stamp,
            code=use.code,
            multiplier=BonusKind.POINTS_MULTIPLIER.value,
            issued=BonusState.ISSUED.value,
            today=use.today,
            basket=use.basket_amount,
            store_id=use.store_id,
            api_token_id=use.api_token_id,
            event_types=_REDEEMED_EVENT_TYPES,
        ),
    )
    row = cursor.fetchone()
    if row is None:
        return None
    bonus_id, _, code, value, cost, use_no, max_uses, kind, external_id, rid, booked, hook = row
    if not booked:
        raise BudgetExhausted("The campaign's spend limit is reached.")
    redeemed = Redeemed(
        redemption_id=rid,
        bonus_id=bonus_id,
        code=code,
        customer_external_id=external_id,
        kind=kind,
        value=quantize(value),
        use_no=use_no,
        max_uses=max_uses,
        cost=quantize(cost),
        redeemed_at=use.now,
    )
    return redeemed, hook


def _take(cursor: Any, use: _Use) -> Redeemed:
    """Any backend, any bonus: read, check, take the use, record it, book its cost (steps 0-3),
    or raise."""
    retailer = use.retailer
    bonus = _find(cursor, retailer, use.code)
    if bonus is None:
        raise BonusNotFound("No bonus with this code.")
    _check_dates(bonus.code, bonus.state, bonus.valid_from, bonus.valid_to, use.today)
    _check_basket(cursor, use, bonus)
    extra_points = _multiplier_points(bonus, retailer, use.basket_amount)
    cost = quantize(extra_points * retailer.point_value) if extra_points else bonus.redemption_cost
    take = BONUS_TAKE_USE.params(
        retailer.pk,
        redeemed=BonusState.REDEEMED.value,
        now=use.stamp,
        bonus_id=bonus.id,
        issued=BonusState.ISSUED.value,
    )
    cursor.execute(BONUS_TAKE_USE.text, take)
    taken = cursor.fetchone()
    if taken is None:
        # Lost to another use, or cancelled/expired since it was read: tell which.
        cursor.execute(BONUS_STATE.text, BONUS_STATE.params(retailer.pk, bonus_id=bonus.id))
        state, valid_to = cursor.fetchone()
        _check_dates(bonus.code, state, bonus.valid_from, valid_to, use.today)
        raise AlreadyRedeemed(f"Bonus {bonus.code} has already been redeemed.")
    use_no = taken[0]
    record = REDEMPTION_RECORD.params(
        retailer.pk,
        bonus_id=bonus.id,
        use_no=use_no,
        cost=cost,
        basket=use.basket_amount,
        store_id=use.store_id,
        api_token_id=use.api_token_id,
        now=use.stamp,
    )
    cursor.execute(REDEMPTION_RECORD.text, record)
    redemption_id = cursor.fetchone()[0]
    if extra_points:
        points_bonus_credit(bonus=Bonus.objects.get(pk=bonus.id), points=extra_points)
    # Last, so the campaign row (shared by every redemption of the campaign) is locked for as
    # short a time as possible: from here to the commit.
    if cost > 0:
        book = CAMPAIGN_BOOK.params(retailer.pk, cost=cost, campaign_id=bonus.campaign_id)
        cursor.execute(CAMPAIGN_BOOK.text, book)
        if cursor.rowcount == 0:
            raise BudgetExhausted("The campaign's spend limit is reached.")
    return Redeemed(
        redemption_id=redemption_id,
        bonus_id=bonus.id,
        code=bonus.code,
        customer_external_id=bonus.customer_external_id,
        kind=bonus.kind,
        value=bonus.value,
        use_no=use_no,
        max_uses=bonus.max_uses,
        cost=cost,
        redeemed_at=use.now,
    )


@transaction.atomic(savepoint=False)
def bonus_redeem(
    *,
    retailer: Retailer,
    code: str,
    basket_amount: Decimal | None = None,
    store: Any = None,
    api_token: Any = None,
    now: dt.datetime | None = None,
    basket_skus: Collection[str] = (),
) -> Redeemed:
    """Redeem the bonus ``code`` of ``retailer`` once.

    The till calls this on every redemption, so it runs plain SQL statements (see the module
    docstring) instead of ORM queries: one in the common case. Any refusal raises
    and the caller's transaction must roll back (no savepoint is taken: a refusal after the use
    was taken must undo it). The campaign's row stays locked until the commit: the caller should
    write what it still has to (the API stores its answer to the till) and commit promptly.

    Raises:
        BonusNotFound: no such code at this retailer (another retailer's code included).
        BonusExpired / BonusNotYetValid / BonusCancelled: outside its validity.
        AlreadyRedeemed: every allowed use is taken.
        BudgetExhausted: the campaign's spend limit cannot cover this use.
        ProductNotInBasket: a product offer, and ``basket_skus`` (the SKUs of the basket's
            lines) lacks its product.
    """
    now = now or timezone.now()
    use = _Use(
        retailer=retailer,
        code=code.strip().upper(),
        today=retailer_today(retailer, now),
        now=now,
        basket_amount=basket_amount,
        store_id=getattr(store, "pk", None),
        api_token_id=getattr(api_token, "pk", None),
        basket_skus=frozenset(basket_skus),
    )
    with hot_cursor() as cursor:
        taken = _take_at_once(cursor, use)
        redeemed, subscribed = taken if taken else (_take(cursor, use), True)
    if subscribed:  # True on the slow path: event_emit looks the endpoints up itself
        bonus_redeemed_emit(retailer.pk, redeemed)
    return redeemed


@transaction.atomic
def bonuses_expire_due(*, now: dt.datetime | None = None) -> int:
    """issued -> expired for every bonus past its ``valid_to`` (the daily schedule).

    Compares with the latest business date of any time zone (UTC-12) so that no bonus expires
    before its last valid day has ended for its retailer. Returns the number of bonuses expired.
    """
    now = now or timezone.now()
    earliest_today = (now - dt.timedelta(hours=12)).date()
    expired = Bonus.objects.filter(state=BonusState.ISSUED, valid_to__lt=earliest_today).update(
        state=BonusState.EXPIRED, state_changed_at=now
    )
    bonuses_expired_emit(now=now)
    return expired
