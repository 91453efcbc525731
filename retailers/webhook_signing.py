"""The signature of a webhook delivery, and its check (what a receiver runs; docs/webhooks.md).

Header ``Webhook-Signature: t=<unix seconds>,v1=<hex>[,v1=<hex>]``: each ``v1`` is
HMAC-SHA256(secret, ``f"{t}.".encode() + body``) in lower-case hex, one per secret that currently
signs (two during a secret rotation's grace period). A receiver accepts the request when any
``v1`` matches its secret and ``t`` is recent (it refuses replays of old requests).

Hand-written on purpose: it is a dozen lines of the standard library's ``hmac``, and a receiver
must be able to copy it without installing anything.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable

SIGNATURE_HEADER = "Webhook-Signature"
#: Prefix of generated secrets, so a leaked one is recognisable in logs and scanners.
SECRET_PREFIX = "whsec_"  # noqa: S105 (a prefix, not a secret)
#: How old a signed timestamp a receiver accepts by default (seconds).
DEFAULT_TOLERANCE = 300


def secret_generate() -> str:
    """A new random signing secret (256 bits)."""
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def signature_compute(*, secret: str, timestamp: int, body: bytes) -> str:
    """HMAC-SHA256 of ``"{timestamp}." + body`` with ``secret``, as lower-case hex."""
    message = f"{timestamp}.".encode() + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signature_header(*, secrets_: Iterable[str], timestamp: int, body: bytes) -> str:
    """The ``Webhook-Signature`` value: the timestamp and one ``v1`` per signing secret."""
    parts = [f"t={timestamp}"]
    parts += [f"v1={signature_compute(secret=s, timestamp=timestamp, body=body)}" for s in secrets_]
    return ",".join(parts)


def signature_verify(
    *, header: str, body: bytes, secret: str, now: int, tolerance: int = DEFAULT_TOLERANCE
) -> bool:
    """Whether ``header`` signs ``body`` with ``secret`` at a time within ``tolerance`` of ``now``.

    ``now`` is the receiver's clock in unix seconds (passed in so that tests need no clock).
    """
    timestamp: int | None = None
    candidates: list[str] = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isdigit():
            timestamp = int(value)
        elif key == "v1":
            candidates.append(value)
    if timestamp is None or abs(now - timestamp) > tolerance:
        return False
    expected = signature_compute(secret=secret, timestamp=timestamp, body=body)
    return any(hmac.compare_digest(expected, candidate) for candidate in candidates)
