"""Create (or update) the django-q2 schedules of the platform. Safe to run any number of times.

It schedules tasks of several apps (retailers, campaigns, optimizer), so it sits in the top layer.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand
from django_q.models import Schedule

from optimizer.services.promotions import promotion_schedules_sync

#: name -> (dotted task path, schedule type, extra fields). Schedules are DB rows, keyed by name.
SCHEDULES: dict[str, tuple[str, str, dict[str, Any]]] = {
    "rewards: expire bonuses and points": (
        "campaigns.tasks.rewards_expire_task",
        Schedule.DAILY,
        {"repeats": -1},
    ),
    "campaigns: close finished campaigns with their results": (
        "optimizer.tasks.campaign_results_task",
        Schedule.DAILY,
        {"repeats": -1},
    ),
    "webhooks: send due deliveries": (
        "retailers.tasks.webhook_deliveries_dispatch_task",
        Schedule.MINUTES,
        {"repeats": -1, "minutes": 1},
    ),
    "webhooks: delete finished events after WEBHOOK_KEEP_DAYS": (
        "retailers.tasks.outbox_events_purge_task",
        Schedule.DAILY,
        {"repeats": -1},
    ),
    "offers: send due offer e-mails": (
        "campaigns.tasks.deliveries_send_task",
        Schedule.MINUTES,
        {"minutes": 1, "repeats": -1},
    ),
    "exports: delete expired export files": (
        "retailers.tasks.export_jobs_expire_task",
        Schedule.DAILY,
        {"repeats": -1},
    ),
}


class Command(BaseCommand):
    help = "Create or update the periodic django-q2 schedules (daily rewards expiry, ...)."

    def handle(self, *args: Any, **options: Any) -> None:
        created = 0
        for name, (func, schedule_type, extra) in SCHEDULES.items():
            _, was_created = Schedule.objects.update_or_create(
                name=name, defaults={"func": func, "schedule_type": schedule_type, **extra}
            )
            created += was_created
        self.stdout.write(f"{len(SCHEDULES)} schedules ({created} created, the rest updated)")
        weekly = promotion_schedules_sync()
        self.stdout.write(f"weekly promotion schedules, one per retailer: {weekly}")
