"""Webhook signing secrets are sealed at rest: the database holds a token only SECRET_KEY (or a
fallback after a rotation) opens; deliveries still sign with the secret; a key rotation goes
through DJANGO_SECRET_KEY_FALLBACKS and ``manage.py reseal_secrets``; a key lost says so."""

from __future__ import annotations

import importlib
from io import StringIO

import pytest
from django.apps import apps as django_apps
from django.core.management import CommandError, call_command
from django.db import connection

from loyalty_site.sealing import SecretUnreadable, seal, unseal
from retailers.webhook_delivery import webhook_deliveries_dispatch
from retailers.webhook_models import WebhookDelivery, WebhookEndpoint
from retailers.webhook_signing import SIGNATURE_HEADER, signature_verify
from retailers.webhooks import (
    endpoint_signing_secrets,
    event_emit,
    webhook_endpoint_create,
    webhook_endpoint_rotate_secret,
)
from tests.retailers.test_webhooks import POINTS, T0, Receiver

pytestmark = pytest.mark.django_db

OLD_KEY = "old-key-" + "o" * 50
NEW_KEY = "new-key-" + "n" * 50


def stored(endpoint_id: int) -> tuple[str, str]:
    """The two secret columns exactly as the database holds them."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT secret, previous_secret FROM retailers_webhookendpoint WHERE id = %s",
            [endpoint_id],
        )
        return cursor.fetchone()


def create(retailer, url="https://hooks.example.com/in"):
    return webhook_endpoint_create(retailer_id=retailer.pk, url=url, event_types=[POINTS])


def test_the_database_never_holds_a_secret_as_it_is(retailer):
    endpoint, secret = create(retailer)
    column, _ = stored(endpoint.pk)
    assert secret.startswith("whsec_")
    assert secret not in column
    assert unseal(column) == secret

    rotated, new = webhook_endpoint_rotate_secret(endpoint_id=endpoint.pk, now=T0)
    current, previous = stored(endpoint.pk)
    assert secret not in previous
    assert new not in current
    assert (unseal(current), unseal(previous)) == (new, secret)
    assert endpoint_signing_secrets(rotated, now=T0) == [new, secret]


def test_a_delivery_is_signed_with_the_unsealed_secret(retailer, settings):
    settings.WEBHOOK_ALLOW_LOCAL_HTTP = True
    receiver = Receiver()
    try:
        _, secret = create(retailer, receiver.url)
        event_emit(retailer_id=retailer.pk, type=POINTS, data={"points": 1}, now=T0)
        assert webhook_deliveries_dispatch(now=T0).delivered == 1
    finally:
        receiver.close()
    [(headers, body)] = receiver.received
    assert signature_verify(
        header=headers[SIGNATURE_HEADER], body=body, secret=secret, now=int(T0.timestamp())
    )


def test_a_key_rotation_keeps_every_secret_through_the_fallback_and_reseal(retailer, settings):
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = OLD_KEY, []
    endpoint, secret = create(retailer)
    webhook_endpoint_rotate_secret(endpoint_id=endpoint.pk, now=T0)
    endpoint.refresh_from_db()
    old_current, old_previous = stored(endpoint.pk)
    new_secret = unseal(old_current)

    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = NEW_KEY, [OLD_KEY]
    assert endpoint_signing_secrets(endpoint, now=T0) == [new_secret, secret]
    out = StringIO()
    call_command("reseal_secrets", stdout=out)
    assert "1 webhook endpoint" in out.getvalue()
    current, previous = stored(endpoint.pk)
    assert (current, previous) != (old_current, old_previous)

    settings.SECRET_KEY_FALLBACKS = []  # the old key can go now
    endpoint.refresh_from_db()
    assert endpoint_signing_secrets(endpoint, now=T0) == [new_secret, secret]


def test_a_lost_key_fails_each_attempt_with_a_clear_error_and_reseal_changes_nothing(
    retailer, settings
):
    settings.WEBHOOK_ALLOW_LOCAL_HTTP = True
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = OLD_KEY, []
    endpoint, _ = create(retailer, "http://127.0.0.1:9/never-reached")
    event_emit(retailer_id=retailer.pk, type=POINTS, data={"points": 1}, now=T0)
    before = stored(endpoint.pk)

    settings.SECRET_KEY = NEW_KEY  # rotated without the fallback
    result = webhook_deliveries_dispatch(now=T0)
    assert result.delivered == 0
    delivery = WebhookDelivery.objects.get()
    assert (delivery.attempts, delivery.last_status_code) == (1, None)
    assert "DJANGO_SECRET_KEY_FALLBACKS" in delivery.last_error

    with pytest.raises(CommandError, match="nothing changed"):
        call_command("reseal_secrets", stdout=StringIO())
    assert stored(endpoint.pk) == before
    with pytest.raises(SecretUnreadable):
        unseal(before[0])


def test_the_migration_seals_the_secrets_stored_before_it(retailer):
    endpoint, _ = create(retailer)
    # A row as it was before migration 0012: both secrets as they are.
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
        secret="whsec_before", previous_secret="whsec_older"
    )
    migration = importlib.import_module("retailers.migrations.0012_webhook_secrets_sealed")
    migration.seal_stored(django_apps, None)
    current, previous = stored(endpoint.pk)
    assert "whsec_" not in current + previous
    assert (unseal(current), unseal(previous)) == ("whsec_before", "whsec_older")

    migration.unseal_stored(django_apps, None)  # and back, when the migration is reversed
    assert stored(endpoint.pk) == ("whsec_before", "whsec_older")


def test_seal_uses_a_fresh_iv_each_time():
    assert seal("whsec_same") != seal("whsec_same")
