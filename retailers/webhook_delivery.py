"""Send due webhook deliveries: claim, POST signed, record the answer, back off or give up.

The sender runs as a django-q2 task (nudged after each commit that wrote events, and scheduled
every minute). It claims due rows with ``SELECT ... FOR UPDATE SKIP LOCKED`` in a short
transaction and pushes their ``next_attempt_at`` past the request timeout (a lease), so several
workers share the work and a worker that dies mid-request leaves rows that become due again. The
HTTP request runs outside any transaction. A failed attempt is retried with exponential backoff
and jitter; once the next attempt would fall more than ``WEBHOOK_GIVE_UP_SECONDS`` after the
event (or its replay), the delivery is failed for good (the admin can replay it).

The project's run lifecycle (``retailers.lifecycle``) is not used: a delivery is one short
request, not a run with stages and heartbeats. HTTP goes through the standard library's
``urllib.request``: the requirements hold no HTTP client, and one POST with a timeout and no
redirects needs none.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import random
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from loyalty_site.sealing import SecretUnreadable
from retailers.webhook_models import (
    DeliveryStatus,
    WebhookDelivery,
    webhook_url_check,
)
from retailers.webhook_signing import SIGNATURE_HEADER, signature_header
from retailers.webhooks import endpoint_signing_secrets

logger = logging.getLogger(__name__)

#: Deliveries claimed per round; the sender loops until nothing is due.
BATCH = 50
#: Attempts kept in a delivery's ``history``.
HISTORY_KEPT = 20
EXCERPT_CHARS = 500


@dataclass(frozen=True)
class Outcome:
    """What one POST got: a 2xx ``status_code`` is a success; ``error`` says what went wrong."""

    status_code: int | None
    error: str = ""
    excerpt: str = ""
    elapsed_ms: int = 0

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect is an answer (logged with its code), never followed to another address."""

    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


_opener = urllib.request.build_opener(_NoRedirect)


def http_post(url: str, body: bytes, headers: dict[str, str], timeout: float) -> Outcome:
    """POST ``body`` to ``url``; never raises (network errors become the outcome's ``error``)."""
    started = time.monotonic()
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310
    try:
        with _opener.open(request, timeout=timeout) as response:
            code, text = response.status, response.read(EXCERPT_CHARS)
            error = ""
    except urllib.error.HTTPError as answer:
        code, text, error = answer.code, answer.read(EXCERPT_CHARS), f"HTTP {answer.code}"
    except Exception as problem:  # timeouts, refused connections, TLS errors, bad addresses
        code, text, error = None, b"", f"{type(problem).__name__}: {problem}"[:500]
    elapsed = int((time.monotonic() - started) * 1000)
    return Outcome(code, error, text.decode("utf-8", "replace")[:EXCERPT_CHARS], elapsed)


#: ``send(delivery, now) -> Outcome``; tests may pass another one.
Sender = Callable[[WebhookDelivery, dt.datetime], Outcome]


def delivery_send(delivery: WebhookDelivery, now: dt.datetime) -> Outcome:
    """Sign and POST one delivery's event to its endpoint."""
    endpoint = delivery.endpoint
    if not endpoint.is_active:
        return Outcome(None, "The endpoint is deactivated.")
    try:
        webhook_url_check(endpoint.url)
    except Exception as problem:
        return Outcome(None, str(problem)[:500])
    body = json.dumps(delivery.event.payload, separators=(",", ":")).encode()
    timestamp = int(now.timestamp())
    try:
        secrets_ = endpoint_signing_secrets(endpoint, now=now)
    except SecretUnreadable as problem:  # a key rotation gone wrong: each attempt says so
        return Outcome(None, str(problem)[:500])
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "loyalty-webhooks/1",
        "Webhook-Id": str(delivery.event.event_id),
        "Webhook-Event": delivery.event.type,
        SIGNATURE_HEADER: signature_header(secrets_=secrets_, timestamp=timestamp, body=body),
    }
    return http_post(endpoint.url, body, headers, settings.WEBHOOK_TIMEOUT_SECONDS)


