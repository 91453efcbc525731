"""API tokens of the tills: create (the key is shown once), authenticate, revoke.

A key reads ``<prefix>.<secret>``. The prefix (public, unique) finds the row; only the SHA-256 of
the secret is stored and compared in constant time, so a database leak reveals no usable key.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from campaigns.models import ApiToken, AuditAction
from campaigns.services.audit import audit_record
from retailers.models import Retailer

if TYPE_CHECKING:
    from loyalty_site.users import User

#: ``last_used_at`` is refreshed at most this often, so a busy till does not write on every call.
LAST_USED_RESOLUTION = timedelta(minutes=1)
#: A resolved token is kept this long in the Django cache (one query less per API call). Revoking
#: deletes the entry, so with a shared cache (``CACHE_URL``) revocation is immediate; with the
#: default per-process cache other web processes notice it within this delay.
CACHE_SECONDS = 10


def _cache_key(prefix: str) -> str:
    return f"api-token:{prefix}"


@dataclass(frozen=True)
class NewApiToken:
    """A freshly created token with its full key (never stored; show it once)."""

    token: ApiToken
    key: str


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@transaction.atomic
def api_token_create(*, retailer: Retailer, name: str, actor: User | None = None) -> NewApiToken:
    """Create a token for ``retailer``; the returned ``key`` is the only copy of the secret."""
    prefix = secrets.token_hex(5)
    secret = secrets.token_urlsafe(32)
    user = actor if getattr(actor, "is_authenticated", False) else None
    token = ApiToken(
        retailer=retailer, name=name, prefix=prefix, key_hash=_digest(secret), created_by=user
    )
    token.full_clean()
    token.save()
    audit_record(target=token, action=AuditAction.API_TOKEN_CREATE, actor=actor, to_state="active")
    return NewApiToken(token=token, key=f"{prefix}.{secret}")


@transaction.atomic(durable=True)
def api_token_revoke(*, token: ApiToken, actor: User | None = None) -> ApiToken:
    """Revoke ``token`` (idempotent); requests with it are answered 401 from now on."""
    token = ApiToken.objects.select_for_update().get(pk=token.pk)
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        transaction.on_commit(lambda: cache.delete(_cache_key(token.prefix)))
        cache.delete(_cache_key(token.prefix))
        audit_record(
            target=token,
            action=AuditAction.API_TOKEN_REVOKE,
            actor=actor,
            from_state="active",
            to_state="revoked",
        )
    return token


def api_token_authenticate(key: str) -> ApiToken | None:
    """The active token whose key is ``key``, or ``None`` (unknown, malformed or revoked)."""
    prefix, _, secret = key.partition(".")
    if not prefix or not secret:
        return None
    token = cache.get(_cache_key(prefix))
    if token is None:
        token = ApiToken.objects.select_related("retailer").filter(prefix=prefix).first()
        if token is not None:
            cache.set(_cache_key(prefix), token, CACHE_SECONDS)
    if token is None or not hmac.compare_digest(token.key_hash, _digest(secret)):
        return None
    if token.revoked_at is not None:
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
        cache.set(_cache_key(prefix), token, CACHE_SECONDS)
    return token
