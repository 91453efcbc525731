"""The audit log as the customers app sees it: its events, and one recorder registered from above.

The audit log (``campaigns.AuditEntry``) belongs to campaigns, which sits above customers in the
layers contract (pyproject.toml); ``CampaignsConfig.ready`` registers its ``audit_record`` here so
customers' services (portal links, anonymisation) write entries without importing campaigns.

The events themselves (:class:`AuditAction`) are defined here, at the lowest layer that writes
one, so that every app records a member of the one enumeration, never a free string (Zulip's
``AuditLogEventType``). ``campaigns.models`` re-exports it beside ``AuditEntry``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from django.core.exceptions import ImproperlyConfigured
from django.db import models

if TYPE_CHECKING:
    from loyalty_site.users import User
    from retailers.tenancy import RetailerOwned


class AuditAction(models.TextChoices):
    """Every event the audit log records. The values are stored: never rename one."""

    # Decisions on campaigns and promotion proposals.
    PROPOSE = "propose", "proposed"
    APPROVE = "approve", "approved"
    REJECT = "reject", "rejected"
    SUPERSEDE = "supersede", "superseded"
    #: A re-run that did not supersede the proposal it re-did (not optimal, or failed).
    NOT_SUPERSEDING = "not-superseding", "not superseding"
    DROP_ITEM = "drop_item", "item dropped"
    ISSUE = "issue", "issued"
    #: Personalised product offers chosen for a proposed campaign (optimizer.services.offers).
    OFFERS_ALLOCATE = "offers_allocate", "personalised offers allocated"
    CLOSE = "close", "closed"
    # Runs.
    RESTART = "restart", "restarted"
    # Customers.
    ANONYMISE = "anonymise", "anonymised"
    PORTAL_LINK_CREATE = "portal_link_create", "portal link created"
    PORTAL_LINK_REVOKE = "portal_link_revoke", "portal link revoked"
    MARKETING_CONSENT_WITHDRAW = "marketing_consent_withdraw", "marketing consent withdrawn"
    # Delivery of approved campaigns.
    PORTAL_LINKS_ISSUE = "portal_links_issue", "portal links and offer e-mails prepared"
    AUDIENCE_EXPORT = "audience_export", "audience exported"
    # API tokens of tills.
    API_TOKEN_CREATE = "api_token_create", "API token created"
    API_TOKEN_REVOKE = "api_token_revoke", "API token revoked"


class AuditRecorder(Protocol):
    """The signature of ``campaigns.services.audit.audit_record``."""

    def __call__(
        self,
        *,
        target: RetailerOwned,
        action: AuditAction,
        actor: User | None = None,
        actor_label: str = "",
        from_state: str = "",
        to_state: str = "",
        comment: str = "",
        data: dict[str, Any] | None = None,
    ) -> object: ...


_recorder: AuditRecorder | None = None


def audit_recorder_register(recorder: AuditRecorder) -> None:
    """Make ``recorder`` (``campaigns.services.audit.audit_record``) write the audit entries."""
    global _recorder
    _recorder = recorder


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
) -> object:
    """Write one audit entry through the registered recorder (see
    ``campaigns.services.audit.audit_record`` for the arguments).

    Raises:
        ImproperlyConfigured: the campaigns app is not installed (nothing registered).
    """
    if _recorder is None:
        raise ImproperlyConfigured("audit_record: no audit recorder registered (campaigns app)")
    return _recorder(
        target=target,
        action=action,
        actor=actor,
        actor_label=actor_label,
        from_state=from_state,
        to_state=to_state,
        comment=comment,
        data=data,
    )
