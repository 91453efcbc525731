"""Customer portal links: a secret URL per customer that staff create and revoke, and that expires.

The token is ``secrets.token_urlsafe(32)`` (256 random bits) and only its SHA-256 is stored, so
neither guessing nor a database leak yields a working link. Unknown, revoked and expired tokens
are indistinguishable to the visitor (all 404).

Links issued in bulk with a campaign's bonuses (:func:`portal_links_issue`) are created without
a person to show them to: their token is derived from the bonus with an HMAC keyed by
``SECRET_KEY`` (:func:`portal_token_derive`), so the e-mail sent days later and the audience
export can rebuild the URL while the database still holds only the token's hash. A database leak
alone still yields no working link; rotating ``SECRET_KEY`` disables those links (staff create
new ones as before).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from base64 import urlsafe_b64encode
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.crypto import salted_hmac

from customers.audit import AuditAction, audit_record
from customers.models import Customer, PortalAccess

if TYPE_CHECKING:
    from loyalty_site.users import User


@dataclass(frozen=True)
class NewPortalLink:
    """A freshly created link with its token (never stored; show the URL once)."""

    access: PortalAccess
    token: str

    @property
    def path(self) -> str:
        return f"/portal/{self.token}/"


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@transaction.atomic
def portal_link_create(
    *,
    customer: Customer,
    actor: User | None = None,
    days: int | None = None,
    now: dt.datetime | None = None,
) -> NewPortalLink:
    """Create a secret portal link for ``customer`` valid ``days`` (default PORTAL_LINK_DAYS)."""
    now = now or timezone.now()
    token = secrets.token_urlsafe(32)
    user = actor if getattr(actor, "is_authenticated", False) else None
    access = PortalAccess.objects.create(
        retailer_id=customer.retailer_id,
        customer=customer,
        token_hash=_digest(token),
        created_by=user,
        expires_at=now + dt.timedelta(days=days or settings.PORTAL_LINK_DAYS),
    )
    audit_record(
        target=access, action=AuditAction.PORTAL_LINK_CREATE, actor=actor, to_state="active"
    )
    return NewPortalLink(access=access, token=token)


def portal_token_derive(seed: str) -> str:
    """The token of a bulk-issued link: HMAC-SHA256 of ``seed`` keyed by ``SECRET_KEY``."""
    digest = salted_hmac("customers.portal.bulk", seed, algorithm="sha256").digest()
    return urlsafe_b64encode(digest).rstrip(b"=").decode()


def portal_url(token: str) -> str:
    """The absolute address of the portal page of ``token`` (``SITE_URL``)."""
    return f"{settings.SITE_URL}/portal/{token}/"


def portal_links_issue(
    *, links: Iterable[tuple[int, int, str]], now: dt.datetime | None = None
) -> dict[str, int]:
    """Create one link per ``(retailer_id, customer_id, seed)`` in one statement.

    Set-based (bulk insert, conflicts ignored: issuing the same seeds again creates nothing), so
    a campaign of 100,000 recipients needs no per-customer call. Returns the link id of every
    seed. Call it inside the issuing transaction, which records one audit entry for the batch.
    """
    now = now or timezone.now()
    expires = now + dt.timedelta(days=settings.PORTAL_LINK_DAYS)
    by_hash = {_digest(portal_token_derive(seed)): (r, c, seed) for r, c, seed in links}
    PortalAccess.objects.bulk_create(
        [
            PortalAccess(retailer_id=r, customer_id=c, token_hash=digest, expires_at=expires)
            for digest, (r, c, _) in by_hash.items()
        ],
        ignore_conflicts=True,
    )
    found = PortalAccess.objects.filter(token_hash__in=list(by_hash)).values_list(
        "token_hash", "pk"
    )
    return {by_hash[digest][2]: pk for digest, pk in found}


@transaction.atomic(durable=True)
def portal_link_revoke(*, access: PortalAccess, actor: User | None = None) -> PortalAccess:
    """Revoke a link (idempotent)."""
    access = PortalAccess.objects.select_for_update().get(pk=access.pk)
    if access.revoked_at is None:
        access.revoked_at = timezone.now()
        access.save(update_fields=["revoked_at"])
        audit_record(
            target=access,
            action=AuditAction.PORTAL_LINK_REVOKE,
            actor=actor,
            from_state="active",
            to_state="revoked",
        )
    return access


def portal_links_revoke_all(*, customer: Customer) -> int:
    """Revoke every active link of ``customer``; returns how many."""
    return PortalAccess.objects.filter(customer=customer, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )


def portal_access_resolve(*, token: str, now: dt.datetime | None = None) -> PortalAccess | None:
    """The active link of ``token`` with its customer, or ``None`` (unknown, revoked, expired)."""
    if not token or len(token) > 128:
        return None
    now = now or timezone.now()
    access = (
        PortalAccess.objects.select_related("customer", "customer__retailer")
        .filter(token_hash=_digest(token), revoked_at__isnull=True, expires_at__gt=now)
        .first()
    )
    if access is not None and (
        access.last_used_at is None or now - access.last_used_at > dt.timedelta(minutes=5)
    ):
        PortalAccess.objects.filter(pk=access.pk).update(last_used_at=now)
    return access
