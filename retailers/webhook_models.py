"""Webhooks for other systems: endpoints, the transactional outbox and its deliveries.

They live in ``retailers`` (the lowest app layer) because events are written by every layer above:
``customers`` (points changed), ``campaigns`` (campaigns, bonuses, promotions). An event is an
:class:`OutboxEvent` row written in the same transaction as the change it reports, with one
:class:`WebhookDelivery` per subscribed endpoint; the deliveries are sent afterwards by
``retailers.webhook_delivery`` (see docs/webhooks.md).
"""

from __future__ import annotations

import uuid
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from retailers.tenancy import RetailerOwned


class WebhookEventType(models.TextChoices):
    """Every event type an endpoint may subscribe to (the ``type`` of the payload)."""

    CAMPAIGN_APPROVED = "campaign.approved", "Campaign approved"
    CAMPAIGN_CLOSED = "campaign.closed", "Campaign closed"
    BONUS_ISSUED = "bonus.issued", "Bonuses issued"
    BONUS_REDEEMED = "bonus.redeemed", "Bonus redeemed"
    BONUS_EXPIRED = "bonus.expired", "Bonuses expired"
    POINTS_CHANGED = "points.changed", "Points changed"
    PROMOTION_APPROVED = "promotion.approved", "Promotion approved"


class WebhookEndpoint(RetailerOwned):
    """An HTTPS address of the retailer's that receives the event types it subscribed to.

    ``secret`` signs every delivery (HMAC-SHA256); it is shown once, when the endpoint is created
    or its secret rotated. After a rotation ``previous_secret`` keeps signing too until
    ``previous_secret_until``, so the receiver can switch over without losing events. Both are
    stored sealed (``loyalty_site.sealing``: a token only ``SECRET_KEY`` opens), never as they are.
    """

    url = models.URLField(max_length=500, help_text="HTTPS address that receives POSTed events.")
    event_types = models.JSONField(default=list, help_text="Event types sent to this address.")
    description = models.CharField(max_length=200, blank=True)
    is_active = models.BooleanField(default=True)
    secret = models.CharField(max_length=255, editable=False, help_text="Sealed.")
    previous_secret = models.CharField(
        max_length=255, blank=True, editable=False, help_text="Sealed."
    )
    previous_secret_until = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["retailer", "url"]

    def __str__(self) -> str:
        return self.url

    def clean(self) -> None:
        """HTTPS only (plain HTTP to this machine when ``WEBHOOK_ALLOW_LOCAL_HTTP``), and a
        non-empty list of known event types."""
        super().clean()
        errors: dict[str, str] = {}
        try:
            webhook_url_check(self.url)
        except ValidationError as error:
            errors["url"] = error.messages[0]
        known = set(WebhookEventType.values)
        types = self.event_types if isinstance(self.event_types, list) else None
        if not types or not all(isinstance(t, str) and t in known for t in types):
            errors["event_types"] = "Choose one or more of: " + ", ".join(sorted(known)) + "."
        if errors:
            raise ValidationError(errors)


#: Hosts that may be reached over plain HTTP when ``WEBHOOK_ALLOW_LOCAL_HTTP`` is set.
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


def webhook_url_check(url: str) -> None:
    """Raise ``ValidationError`` unless ``url`` may receive webhooks (checked again at send)."""
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return
    local = parts.scheme == "http" and parts.hostname in LOCAL_HOSTS
    if local and settings.WEBHOOK_ALLOW_LOCAL_HTTP:
        return
    raise ValidationError(f"Webhook addresses must use https:// ({url!r} does not).")


class OutboxEvent(RetailerOwned):
    """One domain event, written in the transaction of the change it reports (never edited)."""

    event_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    type = models.CharField(max_length=40, choices=WebhookEventType.choices)
    payload = models.JSONField(help_text="The JSON body sent to the endpoints.")
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["retailer", "created_at"], name="outbox_retailer_created")]

    def __str__(self) -> str:
        return f"{self.type} {self.event_id}"


class DeliveryStatus(models.TextChoices):
    """pending -> delivered | failed (a replay puts a row back to pending)."""

    PENDING = "pending", "Pending"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed (gave up)"


class WebhookDelivery(RetailerOwned):
    """One event sent to one endpoint: its attempts, the last answer and when to try again.

    ``next_attempt_at`` also serves as the lease of a claimed row: the sender pushes it past the
    request's timeout when it claims the row, so a worker that died mid-request leaves a row that
    becomes due again instead of one stuck "sending".
    """

    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries"
    )
    event = models.ForeignKey(OutboxEvent, on_delete=models.CASCADE, related_name="deliveries")
    status = models.CharField(
        max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    window_started_at = models.DateTimeField(help_text="Retries stop a day after this.")
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    response_excerpt = models.CharField(max_length=500, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    history = models.JSONField(default=list, blank=True, help_text="The latest attempts.")

    class Meta:
        ordering = ["-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["endpoint", "event"], name="webhook_delivery_once_per_endpoint"
            )
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(status="pending"),
                name="webhook_delivery_due",
            )
        ]
        verbose_name_plural = "webhook deliveries"

    def __str__(self) -> str:
        return f"{self.event} -> {self.endpoint} ({self.status})"
