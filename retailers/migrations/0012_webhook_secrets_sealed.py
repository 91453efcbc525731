"""Webhook signing secrets are sealed at rest (``loyalty_site.sealing``): the columns grow to hold
a Fernet token, and every stored secret is sealed under the current ``SECRET_KEY``."""

from django.db import migrations, models

from loyalty_site.sealing import seal, unseal


def _each_secret(apps, change):
    Endpoint = apps.get_model("retailers", "WebhookEndpoint")
    endpoints = list(Endpoint.objects.order_by("pk"))
    for endpoint in endpoints:
        endpoint.secret = change(endpoint.secret)
        if endpoint.previous_secret:
            endpoint.previous_secret = change(endpoint.previous_secret)
    Endpoint.objects.bulk_update(endpoints, ["secret", "previous_secret"])


def seal_stored(apps, schema_editor):
    _each_secret(apps, seal)


def unseal_stored(apps, schema_editor):
    _each_secret(apps, unseal)


class Migration(migrations.Migration):
    dependencies = [
        ("retailers", "0011_retailer_allocation_rules_gap_tolerance"),
    ]

    operations = [
        migrations.AlterField(
            model_name="webhookendpoint",
            name="previous_secret",
            field=models.CharField(blank=True, editable=False, help_text="Sealed.", max_length=255),
        ),
        migrations.AlterField(
            model_name="webhookendpoint",
            name="secret",
            field=models.CharField(editable=False, help_text="Sealed.", max_length=255),
        ),
        migrations.RunPython(seal_stored, unseal_stored),
    ]
