"""Redemption of a bonus at the till, and the daily expiry of bonuses.

One transaction does, in this order (the same lock order everywhere, so no deadlock):
    1. ``UPDATE bonus SET uses = uses + 1 WHERE id = .. AND uses < max_uses`` (0 rows: already
       redeemed) - the row lock serialises the redemptions of one bonus;
    2. the ``Redemption`` row (unique ``(bonus, use_no)``) and, for a points multiplier, the ledger
       credit (customer row lock);
    3. ``UPDATE campaign SET spent = spent + cost WHERE id = .. AND spent + cost <= spend_limit``
       (0 rows: budget exhausted) - the row lock serialises the spend of one campaign, so it comes
       last and is held only until the commit.
Any refusal raises, which rolls the whole transaction back. The check constraints
``uses <= max_uses`` and ``spent <= spend_limit`` are the backstop.
"""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Case, F, Value, When
from django.utils import timezone

from campaigns.exceptions import CampaignError
from campaigns.models import Bonus, BonusKind, BonusState, Campaign, Redemption
from customers.services.points import points_bonus_credit, retailer_today
from loyalty_site.money import ZERO, quantize
from retailers.models import Retailer


class RedemptionError(CampaignError):
    """A bonus cannot be redeemed; ``api_status`` and ``api_code`` tell the till why."""

    api_status = 409
    api_code = "not_redeemable"


class BonusNotFound(RedemptionError):
    api_status = 404
    api_code = "not_found"


class AlreadyRedeemed(RedemptionError):
    api_code = "already_redeemed"


class BonusExpired(RedemptionError):
    api_status = 410
    api_code = "expired"


class BonusNotYetValid(RedemptionError):
    api_code = "not_yet_valid"


class BonusCancelled(RedemptionError):
    api_code = "cancelled"


class BudgetExhausted(RedemptionError):
    api_code = "budget_exhausted"


#: Test hook: called between the ``uses`` increment and the budget update (inside the locks), so
#: the concurrency tests can widen the critical section and prove the locks, not luck, hold.
_critical_section_hook = None


def _check_dates(bonus: Bonus, today: dt.date) -> None:
    if bonus.state == BonusState.CANCELLED:
        raise BonusCancelled(f"Bonus {bonus.code} was cancelled.")
    if bonus.state == BonusState.EXPIRED or today > bonus.valid_to:
        raise BonusExpired(f"Bonus {bonus.code} expired on {bonus.valid_to}.")
    if today < bonus.valid_from:
        raise BonusNotYetValid(f"Bonus {bonus.code} is valid from {bonus.valid_from}.")


def _multiplier_points(bonus: Bonus, retailer: Retailer, basket: Decimal | None) -> int:
    if bonus.bonus_type.kind != BonusKind.POINTS_MULTIPLIER or not basket or basket <= 0:
        return 0
    extra = max(bonus.value - 1, ZERO)
    return math.floor(basket * retailer.points_per_currency_unit * extra)


@transaction.atomic
def bonus_redeem(
    *,
    retailer: Retailer,
    code: str,
    basket_amount: Decimal | None = None,
    store: Any = None,
    api_token: Any = None,
    now: dt.datetime | None = None,
) -> Redemption:
    """Redeem the bonus ``code`` of ``retailer`` once.

    Returns the new :class:`Redemption`.

    Raises:
        BonusNotFound: no such code at this retailer (another retailer's code included).
        BonusExpired / BonusNotYetValid / BonusCancelled: outside its validity.
        AlreadyRedeemed: every allowed use is taken.
        BudgetExhausted: the campaign's spend limit cannot cover this use.
    """
    now = now or timezone.now()
    bonus = (
        Bonus.objects.for_retailer(retailer)
        .select_related("bonus_type", "customer")
        .filter(code=code.strip().upper())
        .first()
    )
    if bonus is None:
        raise BonusNotFound("No bonus with this code.")
    _check_dates(bonus, retailer_today(retailer, now))
    extra_points = _multiplier_points(bonus, retailer, basket_amount)
    cost = quantize(extra_points * retailer.point_value) if extra_points else bonus.redemption_cost
    used = Bonus.objects.filter(pk=bonus.pk, uses__lt=F("max_uses")).update(
        uses=F("uses") + 1,
        state=Case(
            When(uses__gte=F("max_uses") - 1, then=Value(BonusState.REDEEMED)),
            default=F("state"),
        ),
        state_changed_at=now,
    )
    if used == 0:
        raise AlreadyRedeemed(f"Bonus {bonus.code} has already been redeemed.")
    use_no = Bonus.objects.filter(pk=bonus.pk).values_list("uses", flat=True).get()
    redemption = Redemption.objects.create(
        retailer=retailer,
        bonus=bonus,
        use_no=use_no,
        cost=cost,
        basket_amount=basket_amount,
        store=store,
        api_token=api_token,
    )
    if extra_points:
        points_bonus_credit(bonus=bonus, points=extra_points)
    if _critical_section_hook is not None:
        _critical_section_hook()
    # Last, so the campaign row (shared by every redemption of the campaign) is locked for as
    # short a time as possible: from here to the commit.
    if cost > 0:
        booked = Campaign.objects.filter(
            pk=bonus.campaign_id, spent__lte=F("spend_limit") - cost
        ).update(spent=F("spent") + cost)
        if booked == 0:
            raise BudgetExhausted("The campaign's spend limit is reached.")
    return redemption


def bonuses_expire_due(*, now: dt.datetime | None = None) -> int:
    """issued -> expired for every bonus past its ``valid_to`` (the daily schedule).

    Compares with the latest business date of any time zone (UTC-12) so that no bonus expires
    before its last valid day has ended for its retailer. Returns the number of bonuses expired.
    """
    now = now or timezone.now()
    earliest_today = (now - dt.timedelta(hours=12)).date()
    return Bonus.objects.filter(state=BonusState.ISSUED, valid_to__lt=earliest_today).update(
        state=BonusState.EXPIRED, state_changed_at=now
    )
