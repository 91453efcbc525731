"""manage.py reseal_secrets: seal every webhook secret again under the current SECRET_KEY.

Run after a key rotation, while the old key is still in DJANGO_SECRET_KEY_FALLBACKS; then the
fallback can go (docs/webhooks.md, "Secrets")."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from loyalty_site.sealing import SecretUnreadable
from retailers.webhooks import webhook_secrets_reseal


class Command(BaseCommand):
    help = "Seal the webhook endpoints' secrets again under the current SECRET_KEY."

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            count = webhook_secrets_reseal()
        except SecretUnreadable as exc:
            raise CommandError(f"nothing changed: {exc}") from None
        self.stdout.write(
            f"Sealed the secrets of {count} webhook endpoint(s) under the current key."
        )
