"""The audit log records members of one enumeration, never free strings."""

from __future__ import annotations

import pytest

from campaigns.models import AuditAction, AuditEntry
from campaigns.services.audit import audit_record
from customers import audit as customers_audit
from tests.customers.factories import CustomerFactory

pytestmark = pytest.mark.django_db

#: Every action string stored before the enumeration existed: each must stay a member.
STORED_BEFORE = {
    "propose",
    "approve",
    "reject",
    "supersede",
    "not-superseding",
    "drop_item",
    "issue",
    "close",
    "restart",
    "anonymise",
    "portal_link_create",
    "portal_link_revoke",
    "api_token_create",
    "api_token_revoke",
}


def test_audit_action_keeps_every_stored_value():
    assert set(AuditAction.values) >= STORED_BEFORE  # new events may be added, none renamed


def test_audit_record_stores_the_member_value(retailer):
    customer = CustomerFactory(retailer=retailer)
    entry = audit_record(target=customer, action=AuditAction.ANONYMISE)
    stored = AuditEntry.objects.get(pk=entry.pk)
    assert stored.action == "anonymise"
    assert stored.get_action_display() == "anonymised"


def test_audit_record_refuses_an_action_outside_the_enumeration(retailer):
    customer = CustomerFactory(retailer=retailer)
    with pytest.raises(ValueError, match="drop-item"):
        audit_record(target=customer, action="drop-item")
    assert not AuditEntry.objects.exists()


def test_customers_write_audit_entries_through_the_registered_recorder(retailer):
    customer = CustomerFactory(retailer=retailer)
    customers_audit.audit_record(target=customer, action=AuditAction.PORTAL_LINK_REVOKE)
    assert AuditEntry.objects.get().action == AuditAction.PORTAL_LINK_REVOKE
