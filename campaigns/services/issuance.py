"""Issuance: one bonus with an unguessable code for every treated member of an approved campaign.

Safe to run twice or concurrently: bonuses are bulk-created with ``ignore_conflicts`` on the unique
member, so a member who already has one gets nothing new, and the members still without a bonus
after a batch (a rare code collision) are retried with fresh codes. Points bonuses also credit the
ledger once (unique per bonus). Each new bonus gets its portal link and its offer e-mail's
delivery row in the same transaction (``services/delivery.py``). The campaign is then marked
issued.

Cost per use (``Bonus.redemption_cost``, booked against the spend limit at redemption), unless the
bonus type sets ``redemption_cost``:
    percent discount  expected cost / redemption probability of the member (the allocation's
                      estimate of the discount when used); without it face value % x the
                      customer's average basket;
    amount discount   face value;
    free product      the product's unit cost;
    points            0 per use: the points are credited at issuance, and their face value
                      (points x the retailer's point value) is booked against the spend limit
                      then, in the same transaction as the ledger credit; a credit the spend
                      limit cannot cover is not made and its bonus is cancelled;
    points multiplier (factor - 1) x average basket x earning rate x point value, an estimate;
                      the real extra points are computed from the basket at redemption;
    other             expected cost / redemption probability, else 0.
"""

from __future__ import annotations

import datetime as dt
import secrets
from decimal import Decimal

from django.db import transaction
from django.db.models import Count, F, Sum
from django.utils import timezone

from campaigns.exceptions import TransitionNotAllowed
from campaigns.models import (
    Bonus,
    BonusKind,
    BonusState,
    BonusType,
    Campaign,
    CampaignMember,
    CampaignState,
)
from campaigns.services.delivery import deliveries_prepare
from campaigns.services.events import bonuses_issued_emit
from campaigns.services.offers import campaign_offers_issue
from campaigns.services.workflow import campaign_mark_issued
from customers.models import PointsEntry, PointsKind, TransactionLine
from customers.services.points import points_bonus_credit, retailer_today
from loyalty_site.money import ZERO, quantize

#: Unambiguous alphabet (no 0/O, 1/I/L): 31 symbols, 10 of them give ~49.5 bits.
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CODE_LENGTH = 16  # 31^16: about 79 bits, unguessable even without the API throttle
BATCH_SIZE = 1000
MAX_CODE_ATTEMPTS = 5


def bonus_code_generate() -> str:
    """A fresh random code from :data:`CODE_ALPHABET` (``secrets``, not ``random``)."""
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def _avg_baskets(customer_ids: list[int]) -> dict[int, Decimal]:
    rows = (
        TransactionLine.objects.filter(transaction__customer_id__in=customer_ids)
        .values("transaction__customer_id")
        .annotate(total=Sum("amount"), baskets=Count("transaction_id", distinct=True))
    )
    return {
        r["transaction__customer_id"]: quantize(Decimal(str(r["total"])) / r["baskets"])
        for r in rows
        if r["baskets"]
    }


def _bonus_type(member: CampaignMember) -> BonusType:
    """The member's bonus type: :func:`_pending` selects treated members, who all have one."""
    if member.bonus_type is None:
        raise ValueError(f"campaign member {member.pk} has no bonus type to issue")
    return member.bonus_type


def _per_use_cost(
    member: CampaignMember, avg_basket: Decimal | None, campaign: Campaign
) -> Decimal:
    btype = _bonus_type(member)
    if btype.kind == BonusKind.POINTS:
        return ZERO  # booked once, at issuance (points_credit_within_limit)
    if btype.redemption_cost is not None:
        return quantize(btype.redemption_cost)
    retailer = campaign.retailer
    prob = Decimal(str(member.redemption_probability or 0))
    from_allocation = quantize(Decimal(str(member.expected_cost)) / prob) if prob > 0 else None
    if btype.kind == BonusKind.AMOUNT_DISCOUNT:
        return quantize(btype.face_value)
    if btype.kind == BonusKind.FREE_PRODUCT:
        return quantize(btype.product.unit_cost if btype.product is not None else from_allocation)
    if btype.kind == BonusKind.POINTS_MULTIPLIER:
        extra = max(btype.face_value - 1, ZERO)
        return quantize(
            extra * (avg_basket or ZERO) * retailer.points_per_currency_unit * retailer.point_value
        )
    if btype.kind == BonusKind.PERCENT_DISCOUNT and from_allocation is None:
        return quantize(btype.face_value / 100 * (avg_basket or ZERO))
    return from_allocation or ZERO


def _window(
    member: CampaignMember, campaign: Campaign, btype: BonusType, today: dt.date
) -> tuple[dt.date, dt.date]:
    """``(valid_from, valid_to)`` of the member's bonus: the planned window, or, when that has
    already ended on ``today`` (the retailer's date of issue: a campaign approved late in its
    week), a window of the same length starting today. A bonus is never issued already expired.
    """
    valid_from = member.send_on or campaign.week_start
    valid_to = member.expires_on or valid_from + dt.timedelta(days=btype.validity_days - 1)
    valid_to = max(valid_to, valid_from)
    if valid_to < today:
        valid_from, valid_to = today, today + (valid_to - valid_from)
    return valid_from, valid_to


