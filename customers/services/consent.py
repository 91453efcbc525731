"""Marketing consent: the one-click unsubscribe of offer e-mails withdraws it, audited.

The unsubscribe link carries a token signed with ``SECRET_KEY`` (``django.core.signing``) naming
the customer; it never expires, since a link in an old e-mail must keep working (RFC 8058 asks
for a link that works without signing in). Withdrawing twice changes nothing the second time.
"""

from __future__ import annotations

from django.conf import settings
from django.core import signing
from django.db import transaction

from customers.audit import AuditAction, audit_record
from customers.models import Customer

SALT = "customers.consent.unsubscribe"


def unsubscribe_token(*, customer_id: int) -> str:
    """The signed token of ``customer_id``'s unsubscribe link."""
    return signing.dumps(customer_id, salt=SALT)


def unsubscribe_url(*, customer_id: int) -> str:
    """The absolute one-click unsubscribe address of ``customer_id`` (``SITE_URL``)."""
    return f"{settings.SITE_URL}/unsubscribe/{unsubscribe_token(customer_id=customer_id)}/"


def unsubscribe_customer(*, token: str) -> Customer | None:
    """The customer a token names, or ``None`` when it is forged, damaged or the customer gone."""
    try:
        customer_id = signing.loads(token, salt=SALT)
    except signing.BadSignature:
        return None
    if not isinstance(customer_id, int):
        return None
    return Customer.objects.filter(pk=customer_id).first()


@transaction.atomic
def customer_consent_withdraw(*, customer_id: int, source: str) -> bool:
    """Withdraw ``customer_id``'s marketing consent and audit it (``source``: how it came).

    Returns ``True`` when consent was withdrawn now, ``False`` when it was not given.
    """
    customer = Customer.objects.select_for_update().get(pk=customer_id)
    if not customer.marketing_consent:
        return False
    customer.marketing_consent = False
    customer.save(update_fields=["marketing_consent"])
    audit_record(
        target=customer,
        action=AuditAction.MARKETING_CONSENT_WITHDRAW,
        actor_label=source,
        from_state="consented",
        to_state="withdrawn",
    )
    return True
