"""The campaign state machine: approve, reject, supersede, mark issued, close.

proposed -> approved | rejected | superseded; approved -> issued -> closed. Each transition locks
the campaign row, checks the actor's role (and four eyes when the retailer asks for it), writes an
audit entry in the same transaction and is safe to call twice: repeating a decision that was
already taken changes nothing and writes nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.utils import timezone
from django_q.tasks import async_task

from campaigns.exceptions import GapAboveTolerance
from campaigns.models import AuditAction, Campaign, CampaignState
from campaigns.services import events
from campaigns.services.audit import audit_record
from campaigns.services.checks import campaign_check
from campaigns.services.decisions import decision_record, decision_require
from retailers.webhook_models import WebhookEventType

if TYPE_CHECKING:
    from loyalty_site.users import User

#: The task that issues an approved campaign's bonuses (idempotent; see campaigns.tasks).
ISSUE_TASK = "campaigns.tasks.campaign_issue_task"


def _locked(campaign_id: int) -> Campaign:
    return Campaign.objects.select_for_update().select_related("retailer").get(pk=campaign_id)


@transaction.atomic(durable=True)
def campaign_approve(
    *, campaign_id: int, actor: User, comment: str = "", accept_gap: bool = False
) -> Campaign:
    """Approve a proposed campaign and queue the issuance of its bonuses (exactly once).

    The proposal is re-checked against its budget and caps independently of the solver first.
    A proposal whose gap to the best possible value exceeds the tolerance it was solved with
    (the retailer's) is approved only with ``accept_gap``; the audit entry then records the
    gap and the tolerance. Approving an already approved or issued campaign returns it unchanged.

    Raises:
        ApprovalForbidden: ``actor`` is not an approver here, or four eyes forbid it.
        TransitionNotAllowed: the campaign was rejected, superseded or closed.
        ProposalInvalid: the re-check found the proposal over budget or caps.
        GapAboveTolerance: the gap exceeds the tolerance and ``accept_gap`` is False.
    """
    campaign = _locked(campaign_id)
    if campaign.state in (CampaignState.APPROVED, CampaignState.ISSUED):
        return campaign
    decision_require(
        campaign, actor=actor, creator_id=campaign.created_by_id, what="campaign", verb="approved"
    )
    gap = campaign_gap_above_tolerance(campaign)
    if gap is not None and not accept_gap:
        raise GapAboveTolerance(
            f"this allocation is {100 * gap['gap']:.3f}% below the best possible value, more "
            f"than the {100 * gap['gap_tolerance']:.3f}% tolerance: confirm that you approve it "
            "despite the gap, or re-run it with more time"
        )
    check = campaign_check(campaign=campaign)
    decision_record(
        campaign,
        to_state=CampaignState.APPROVED,
        action=AuditAction.APPROVE,
        actor=actor,
        comment=comment,
        data={"check": check, **({"gap_accepted": gap} if gap is not None else {})},
    )
    transaction.on_commit(lambda: async_task(ISSUE_TASK, campaign.pk))
    events.campaign_event_emit(campaign, WebhookEventType.CAMPAIGN_APPROVED)
    return campaign


def campaign_gap_above_tolerance(campaign: Campaign) -> dict[str, float] | None:
    """``{"gap", "gap_tolerance"}`` of the proposal when its gap exceeds the tolerance it was
    solved with (rows from before the tolerance was recorded: 0.0001), else ``None``."""
    solver = campaign.solver or {}
    gap, tolerance = solver.get("gap"), solver.get("gap_tolerance", 1e-4)
    if gap is None or float(gap) <= float(tolerance):
        return None
    return {"gap": float(gap), "gap_tolerance": float(tolerance)}


@transaction.atomic(durable=True)
def campaign_reject(*, campaign_id: int, actor: User, comment: str) -> Campaign:
    """Reject a proposed campaign with a comment. Rejecting it again changes nothing.

    Raises:
        ApprovalForbidden: ``actor`` is not an approver here, or four eyes forbid it.
        TransitionNotAllowed: the campaign is no longer proposed.
    """
    campaign = _locked(campaign_id)
    if campaign.state == CampaignState.REJECTED:
        return campaign
    decision_require(
        campaign, actor=actor, creator_id=campaign.created_by_id, what="campaign", verb="rejected"
    )
    decision_record(
        campaign,
        to_state=CampaignState.REJECTED,
        action=AuditAction.REJECT,
        actor=actor,
        comment=comment,
    )
    return campaign


@transaction.atomic
def campaign_supersede(*, campaign_id: int, by: Campaign, actor: User | None = None) -> Campaign:
    """Mark a proposed campaign as replaced by the re-run that produced ``by``.

    A campaign that was decided in the meantime is left as it is.
    """
    campaign = _locked(campaign_id)
    if campaign.state != CampaignState.PROPOSED:
        return campaign
    campaign.state = CampaignState.SUPERSEDED
    campaign.save(update_fields=["state"])
    audit_record(
        target=campaign,
        action=AuditAction.SUPERSEDE,
        actor=actor,
        from_state=CampaignState.PROPOSED,
        to_state=CampaignState.SUPERSEDED,
        comment=f"Replaced by campaign #{by.pk}.",
        data={"replaced_by": by.pk},
    )
    return campaign


@transaction.atomic
def campaign_mark_issued(*, campaign_id: int, issued: int, actor_label: str = "") -> Campaign:
    """approved -> issued, once the issuance task has created every bonus (``issued`` new ones)."""
    campaign = _locked(campaign_id)
    if campaign.state != CampaignState.APPROVED:
        return campaign
    campaign.state = CampaignState.ISSUED
    campaign.issued_at = timezone.now()
    campaign.save(update_fields=["state", "issued_at"])
    audit_record(
        target=campaign,
        action=AuditAction.ISSUE,
        actor_label=actor_label or "issuance task",
        from_state=CampaignState.APPROVED,
        to_state=CampaignState.ISSUED,
        data={"bonuses_created": issued},
    )
    return campaign


@transaction.atomic(durable=True)
def campaign_close(
    *,
    campaign_id: int,
    results: dict[str, Any],
    actor: User | None = None,
    actor_label: str = "",
) -> Campaign:
    """issued -> closed with its measured results (treated vs control). Idempotent."""
    campaign = _locked(campaign_id)
    if campaign.state != CampaignState.ISSUED:
        return campaign
    campaign.state = CampaignState.CLOSED
    campaign.closed_at = timezone.now()
    campaign.results = results
    campaign.save(update_fields=["state", "closed_at", "results"])
    audit_record(
        target=campaign,
        action=AuditAction.CLOSE,
        actor=actor,
        actor_label=actor_label,
        from_state=CampaignState.ISSUED,
        to_state=CampaignState.CLOSED,
    )
    events.campaign_event_emit(campaign, WebhookEventType.CAMPAIGN_CLOSED)
    return campaign
