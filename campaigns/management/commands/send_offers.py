"""``manage.py send_offers``: send one batch of due offer e-mails per retailer now (what the
per-minute schedule does), and print what happened."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from campaigns.services.delivery import deliveries_send_due


class Command(BaseCommand):
    help = "Send one batch of due offer e-mails per retailer (the schedule does this every minute)."

    def handle(self, *args: Any, **options: Any) -> None:
        outcomes = deliveries_send_due()
        summary = ", ".join(f"{n} {state}" for state, n in sorted(outcomes.items()))
        self.stdout.write(f"offer e-mails: {summary or 'none due'}")
