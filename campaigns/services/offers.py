"""Issuance of personalised product offers: one bonus per offer of a treated campaign member.

The offers were chosen while the campaign was proposed (``optimizer.services.offers``); issuing
the approved campaign turns each treated member's :class:`~campaigns.models.CampaignOffer` into a
:class:`~campaigns.models.Bonus` carrying its product, which the till redeems only on a basket
containing that product (``campaigns.services.redemption``). Control members' offers are never
issued.

Safe to run twice: a bonus is unique per offer (``Bonus.offer`` is one-to-one), so the bulk insert
ignores the offers that already have one, and offers still without a bonus after a batch (a code
collision) are retried with fresh codes, as in ``issuance.py``.

Cost per use (booked against the campaign's spend limit at redemption): the retailer's share of
the discount on one unit, ``price x discount % x (1 - supplier share)``, unless the bonus type
sets ``redemption_cost``. The supplier's share is reported per supplier on the campaign page.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal

from django.db import transaction

from campaigns.models import Bonus, BonusState, Campaign, CampaignOffer
from campaigns.services.delivery import deliveries_prepare
from loyalty_site.money import quantize

BATCH_SIZE = 1000
MAX_CODE_ATTEMPTS = 5


def offer_use_cost(offer: CampaignOffer) -> Decimal:
    """The retailer's cost of one redemption of ``offer``."""
    btype = offer.bonus_type
    if btype.redemption_cost is not None:
        return quantize(btype.redemption_cost)
    discount = offer.product.price * offer.discount_percent / 100
    return quantize(discount * (1 - btype.supplier_share))


def _window(offer: CampaignOffer, campaign: Campaign, today: dt.date) -> tuple[dt.date, dt.date]:
    """As generic bonuses: the member's planned window, else the week start plus the type's
    validity; moved to start today when it has already ended."""
    member = offer.member
    valid_from = member.send_on or campaign.week_start
    default_to = valid_from + dt.timedelta(days=offer.bonus_type.validity_days - 1)
    valid_to = max(member.expires_on or default_to, valid_from)
    if valid_to < today:
        valid_from, valid_to = today, today + (valid_to - valid_from)
    return valid_from, valid_to


def _build(offer: CampaignOffer, campaign: Campaign, today: dt.date, code: str) -> Bonus:
    valid_from, valid_to = _window(offer, campaign, today)
    return Bonus(
        retailer_id=campaign.retailer_id,
        campaign=campaign,
        offer=offer,
        product_id=offer.product_id,
        customer_id=offer.customer_id,
        bonus_type=offer.bonus_type,
        code=code,
        value=offer.discount_percent,
        redemption_cost=offer_use_cost(offer),
        valid_from=valid_from,
        valid_to=valid_to,
        max_uses=offer.bonus_type.max_uses,
    )


def _pending(campaign: Campaign):
    return (
        CampaignOffer.objects.for_retailer(campaign.retailer_id)
        .filter(campaign=campaign, member__is_control=False, bonus__isnull=True)
        .select_related("member", "bonus_type", "product")
        .order_by("pk")
    )


def campaign_offers_issue(
    *, campaign: Campaign, today: dt.date, new_code: Callable[[], str]
) -> int:
    """Issue a bonus for every treated offer of ``campaign`` still without one (codes from
    ``new_code``, the generic issuance's generator).

    Returns the number of bonuses created by this call. Each batch is one transaction, which
    also prepares the new bonuses' portal links and offer e-mails.
    """
    created = 0
    last_pk = 0
    while True:
        batch = list(_pending(campaign).filter(pk__gt=last_pk)[:BATCH_SIZE])
        if not batch:
            return created
        ids = [o.pk for o in batch]
        with transaction.atomic():
            before = Bonus.objects.filter(offer_id__in=ids).count()
            todo = batch
            for _ in range(MAX_CODE_ATTEMPTS):
                Bonus.objects.bulk_create(
                    [_build(o, campaign, today, new_code()) for o in todo],
                    ignore_conflicts=True,
                )
                have = set(
                    Bonus.objects.filter(offer_id__in=ids).values_list("offer_id", flat=True)
                )
                todo = [o for o in todo if o.pk not in have]
                if not todo:
                    break
            created += Bonus.objects.filter(offer_id__in=ids).count() - before
            deliveries_prepare(
                campaign=campaign,
                bonuses=Bonus.objects.filter(
                    offer_id__in=ids, state=BonusState.ISSUED, delivery__isnull=True
                ).select_related("customer"),
            )
        last_pk = batch[-1].pk
