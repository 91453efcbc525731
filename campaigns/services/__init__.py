"""Writes of the campaigns app, one module per concern, re-exported here."""

from campaigns.services.audit import audit_entries_for, audit_record
from campaigns.services.catalogue import bonus_type_get_or_create_for_history
from campaigns.services.checks import campaign_caps, campaign_check
from campaigns.services.workflow import (
    campaign_approve,
    campaign_close,
    campaign_mark_issued,
    campaign_reject,
    campaign_supersede,
)

__all__ = [
    "audit_entries_for",
    "audit_record",
    "bonus_type_get_or_create_for_history",
    "campaign_approve",
    "campaign_caps",
    "campaign_check",
    "campaign_close",
    "campaign_mark_issued",
    "campaign_reject",
    "campaign_supersede",
]
