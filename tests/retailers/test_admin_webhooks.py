"""The webhooks' admin: an admin registers an endpoint and sees its secret once, rotates it,
replays a delivery; other roles and other retailers see nothing to change."""

from __future__ import annotations

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from loyalty_site.sealing import unseal
from retailers.models import Role
from retailers.webhook_models import DeliveryStatus, WebhookDelivery, WebhookEndpoint
from retailers.webhooks import event_emit, webhook_endpoint_create

pytestmark = pytest.mark.django_db


def texts(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_an_admin_registers_an_endpoint_and_sees_its_secret_once(client, retailer, staff_user):
    client.force_login(staff_user)
    response = client.post(
        reverse("admin:retailers_webhookendpoint_add"),
        {
            "retailer": retailer.pk,
            "url": "https://hooks.example.com/in",
            "event_types": ["points.changed", "bonus.redeemed"],
            "is_active": "on",
        },
        follow=True,
    )
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.event_types == ["points.changed", "bonus.redeemed"]
    secret = unseal(endpoint.secret)
    assert any(secret in text for text in texts(response))
    page = client.get(reverse("admin:retailers_webhookendpoint_change", args=[endpoint.pk]))
    assert secret not in page.content.decode()


def test_plain_http_is_refused_in_the_form(client, retailer, staff_user):
    client.force_login(staff_user)
    response = client.post(
        reverse("admin:retailers_webhookendpoint_add"),
        {"retailer": retailer.pk, "url": "http://example.com/", "event_types": ["points.changed"]},
    )
    assert response.status_code == 200
    assert "https://" in response.content.decode()
    assert not WebhookEndpoint.objects.exists()


def test_rotate_action_shows_the_new_secret(client, retailer, staff_user):
    client.force_login(staff_user)
    endpoint, old = webhook_endpoint_create(
        retailer_id=retailer.pk, url="https://h.example.com/", event_types=["points.changed"]
    )
    response = client.post(
        reverse("admin:retailers_webhookendpoint_changelist"),
        {"action": "rotate_secret", "_selected_action": [endpoint.pk]},
        follow=True,
    )
    endpoint.refresh_from_db()
    new = unseal(endpoint.secret)
    assert (unseal(endpoint.previous_secret), new != old) == (old, True)
    assert any(new in text for text in texts(response))


def test_replay_action_puts_a_failed_delivery_back(client, retailer, staff_user, monkeypatch):
    monkeypatch.setattr("retailers.webhooks.async_task", lambda *args: None)
    webhook_endpoint_create(
        retailer_id=retailer.pk, url="https://h.example.com/", event_types=["points.changed"]
    )
    event_emit(retailer_id=retailer.pk, type="points.changed", data={})
    WebhookDelivery.objects.update(status=DeliveryStatus.FAILED)
    client.force_login(staff_user)
    client.post(
        reverse("admin:retailers_webhookdelivery_changelist"),
        {"action": "replay", "_selected_action": [WebhookDelivery.objects.get().pk]},
    )
    assert WebhookDelivery.objects.get().status == DeliveryStatus.PENDING


def test_an_analyst_cannot_see_endpoints(client, retailer, make_staff):
    client.force_login(make_staff(retailer, Role.ANALYST))
    assert client.get(reverse("admin:retailers_webhookendpoint_changelist")).status_code == 403


def test_another_retailers_admin_sees_no_endpoint(client, retailer, other_retailer, make_staff):
    webhook_endpoint_create(
        retailer_id=retailer.pk, url="https://h.example.com/", event_types=["points.changed"]
    )
    client.force_login(make_staff(other_retailer, Role.ADMIN))
    page = client.get(reverse("admin:retailers_webhookendpoint_changelist"))
    assert page.status_code == 200
    assert "h.example.com" not in page.content.decode()
