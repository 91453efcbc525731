"""The webhook events of campaigns, bonuses and promotions (payloads in docs/webhooks.md).

Each function is called with one line from the service that made the change, inside its
transaction, and hands the event to :func:`retailers.webhooks.event_emit` (the outbox). Bonus
issuance and expiry touch many bonuses at once, so their events carry a list of bonuses (one
event per issuance batch, per retailer and expiry run).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import TYPE_CHECKING, Any

from campaigns.models import Bonus, BonusState, Campaign, PromotionProposal
from retailers.webhook_models import WebhookEventType
from retailers.webhooks import event_emit, webhook_subscribed, webhook_subscribers

if TYPE_CHECKING:
    from campaigns.services.redemption import Redeemed

#: Bonuses listed per expiry event (a bigger expiry run writes several events).
EXPIRED_PER_EVENT = 500


def _campaign_data(campaign: Campaign) -> dict[str, Any]:
    return {
        "campaign": {
            "id": campaign.pk,
            "name": campaign.name,
            "week_start": campaign.week_start,
            "week_end": campaign.week_end,
            "state": campaign.state,
            "budget": campaign.budget,
            "spent": campaign.spent,
            "totals": campaign.totals,
            "results": campaign.results,
        }
    }


def campaign_event_emit(campaign: Campaign, type: str) -> None:
    """``campaign.approved`` or ``campaign.closed`` for ``campaign`` (its state after the move)."""
    event_emit(retailer_id=campaign.retailer_id, type=type, data=_campaign_data(campaign))


def _bonus_rows(bonuses: Any) -> list[dict[str, Any]]:
    return [
        {
            "code": b.code,
            "campaign": b.campaign_id,
            "customer": b.customer.external_id,
            "kind": b.bonus_type.kind,
            "value": b.value,
            "points": b.points,
            "valid_from": b.valid_from,
            "valid_to": b.valid_to,
        }
        for b in bonuses
    ]


def bonuses_issued_emit(campaign: Campaign, member_ids: list[int]) -> None:
    """``bonus.issued`` for the issued bonuses of ``member_ids`` (one issuance batch)."""
    if not webhook_subscribed(retailer_id=campaign.retailer_id, type=WebhookEventType.BONUS_ISSUED):
        return
    bonuses = (
        Bonus.objects.filter(member_id__in=member_ids, state=BonusState.ISSUED)
        .select_related("customer", "bonus_type")
        .order_by("pk")
    )
    rows = _bonus_rows(bonuses)
    if rows:
        data = {"campaign": campaign.pk, "bonuses": rows}
        event_emit(retailer_id=campaign.retailer_id, type=WebhookEventType.BONUS_ISSUED, data=data)


def bonus_redeemed_emit(retailer_id: int, redeemed: Redeemed) -> None:
    """``bonus.redeemed`` for one use of a bonus at the till."""
    data = {
        "redemption": redeemed.redemption_id,
        "code": redeemed.code,
        "customer": redeemed.customer_external_id,
        "kind": redeemed.kind,
        "value": redeemed.value,
        "use_no": redeemed.use_no,
        "max_uses": redeemed.max_uses,
        "cost": redeemed.cost,
        "redeemed_at": redeemed.redeemed_at,
    }
    event_emit(retailer_id=retailer_id, type=WebhookEventType.BONUS_REDEEMED, data=data)


def bonuses_expired_emit(*, now: dt.datetime) -> None:
    """``bonus.expired`` for the bonuses the expiry run at ``now`` just expired, per retailer."""
    retailers = webhook_subscribers(type=WebhookEventType.BONUS_EXPIRED)
    if not retailers:
        return
    expired = (
        Bonus.objects.filter(
            state=BonusState.EXPIRED, state_changed_at=now, retailer_id__in=retailers
        )
        .select_related("customer", "bonus_type")
        .order_by("retailer_id", "pk")
    )
    by_retailer: dict[int, list[Bonus]] = defaultdict(list)
    for bonus in expired:
        by_retailer[bonus.retailer_id].append(bonus)
    for retailer_id, bonuses in by_retailer.items():
        for start in range(0, len(bonuses), EXPIRED_PER_EVENT):
            rows = _bonus_rows(bonuses[start : start + EXPIRED_PER_EVENT])
            event_emit(
                retailer_id=retailer_id,
                type=WebhookEventType.BONUS_EXPIRED,
                data={"bonuses": rows},
                now=now,
            )


def promotion_approved_emit(proposal: PromotionProposal) -> None:
    """``promotion.approved``: the approved week with its items (what the tills will sell)."""
    from campaigns.services.promotion_publish import promotion_rows

    if not webhook_subscribed(
        retailer_id=proposal.retailer_id, type=WebhookEventType.PROMOTION_APPROVED
    ):
        return
    data = {
        "proposal": proposal.pk,
        "week_start": proposal.week_start,
        "items": promotion_rows(proposal),
    }
    event_emit(
        retailer_id=proposal.retailer_id, type=WebhookEventType.PROMOTION_APPROVED, data=data
    )
