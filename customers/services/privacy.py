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
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import timezone

from campaigns.models import Bonus, CampaignMember, PastOffer, Redemption
from campaigns.services.audit import audit_record
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


def _rows(queryset: Any, fields: Iterable[str]) -> list[dict[str, Any]]:
    return list(queryset.values(*fields))


def customer_export(*, customer: Customer) -> dict[str, Any]:
    """Everything held about ``customer`` as JSON-ready data (dates as ISO strings)."""
    from optimizer.models import CustomerScore

    baskets = Transaction.objects.filter(customer=customer).order_by("timestamp")
    data = {
        "exported_at": timezone.now(),
        "retailer": customer.retailer.name,
        "customer": _rows(
            Customer.objects.filter(pk=customer.pk),
            ["external_id", "enrolled_on", *_PERSONAL_FIELDS[1:], "created_at"],
        )[0],
        "transactions": _rows(baskets, ["id", "external_id", "timestamp", "store__external_id"]),
        "transaction_lines": _rows(
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
        "points": _rows(
            PointsEntry.objects.filter(customer=customer).order_by("seq"),
            ["seq", "kind", "points", "balance_after", "expires_on", "reason", "created_at"],
        ),
        "bonuses": _rows(
            Bonus.objects.filter(customer=customer).order_by("issued_at"),
            [
                "code",
                "bonus_type__code",
                "value",
                "points",
                "valid_from",
                "valid_to",
                "state",
                "uses",
                "max_uses",
                "issued_at",
                "campaign__name",
            ],
        ),
        "redemptions": _rows(
            Redemption.objects.filter(bonus__customer=customer).order_by("redeemed_at"),
            ["bonus__code", "use_no", "basket_amount", "store__external_id", "redeemed_at"],
        ),
        "campaign_memberships": _rows(
            CampaignMember.objects.filter(customer=customer).order_by("campaign_id"),
            [
                "campaign__name",
                "is_control",
                "bonus_type__code",
                "segment",
                "send_on",
                "expires_on",
                "redemption_probability",
                "reason",
            ],
        ),
        "past_offers": _rows(
            PastOffer.objects.filter(customer=customer).order_by("sent_on"),
            ["external_id", "bonus_type__code", "sent_on", "valid_until", "redeemed_on"],
        ),
        "scores": _rows(
            CustomerScore.objects.filter(customer=customer).order_by("run_id"),
            [
                "run_id",
                "run__as_of",
                "segment",
                "churn_probability",
                "clv",
                "expected_spend",
                "reason",
            ],
        ),
        "portal_links": _rows(
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


@transaction.atomic
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
        target=customer, action="anonymise", actor=actor, data={"portal_links_revoked": revoked}
    )
    return customer
