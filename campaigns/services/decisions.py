"""The approver's decision, shared by campaigns and weekly promotion proposals.

Both are proposed -> approved | rejected by an approver of their retailer (with four eyes, not by
the person who started them), record who decided, when and why, and write the audit entry in the
same transaction. The callers lock the row first and keep their own side effects (issuing
bonuses, re-checking budgets).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.utils import timezone

from campaigns.exceptions import ApprovalForbidden, TransitionNotAllowed
from campaigns.models import AuditAction
from campaigns.services.audit import audit_record
from retailers.models import Role
from retailers.tenancy import has_role

if TYPE_CHECKING:
    from campaigns.models import Campaign, PromotionProposal
    from loyalty_site.users import User

    #: What an approver decides on.
    Decidable = Campaign | PromotionProposal

#: The state every decision starts from (CampaignState and ProposalState share the value).
PROPOSED = "proposed"


def decision_require(
    obj: Decidable, *, actor: User, creator_id: int | None, what: str, verb: str
) -> None:
    """Raise unless ``actor`` may decide on ``obj`` now.

    Raises:
        ApprovalForbidden: not an approver of the object's retailer, or four eyes and ``actor``
            started it (``creator_id``).
        TransitionNotAllowed: ``obj`` is no longer proposed (``verb``: "approved", ...).
    """
    if not has_role(actor, Role.APPROVER, obj.retailer_id):
        raise ApprovalForbidden(f"Only an approver of this retailer can decide on a {what}.")
    if obj.retailer.four_eyes and actor is not None and creator_id == actor.pk:
        raise ApprovalForbidden(
            f"Four-eyes approval is on: someone other than the person who started this {what} "
            "must decide on it."
        )
    if obj.state != PROPOSED:
        raise TransitionNotAllowed(
            f"This {what} is {obj.get_state_display().lower()} and can no longer be {verb}."
        )


def decision_record(
    obj: Decidable,
    *,
    to_state: str,
    action: AuditAction,
    actor: User,
    comment: str,
    data: dict[str, Any] | None = None,
) -> None:
    """Move ``obj`` from proposed to ``to_state``, record the decider and audit it."""
    obj.state = to_state
    obj.decided_by = actor if getattr(actor, "is_authenticated", False) else None
    obj.decided_at = timezone.now()
    obj.decision_comment = comment
    obj.save(update_fields=["state", "decided_by", "decided_at", "decision_comment"])
    audit_record(
        target=obj,
        action=action,
        actor=actor,
        from_state=PROPOSED,
        to_state=to_state,
        comment=comment,
        data=data,
    )