def retry_delay(attempts: int, *, rng: random.Random | None = None) -> dt.timedelta:
    """Wait after the ``attempts``-th failure: base x 2^(attempts-1), capped, with "equal
    jitter" (between half and all of it) so that receivers coming back are not stampeded."""
    base = settings.WEBHOOK_RETRY_BASE_SECONDS
    ceiling = min(settings.WEBHOOK_RETRY_MAX_SECONDS, base * 2 ** min(attempts - 1, 30))
    jitter = (rng or random).uniform(0.5, 1.0)
    return dt.timedelta(seconds=ceiling * jitter)


def _claim(now: dt.datetime, limit: int) -> list[WebhookDelivery]:
    """Take up to ``limit`` due rows that no other sender holds, leasing them past the timeout."""
    lease = now + dt.timedelta(seconds=settings.WEBHOOK_TIMEOUT_SECONDS + 60)
    with transaction.atomic():
        rows = list(
            WebhookDelivery.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(status=DeliveryStatus.PENDING, next_attempt_at__lte=now)
            .select_related("endpoint", "event")
            .order_by("next_attempt_at", "pk")[:limit]
        )
        WebhookDelivery.objects.filter(pk__in=[r.pk for r in rows]).update(
            next_attempt_at=lease, attempts=F("attempts") + 1
        )
    for row in rows:
        row.attempts += 1
    return rows


@transaction.atomic
def _record(claimed: WebhookDelivery, outcome: Outcome, now: dt.datetime) -> WebhookDelivery:
    """Store the answer; schedule the next attempt, or finish (delivered, or failed for good)."""
    delivery = WebhookDelivery.objects.select_for_update().get(pk=claimed.pk)
    entry = {"at": now.isoformat(), "status_code": outcome.status_code, "error": outcome.error}
    delivery.history = [*delivery.history, {**entry, "ms": outcome.elapsed_ms}][-HISTORY_KEPT:]
    delivery.last_attempt_at = now
    delivery.last_status_code = outcome.status_code
    delivery.last_error = outcome.error[:500]
    delivery.response_excerpt = outcome.excerpt[:EXCERPT_CHARS]
    if outcome.ok:
        delivery.status = DeliveryStatus.DELIVERED
        delivery.delivered_at = now
    else:
        retry_at = now + retry_delay(delivery.attempts)
        give_up_at = delivery.window_started_at + dt.timedelta(
            seconds=settings.WEBHOOK_GIVE_UP_SECONDS
        )
        if retry_at > give_up_at:
            delivery.status = DeliveryStatus.FAILED
        else:
            delivery.next_attempt_at = retry_at
    delivery.save()
    return delivery


@dataclass(frozen=True)
class DispatchResult:
    delivered: int = 0
    retrying: int = 0
    failed: int = 0


def webhook_deliveries_dispatch(
    *, now: dt.datetime | None = None, send: Sender = delivery_send, limit: int = BATCH
) -> DispatchResult:
    """Send every delivery due at ``now`` (default: the clock, read once per round).

    Returns how many were delivered, will be retried and failed for good in this call. A
    delivery that errors in an unexpected way is recorded as a failed attempt; it never stops
    the others.
    """
    counts = {DeliveryStatus.DELIVERED: 0, DeliveryStatus.PENDING: 0, DeliveryStatus.FAILED: 0}
    fixed_now = now
    while True:
        round_now = fixed_now or timezone.now()
        rows = _claim(round_now, limit)
        if not rows:
            break
        for row in rows:
            try:
                outcome = send(row, round_now)
            except Exception as problem:
                logger.exception("Webhook delivery %s failed unexpectedly", row.pk)
                outcome = Outcome(None, f"{type(problem).__name__}: {problem}"[:500])
            counts[DeliveryStatus(_record(row, outcome, round_now).status)] += 1
        if len(rows) < limit:
            break
    return DispatchResult(
        delivered=counts[DeliveryStatus.DELIVERED],
        retrying=counts[DeliveryStatus.PENDING],
        failed=counts[DeliveryStatus.FAILED],
    )
