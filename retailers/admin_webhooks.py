"""Admin of the webhooks: endpoints (retailer admins; the secret is shown once), the outbox's
events and the deliveries with their answers and a "Replay" action."""

from __future__ import annotations

from typing import Any, ClassVar

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from retailers.admin_mixins import ReadOnlyScopedAdmin, RetailerScopedAdmin
from retailers.models import Role
from retailers.webhook_models import (
    OutboxEvent,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEventType,
)
from retailers.webhooks import (
    secret_issue,
    webhook_delivery_replay,
    webhook_endpoint_rotate_secret,
)

RelatedOnly = admin.RelatedOnlyFieldListFilter


class WebhookEndpointForm(forms.ModelForm):
    url = forms.URLField(max_length=500, assume_scheme="https")
    event_types = forms.MultipleChoiceField(
        choices=WebhookEventType.choices, widget=forms.CheckboxSelectMultiple
    )

    class Meta:
        model = WebhookEndpoint
        fields = ("retailer", "url", "event_types", "description", "is_active")


def _show_secret(request: HttpRequest, endpoint: WebhookEndpoint, secret: str) -> None:
    messages.warning(
        request,
        f"Signing secret of {endpoint.url}: {secret} - copy it now, it is not shown again.",
    )


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(RetailerScopedAdmin):
    """Only the retailer's admins register addresses that receive its data."""

    role_required: ClassVar[dict[str, str]] = {
        "view": Role.ADMIN,
        "add": Role.ADMIN,
        "change": Role.ADMIN,
        "delete": Role.ADMIN,
    }
    form = WebhookEndpointForm
    list_display = ("url", "retailer", "types", "is_active", "created_at")
    list_filter = (("retailer", RelatedOnly), "is_active")
    search_fields = ("url", "description")
    list_select_related = ("retailer",)
    actions = ("rotate_secret",)

    @admin.display(description="event types")
    def types(self, endpoint: WebhookEndpoint) -> str:
        return ", ".join(endpoint.event_types)

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        secret, obj.secret = secret_issue()  # the database keeps it sealed; shown here once
        super().save_model(request, obj, form, change)
        _show_secret(request, obj, secret)

    @admin.action(description="Rotate the signing secret (the old one signs for a grace period)")
    def rotate_secret(self, request: HttpRequest, queryset: QuerySet[WebhookEndpoint]) -> None:
        for endpoint in queryset:
            if self.has_change_permission(request, endpoint):
                rotated, secret = webhook_endpoint_rotate_secret(endpoint_id=endpoint.pk)
                _show_secret(request, rotated, secret)


@admin.register(OutboxEvent)
class OutboxEventAdmin(ReadOnlyScopedAdmin):
    list_display = ("event_id", "type", "retailer", "created_at")
    list_filter = (("retailer", RelatedOnly), "type")
    search_fields = ("event_id",)
    list_select_related = ("retailer",)


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyScopedAdmin):
    """Every delivery with its last answer code; "Replay" sends the same event again."""

    list_display = (
        "event",
        "endpoint",
        "status",
        "attempts",
        "last_status_code",
        "last_attempt_at",
        "next_attempt_at",
    )
    list_filter = (("retailer", RelatedOnly), "status", "event__type")
    search_fields = ("event__event_id", "endpoint__url")
    list_select_related = ("event", "endpoint")
    raw_id_fields = ("event", "endpoint")
    actions = ("replay",)

    @admin.action(description="Replay: send the event again")
    def replay(self, request: HttpRequest, queryset: QuerySet[WebhookDelivery]) -> None:
        replayed = 0
        for delivery in queryset:
            if self._allowed(request, "add", delivery):
                webhook_delivery_replay(delivery_id=delivery.pk)
                replayed += 1
        self.message_user(request, f"{replayed} deliveries queued to be sent again.")
