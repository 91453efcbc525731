"""Audience export: an approved campaign's recipients as CSV, for an external ESP or CRM.

One row per issued bonus: the customer's id, the e-mail address only if the customer consented
to marketing, the bonus code, type, kind and value, its validity and the portal link issued with
it (while that link is active). Written by the one safe CSV writer (``loyalty_site.safe_csv``:
spreadsheet formulas defused), streamed in chunks, and audited (who exported how many rows).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from django.utils import timezone

from campaigns.exceptions import TransitionNotAllowed
from campaigns.models import AuditAction, Bonus, Campaign, CampaignState
from campaigns.services.audit import audit_record
from campaigns.services.email_messages import portal_seed
from customers.services.portal import portal_token_derive, portal_url
from loyalty_site import safe_csv

if TYPE_CHECKING:
    from _typeshed import SupportsWrite

    from loyalty_site.users import User

HEADER = [
    "customer_id",
    "email",
    "bonus_code",
    "bonus_type",
    "bonus_kind",
    "value",
    "valid_from",
    "valid_until",
    "portal_link",
]
EXPORTABLE_STATES = (CampaignState.APPROVED, CampaignState.ISSUED, CampaignState.CLOSED)


def _link(bonus: Bonus, now: dt.datetime) -> str:
    delivery = getattr(bonus, "delivery", None)
    link = delivery.portal_link if delivery is not None else None
    if link is None or link.revoked_at is not None or link.expires_at <= now:
        return ""
    return portal_url(
        portal_token_derive(portal_seed(retailer_id=bonus.retailer_id, code=bonus.code))
    )


def campaign_audience_check(*, campaign: Campaign) -> None:
    """Refuse a campaign that has no audience to export.

    Raises:
        TransitionNotAllowed: the campaign was not approved (a proposal has no audience yet).
    """
    if campaign.state not in EXPORTABLE_STATES:
        raise TransitionNotAllowed(
            f"Campaign #{campaign.pk} is {campaign.state}: only an approved campaign's audience "
            "is exported."
        )


def campaign_audience_rows(
    *, campaign: Campaign, now: dt.datetime | None = None
) -> Iterator[list[Any]]:
    """The export's data rows (no header), in bonus order, read in chunks."""
    now = now or timezone.now()
    bonuses = (
        Bonus.objects.for_retailer(campaign.retailer_id)
        .filter(campaign=campaign)
        .select_related("customer", "bonus_type", "delivery__portal_link")
        .order_by("pk")
    )
    for bonus in bonuses.iterator(chunk_size=2000):
        customer = bonus.customer
        yield [
            customer.external_id,
            customer.email if customer.marketing_consent else "",
            bonus.code,
            bonus.bonus_type.code,
            bonus.bonus_type.kind,
            bonus.value,
            bonus.valid_from.isoformat(),
            bonus.valid_to.isoformat(),
            _link(bonus, now),
        ]


def campaign_audience_write(
    *,
    campaign: Campaign,
    stream: SupportsWrite[str],
    actor: User | None = None,
    actor_label: str = "",
    now: dt.datetime | None = None,
) -> int:
    """Write the audience CSV (header and rows) to ``stream``; returns the number of rows.

    Raises:
        TransitionNotAllowed: see :func:`campaign_audience_check` (before anything is written).
    """
    campaign_audience_check(campaign=campaign)
    writer = safe_csv.writer(stream)
    rows = campaign_audience_rows(campaign=campaign, now=now)
    writer.writerow(HEADER)
    count = 0
    for row in rows:
        writer.writerow(row)
        count += 1
    audit_record(
        target=campaign,
        action=AuditAction.AUDIENCE_EXPORT,
        actor=actor,
        actor_label=actor_label,
        data={"rows": count},
    )
    return count
