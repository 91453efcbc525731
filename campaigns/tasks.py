"""django-q2 entry points of the campaigns app. They take ids, and are safe to run twice."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.utils import timezone

from campaigns.models import Campaign, CampaignState, IdempotencyRecord
from campaigns.services.delivery import deliveries_send_due
from campaigns.services.issuance import campaign_bonuses_issue
from campaigns.services.redemption import bonuses_expire_due
from customers.services.points import points_expire_due

logger = logging.getLogger(__name__)

#: A retried request is replayed for this long; older idempotency records are deleted daily.
IDEMPOTENCY_KEEP_DAYS = 30


def campaign_issue_task(campaign_id: int) -> int:
    """Issue an approved campaign's bonuses; a campaign already issued (or gone) is left alone."""
    state = Campaign.objects.filter(pk=campaign_id).values_list("state", flat=True).first()
    if state != CampaignState.APPROVED:
        logger.info("campaign %s is %s: nothing to issue", campaign_id, state)
        return 0
    created = campaign_bonuses_issue(campaign_id=campaign_id)
    logger.info("campaign %s: %s bonuses issued", campaign_id, created)
    return created


def rewards_expire_task() -> dict[str, int]:
    """Daily: expire bonuses past their last valid day and points past their expiry date, and
    forget idempotency records older than :data:`IDEMPOTENCY_KEEP_DAYS`."""
    cutoff = timezone.now() - timedelta(days=IDEMPOTENCY_KEEP_DAYS)
    forgotten, _ = IdempotencyRecord.objects.filter(created_at__lt=cutoff).delete()
    result = {
        "bonuses": bonuses_expire_due(),
        "points": points_expire_due(),
        "idempotency_records_deleted": forgotten,
    }
    logger.info("expired %(bonuses)s bonuses and %(points)s points", result)
    return result


def deliveries_send_task() -> dict[str, int]:
    """Every minute: send one batch of due offer e-mails per retailer (its rate per minute)."""
    return {str(outcome): n for outcome, n in deliveries_send_due().items()}
