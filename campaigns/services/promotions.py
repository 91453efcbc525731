"""The weekly promotion proposal's state machine: approve, reject, drop an item, supersede.

proposed -> approved | rejected | superseded. Each transition locks the proposal row, checks the
actor's role (approver; with ``retailer.four_eyes`` someone other than the person who started the
run), writes an audit entry in the same transaction and is safe to call twice: repeating a
decision already taken changes nothing and writes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.db import transaction

from campaigns.exceptions import ApprovalForbidden, TransitionNotAllowed
from campaigns.models import AuditAction, PromotionItem, PromotionProposal, ProposalState
from campaigns.services.audit import audit_record
from campaigns.services.decisions import decision_record, decision_require
from campaigns.services.events import promotion_approved_emit
from loyalty_site.money import quantize
from retailers.models import Role
from retailers.tenancy import has_role

if TYPE_CHECKING:
    from loyalty_site.users import User

#: Money columns of an item summed into the proposal's totals.
TOTAL_MONEY = ("incremental_revenue", "incremental_margin", "discount_cost")
TOTAL_UNITS = ("baseline_units", "promoted_units", "incremental_units")


def proposal_totals(items: Iterable[PromotionItem]) -> dict[str, Any]:
    """Totals of a proposal's items, money and units as strings of ``Decimal`` (JSON-safe)."""
    items = list(items)
    totals: dict[str, Any] = {"items": len(items), "pinned": sum(i.pinned for i in items)}
    for name in (*TOTAL_MONEY, *TOTAL_UNITS):
        totals[name] = str(quantize(sum((Decimal(getattr(i, name)) for i in items), Decimal(0))))
    totals["reach"] = sum(i.reach for i in items)
    return totals


def _locked(proposal_id: int) -> PromotionProposal:
    return (
        PromotionProposal.objects.select_for_update(of=("self",))
        .select_related("retailer", "promotion_run")
        .get(pk=proposal_id)
    )


def proposal_creator_id(proposal: PromotionProposal) -> int | None:
    """Who started the proposal: the run's creator, else the proposal's (``None``: schedule)."""
    run = proposal.promotion_run
    if run is not None and run.created_by_id is not None:
        return run.created_by_id
    return proposal.created_by_id


def _require_proposed(proposal: PromotionProposal, verb: str) -> None:
    if proposal.state != ProposalState.PROPOSED:
        raise TransitionNotAllowed(
            f"This proposal is {proposal.get_state_display().lower()} and can no longer be {verb}."
        )


@transaction.atomic(durable=True)
def promotion_proposal_approve(
    *, proposal_id: int, actor: User, comment: str = ""
) -> PromotionProposal:
    """Approve a proposed week of promotions. Approving it again returns it unchanged.

    Raises:
        ApprovalForbidden: ``actor`` is not an approver here, or four eyes forbid it.
        TransitionNotAllowed: the proposal was rejected or superseded.
    """
    proposal = _locked(proposal_id)
    if proposal.state == ProposalState.APPROVED:
        return proposal
    creator = proposal_creator_id(proposal)
    decision_require(proposal, actor=actor, creator_id=creator, what="proposal", verb="approved")
    decision_record(
        proposal,
        to_state=ProposalState.APPROVED,
        action=AuditAction.APPROVE,
        actor=actor,
        comment=comment,
        data={"totals": proposal.totals},
    )
    promotion_approved_emit(proposal)
    return proposal


@transaction.atomic(durable=True)
def promotion_proposal_reject(*, proposal_id: int, actor: User, comment: str) -> PromotionProposal:
    """Reject a proposed week of promotions with a comment. Rejecting it again changes nothing.

    Raises:
        ApprovalForbidden: ``actor`` is not an approver here, or four eyes forbid it.
        TransitionNotAllowed: the proposal is no longer proposed.
    """
    proposal = _locked(proposal_id)
    if proposal.state == ProposalState.REJECTED:
        return proposal
    creator = proposal_creator_id(proposal)
    decision_require(proposal, actor=actor, creator_id=creator, what="proposal", verb="rejected")
    decision_record(
        proposal,
        to_state=ProposalState.REJECTED,
        action=AuditAction.REJECT,
        actor=actor,
        comment=comment,
    )
    return proposal


@transaction.atomic(durable=True)
def promotion_item_drop(
    *, proposal_id: int, item_id: int, actor: User, comment: str = ""
) -> PromotionProposal:
    """Remove one product from a proposed week before approval (approvers; audited).

    The proposal's totals are recomputed and the remaining items re-ranked. Dropping an item
    that is already gone changes nothing. Four eyes do not apply: the decision is the approval.

    Raises:
        ApprovalForbidden: ``actor`` is not an approver here.
        TransitionNotAllowed: the proposal is no longer proposed.
    """
    proposal = _locked(proposal_id)
    item = proposal.items.select_related("product").filter(pk=item_id).first()
    if item is None:
        return proposal
    if not has_role(actor, Role.APPROVER, proposal.retailer_id):
        raise ApprovalForbidden("Only an approver of this retailer can edit a proposal.")
    _require_proposed(proposal, "edited")
    dropped = {
        "item": item.pk,
        "product": item.product_id,
        "sku": item.product.sku,
        "rank": item.rank,
        "pinned": item.pinned,
        "incremental_margin": str(item.incremental_margin),
        "discount_cost": str(item.discount_cost),
    }
    item.delete()
    remaining = list(proposal.items.order_by("rank", "pk"))
    for rank, row in enumerate(remaining, start=1):
        if row.rank != rank:
            row.rank = rank
            row.save(update_fields=["rank"])
    proposal.totals = {**proposal.totals, **proposal_totals(remaining)}
    proposal.save(update_fields=["totals"])
    audit_record(
        target=proposal,
        action=AuditAction.DROP_ITEM,
        actor=actor,
        from_state=proposal.state,
        to_state=proposal.state,
        comment=comment or f"Dropped {item.product.sku}.",
        data={"dropped": dropped},
    )
    return proposal


@transaction.atomic
def promotion_proposal_supersede(
    *, proposal_id: int, by_run_id: int, actor: User | None = None, actor_label: str = ""
) -> PromotionProposal:
    """Mark a proposed week as replaced by the re-run ``by_run_id`` (called by that run just
    before it writes its own proposal). A proposal decided meanwhile is left as it is."""
    proposal = _locked(proposal_id)
    if proposal.state != ProposalState.PROPOSED:
        return proposal
    proposal.state = ProposalState.SUPERSEDED
    proposal.save(update_fields=["state"])
    audit_record(
        target=proposal,
        action=AuditAction.SUPERSEDE,
        actor=actor,
        actor_label=actor_label,
        from_state=ProposalState.PROPOSED,
        to_state=ProposalState.SUPERSEDED,
        comment=f"Replaced by the proposal of promotion run #{by_run_id}.",
        data={"replaced_by_run": by_run_id},
    )
    return proposal