def _build(
    member: CampaignMember, campaign: Campaign, avg: dict[int, Decimal], today: dt.date
) -> Bonus:
    btype = _bonus_type(member)
    valid_from, valid_to = _window(member, campaign, btype, today)
    return Bonus(
        retailer_id=campaign.retailer_id,
        campaign=campaign,
        member=member,
        customer_id=member.customer_id,
        bonus_type=btype,
        code=bonus_code_generate(),
        value=btype.face_value,
        points=int(btype.face_value) if btype.kind == BonusKind.POINTS else 0,
        redemption_cost=_per_use_cost(member, avg.get(member.customer_id), campaign),
        valid_from=valid_from,
        valid_to=valid_to,
        max_uses=btype.max_uses,
    )


def _pending(campaign: Campaign):
    return (
        CampaignMember.objects.for_retailer(campaign.retailer_id)
        .filter(campaign=campaign, is_control=False, bonus_type__isnull=False, bonus__isnull=True)
        .select_related("bonus_type", "bonus_type__product")
        .order_by("pk")
    )


def _issue_batch(campaign: Campaign, members: list[CampaignMember]) -> int:
    """Create the bonuses of ``members`` (one transaction); returns how many were created."""
    ids = [m.pk for m in members]
    avg = _avg_baskets([m.customer_id for m in members])
    today = retailer_today(campaign.retailer)
    with transaction.atomic():
        before = Bonus.objects.filter(member_id__in=ids).count()
        todo = members
        for _ in range(MAX_CODE_ATTEMPTS):
            Bonus.objects.bulk_create(
                [_build(m, campaign, avg, today) for m in todo], ignore_conflicts=True
            )
            have = set(Bonus.objects.filter(member_id__in=ids).values_list("member_id", flat=True))
            todo = [m for m in todo if m.pk not in have]
            if not todo:
                break
        created = Bonus.objects.filter(member_id__in=ids).count() - before
        for bonus in Bonus.objects.filter(
            member_id__in=ids, points__gt=0, state=BonusState.ISSUED
        ).order_by("pk"):
            points_credit_within_limit(bonus=bonus, campaign=campaign)
        bonuses_issued_emit(campaign, ids)
        deliveries_prepare(
            campaign=campaign,
            bonuses=Bonus.objects.filter(
                member_id__in=ids, state=BonusState.ISSUED, delivery__isnull=True
            ).select_related("customer"),
        )
    return created


class _OverSpendLimit(Exception):
    pass


def points_credit_within_limit(*, bonus: Bonus, campaign: Campaign) -> bool:
    """Credit a points bonus once, booking its face value against the campaign's spend limit.

    The credit and the booking share one savepoint: when the spend limit cannot cover the points
    (``spent + cost > spend_limit``), neither happens and the bonus is cancelled, as a coupon is
    refused at the till once the limit is reached. Lock order as at redemption: bonus, customer
    (ledger), campaign. Returns whether the points are (now or already) credited.
    """
    locked = Bonus.objects.select_for_update().get(pk=bonus.pk)
    if PointsEntry.objects.filter(bonus=locked, kind=PointsKind.BONUS).exists():
        return True
    if locked.state != BonusState.ISSUED:
        return False
    cost = quantize(locked.points * campaign.retailer.point_value)
    try:
        with transaction.atomic():
            points_bonus_credit(bonus=locked)
            booked = Campaign.objects.filter(
                pk=campaign.pk, spent__lte=F("spend_limit") - cost
            ).update(spent=F("spent") + cost)
            if not booked:
                raise _OverSpendLimit
    except _OverSpendLimit:
        locked.state = BonusState.CANCELLED
        locked.state_changed_at = timezone.now()
        locked.save(update_fields=["state", "state_changed_at"])
        return False
    return True


def campaign_bonuses_issue(*, campaign_id: int) -> int:
    """Issue the bonuses of an approved campaign's treated members, then mark it issued.

    Returns the number of bonuses created by this call (0 when they all existed already).
    Control members and members without a bonus type get nothing. Treated members' personalised
    product offers are issued after the generic bonuses (``campaigns.services.offers``).

    Raises:
        TransitionNotAllowed: the campaign is neither approved nor issued.
    """
    campaign = Campaign.objects.select_related("retailer").get(pk=campaign_id)
    if campaign.state not in (CampaignState.APPROVED, CampaignState.ISSUED):
        raise TransitionNotAllowed(
            f"Campaign #{campaign.pk} is {campaign.state}: only approved campaigns are issued."
        )
    created = 0
    last_pk = 0
    while True:
        batch = list(_pending(campaign).filter(pk__gt=last_pk)[:BATCH_SIZE])
        if not batch:
            break
        created += _issue_batch(campaign, batch)
        last_pk = batch[-1].pk
    created += campaign_offers_issue(
        campaign=campaign, today=retailer_today(campaign.retailer), new_code=bonus_code_generate
    )
    campaign_mark_issued(campaign_id=campaign.pk, issued=created)
    return created
