"""Writes to the audit log. Every state change of a campaign, proposal or run goes through here."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.contrib.contenttypes.models import ContentType
from django.db import models

from campaigns.models import AuditAction, AuditEntry

if TYPE_CHECKING:
    from loyalty_site.users import User
    from retailers.tenancy import RetailerOwned


def audit_record(
    *,
    target: RetailerOwned,
    action: AuditAction,
    actor: User | None = None,
    actor_label: str = "",
    from_state: str = "",
    to_state: str = "",
    comment: str = "",
    data: dict[str, Any] | None = None,
) -> AuditEntry:
    """Append one entry for ``target`` (a retailer-owned row) to the audit log.

    ``actor`` is a user (or ``None`` for the system); ``actor_label`` names non-user actors such
    as an API token or a schedule. Call it inside the transaction that changes the state, so the
    entry and the change commit together.

    Raises:
        ValueError: ``action`` is not a member of :class:`AuditAction` (a free string).
    """
    user = actor if getattr(actor, "is_authenticated", False) else None
    return AuditEntry.objects.create(
        retailer_id=target.retailer_id,
        content_type=ContentType.objects.get_for_model(type(target)),
        object_id=target.pk,
        action=AuditAction(action),
        from_state=from_state,
        to_state=to_state,
        actor=user,
        actor_label=actor_label or (user.get_username() if user else "system"),
        comment=comment,
        data=data or {},
    )


def audit_entries_for(target: RetailerOwned) -> models.QuerySet[AuditEntry]:
    """The audit entries of ``target``, newest first, with their actors."""
    return AuditEntry.objects.filter(
        retailer_id=target.retailer_id,
        content_type=ContentType.objects.get_for_model(type(target)),
        object_id=target.pk,
    ).select_related("actor")
