"""Webhook services: register an endpoint, rotate its secret, emit an event, replay a delivery.

:func:`event_emit` is what the domain services call, inside their own transaction: it writes the
:class:`OutboxEvent` and one pending :class:`WebhookDelivery` per active endpoint subscribed to
the type, so the event exists exactly when the change it reports was committed. The deliveries
are sent afterwards by :mod:`retailers.webhook_delivery`: a commit hook nudges the sender and a
schedule runs it every minute. Nothing here touches the network, and an error in the nudge is
logged, never raised into the request that caused the event.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from typing import Any

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django_q.tasks import async_task

from loyalty_site.sealing import reseal, seal, unseal
from retailers.webhook_models import (
    DeliveryStatus,
    OutboxEvent,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEventType,
)
from retailers.webhook_signing import secret_generate

logger = logging.getLogger(__name__)

#: The django-q2 task that sends due deliveries (also scheduled every minute).
DISPATCH_TASK = "retailers.tasks.webhook_deliveries_dispatch_task"


def _nudge() -> None:
    """Queue the sender; a broker error is logged only (the schedule picks the rows up anyway)."""
    try:
        async_task(DISPATCH_TASK)
    except Exception:
        logger.exception("Could not queue the webhook sender; the schedule will send the events.")


def _json_safe(data: dict[str, Any]) -> dict[str, Any]:
    """``data`` with Decimals, dates and UUIDs as the strings the receivers get."""
    return json.loads(json.dumps(data, cls=DjangoJSONEncoder))


def _subscribed(type: str) -> QuerySet[WebhookEndpoint]:
    return WebhookEndpoint.objects.filter(is_active=True, event_types__contains=[type])


def webhook_subscribed(*, retailer_id: int, type: str) -> bool:
    """Whether an active endpoint of the retailer wants ``type`` (skip building a payload)."""
    return _subscribed(type).filter(retailer_id=retailer_id).exists()


def webhook_subscribers(*, type: str) -> set[int]:
    """Ids of the retailers with an active endpoint that wants ``type``."""
    return set(_subscribed(type).values_list("retailer_id", flat=True))


def event_emit(
    *, retailer_id: int, type: str, data: dict[str, Any], now: dt.datetime | None = None
) -> OutboxEvent | None:
    """Record the event ``type`` with ``data`` for the retailer's subscribed endpoints.

    Call it inside the transaction of the change: a rollback removes the event with the change.
    Returns the event, or ``None`` when no active endpoint subscribes to ``type`` (nothing is
    written; the check is one indexed query).
    """
    endpoints = list(_subscribed(type).filter(retailer_id=retailer_id).values_list("pk", flat=True))
    if not endpoints:
        return None
    now = now or timezone.now()
    event = OutboxEvent(retailer_id=retailer_id, type=type, created_at=now, payload={})
    event.payload = {
        "id": str(event.event_id),
        "type": type,
        "created": now.isoformat(),
        "data": _json_safe(data),
    }
    event.save()
    WebhookDelivery.objects.bulk_create(
        WebhookDelivery(
            retailer_id=retailer_id,
            endpoint_id=endpoint_id,
            event=event,
            next_attempt_at=now,
            window_started_at=now,
        )
        for endpoint_id in endpoints
    )
    transaction.on_commit(_nudge, robust=True)
    return event


def secret_issue() -> tuple[str, str]:
    """A new signing secret: as it is (shown once, to the admin) and sealed (what is stored)."""
    secret = secret_generate()
    return secret, seal(secret)


@transaction.atomic
def webhook_endpoint_create(
    *, retailer_id: int, url: str, event_types: list[str], description: str = ""
) -> tuple[WebhookEndpoint, str]:
    """Register ``url`` for ``event_types``; returns the endpoint and its secret (shown once).

    Raises:
        ValidationError: the address is not HTTPS, or an event type is unknown.
    """
    secret, sealed = secret_issue()
    endpoint = WebhookEndpoint(
        retailer_id=retailer_id,
        url=url,
        event_types=list(event_types),
        description=description,
        secret=sealed,
    )
    endpoint.full_clean()
    endpoint.save()
    return endpoint, secret


@transaction.atomic
def webhook_endpoint_rotate_secret(
    *, endpoint_id: int, now: dt.datetime | None = None
) -> tuple[WebhookEndpoint, str]:
    """Give the endpoint a new secret (returned, shown once); the old one keeps signing beside
    it for ``WEBHOOK_SECRET_GRACE_SECONDS`` so the receiver can switch without losing events."""
    now = now or timezone.now()
    endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint_id)
    endpoint.previous_secret = endpoint.secret  # still sealed
    endpoint.previous_secret_until = now + dt.timedelta(
        seconds=settings.WEBHOOK_SECRET_GRACE_SECONDS
    )
    secret, endpoint.secret = secret_issue()
    endpoint.save(update_fields=["secret", "previous_secret", "previous_secret_until"])
    return endpoint, secret


def endpoint_signing_secrets(endpoint: WebhookEndpoint, *, now: dt.datetime) -> list[str]:
    """The secrets that sign a delivery at ``now``: the current one, then a rotated-out one
    still within its grace period (unsealed).

    Raises:
        SecretUnreadable: ``SECRET_KEY`` changed without the old key among the fallbacks.
    """
    found = [unseal(endpoint.secret)]
    until = endpoint.previous_secret_until
    if endpoint.previous_secret and until is not None and now < until:
        found.append(unseal(endpoint.previous_secret))
    return found


def webhook_secrets_reseal() -> int:
    """Seal every endpoint's secrets again under the current ``SECRET_KEY`` (after a key
    rotation, while the old key is still in ``SECRET_KEY_FALLBACKS``); returns the endpoints.

    Raises:
        SecretUnreadable: a secret opens under none of the keys; nothing was changed.
    """
    with transaction.atomic(durable=True):
        endpoints = list(WebhookEndpoint.objects.select_for_update().order_by("pk"))
        for endpoint in endpoints:
            endpoint.secret = reseal(endpoint.secret)
            if endpoint.previous_secret:
                endpoint.previous_secret = reseal(endpoint.previous_secret)
        WebhookEndpoint.objects.bulk_update(endpoints, ["secret", "previous_secret"])
    return len(endpoints)


@transaction.atomic
def webhook_delivery_replay(*, delivery_id: int, now: dt.datetime | None = None) -> WebhookDelivery:
    """Send a delivery again (admin "Replay"): pending now, with a fresh day of retries.

    The same event id and body are sent, so a receiver that already processed it can tell.
    """
    now = now or timezone.now()
    delivery = WebhookDelivery.objects.select_for_update().get(pk=delivery_id)
    delivery.status = DeliveryStatus.PENDING
    delivery.next_attempt_at = now
    delivery.window_started_at = now
    delivery.save(update_fields=["status", "next_attempt_at", "window_started_at"])
    transaction.on_commit(_nudge, robust=True)
    return delivery


def outbox_events_purge(*, now: dt.datetime | None = None) -> int:
    """Delete events older than ``WEBHOOK_KEEP_DAYS`` whose every delivery is finished
    (delivered or failed), with their deliveries (the daily schedule). A delivery still pending
    keeps its event. Returns the number of events deleted."""
    now = now or timezone.now()
    cutoff = now - dt.timedelta(days=settings.WEBHOOK_KEEP_DAYS)
    old = OutboxEvent.objects.filter(created_at__lt=cutoff).exclude(
        deliveries__status=DeliveryStatus.PENDING
    )
    _, by_model = old.delete()
    return by_model.get(OutboxEvent._meta.label, 0)


__all__ = [
    "DISPATCH_TASK",
    "WebhookEventType",
    "endpoint_signing_secrets",
    "event_emit",
    "outbox_events_purge",
    "webhook_delivery_replay",
    "webhook_endpoint_create",
    "webhook_endpoint_rotate_secret",
    "webhook_subscribed",
    "webhook_subscribers",
]
