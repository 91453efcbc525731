"""Data-subject requests: export everything held about a customer; anonymise on request.

Export covers the customer row, baskets with lines, the points ledger, bonuses with their
redemptions, campaign memberships, past offers, stored scores and portal links (metadata only:
token hashes are secrets of the platform, not personal data). Anonymisation blanks the personal
fields, replaces the customer id with a random anonymous id, revokes portal links and keeps
baskets, points, bonuses and scores so aggregates and campaign results stay correct.
"""

from __future__ import annotations

import io
import json
import secrets
import zipfile
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import timezone

from customers.audit import AuditAction, audit_record
from customers.models import Customer, PointsEntry, PortalAccess, Transaction, TransactionLine
from customers.services.portal import portal_links_revoke_all

if TYPE_CHECKING:
    from loyalty_site.users import User

ANONYMOUS_PREFIX = "anon-"
_PERSONAL_FIELDS = [
    "external_id",
    "age_band",
    "income_band",
    "household_size",
    "email",
    "marketing_consent",
]


#: Sections of the export held by the apps above customers (bonuses, offers, scores): filled by
#: their ``AppConfig.ready`` through :func:`customer_export_section_register`, in app order.
_EXPORT_SECTIONS: dict[str, Callable[[Customer], list[dict[str, Any]]]] = {}


def customer_export_section_register(
    *, name: str, rows: Callable[[Customer], list[dict[str, Any]]]
) -> None:
    """Add the section ``name`` to every customer export: ``rows(customer)`` gives its rows.
    Registering a name again replaces it."""
    _EXPORT_SECTIONS[name] = rows


def export_rows(queryset: Any, fields: Iterable[str]) -> list[dict[str, Any]]:
    """The ``fields`` of ``queryset`` as plain dicts (one export section)."""
    return list(queryset.values(*fields))


def customer_export(*, customer: Customer) -> dict[str, Any]:
    """Everything held about ``customer`` as JSON-ready data (dates as ISO strings)."""
    baskets = Transaction.objects.filter(customer=customer).order_by("timestamp")
    data = {
        "exported_at": timezone.now(),
        "retailer": customer.retailer.name,
        "customer": export_rows(
            Customer.objects.filter(pk=customer.pk),
            ["external_id", "enrolled_on", *_PERSONAL_FIELDS[1:], "created_at"],
        )[0],
        "transactions": export_rows(
            baskets, ["id", "external_id", "timestamp", "store__external_id"]
        ),
        "transaction_lines": export_rows(
            TransactionLine.objects.filter(transaction__in=baskets).order_by(
                "transaction", "line_no"
            ),
            [
                "transaction__external_id",
                "line_no",
                "product__sku",
                "product__name",
                "quantity",
                "amount",
                "discount",
            ],
        ),
        "points": export_rows(
            PointsEntry.objects.filter(customer=customer).order_by("seq"),
            ["seq", "kind", "points", "balance_after", "expires_on", "reason", "created_at"],
        ),
        **{name: rows(customer) for name, rows in _EXPORT_SECTIONS.items()},
        "portal_links": export_rows(
            PortalAccess.objects.filter(customer=customer).order_by("created_at"),
            ["created_at", "expires_at", "revoked_at", "last_used_at"],
        ),
    }
    return json.loads(json.dumps(data, cls=DjangoJSONEncoder))


def customers_export_zip(*, customers: Iterable[Customer]) -> bytes:
    """A zip with one ``<customer id>.json`` export per customer."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for customer in customers:
            payload = json.dumps(customer_export(customer=customer), indent=2)
            archive.writestr(f"customer-{customer.pk}.json", payload)
    return buffer.getvalue()


@transaction.atomic(durable=True)
def customer_anonymise(*, customer: Customer, actor: User | None = None) -> Customer:
    """Erase ``customer``'s personal data, keeping transactions and aggregates. Idempotent.

    The customer id is replaced by ``anon-<random>`` (the till can no longer find the customer),
    personal fields are blanked, consent withdrawn and portal links revoked.
    """
    customer = Customer.objects.select_for_update().get(pk=customer.pk)
    if customer.external_id.startswith(ANONYMOUS_PREFIX) and not customer.email:
        return customer
    customer.external_id = f"{ANONYMOUS_PREFIX}{secrets.token_hex(8)}"
    customer.age_band = ""
    customer.income_band = ""
    customer.household_size = None
    customer.email = ""
    customer.marketing_consent = False
    customer.save(update_fields=_PERSONAL_FIELDS)
    revoked = portal_links_revoke_all(customer=customer)
    audit_record(
        target=customer,
        action=AuditAction.ANONYMISE,
        actor=actor,
        data={"portal_links_revoked": revoked},
    )
    return customer
