"""The audit log as the customers app sees it: one recorder, registered from above.

The audit log (``campaigns.AuditEntry``) belongs to campaigns, which sits above customers in the
layers contract (pyproject.toml); ``CampaignsConfig.ready`` registers its ``audit_record`` here so
customers' services (portal links, anonymisation) write entries without importing campaigns.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.core.exceptions import ImproperlyConfigured

_recorder: Callable[..., Any] | None = None


def audit_recorder_register(recorder: Callable[..., Any]) -> None:
    """Make ``recorder`` (``campaigns.services.audit.audit_record``) write the audit entries."""
    global _recorder
    _recorder = recorder


def audit_record(**kwargs: Any) -> Any:
    """Write one audit entry through the registered recorder (same keyword arguments as
    ``campaigns.services.audit.audit_record``).

    Raises:
        ImproperlyConfigured: the campaigns app is not installed (nothing registered).
    """
    if _recorder is None:
        raise ImproperlyConfigured("audit_record: no audit recorder registered (campaigns app)")
    return _recorder(**kwargs)
