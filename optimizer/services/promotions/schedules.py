"""One weekly django-q2 schedule per retailer, in its time zone, for its promotion proposal."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone
from django_q.models import Schedule

from optimizer.services.promotions.config import SCHEDULE_PREFIX, SCHEDULE_TASK
from retailers.models import Retailer


def promotion_schedule_name(retailer: Retailer) -> str:
    """The django-q2 schedule name of a retailer's weekly proposal."""
    return f"{SCHEDULE_PREFIX}{retailer.slug}"


def promotion_schedule_next_run(
    *, retailer: Retailer, now: dt.datetime | None = None
) -> dt.datetime:
    """The next ``promotion_weekday`` at ``promotion_hour`` (retailer's time) after ``now``, UTC."""
    local = (now or timezone.now()).astimezone(retailer.tz)
    day = local.date() + dt.timedelta(days=(retailer.promotion_weekday - local.weekday()) % 7)
    when = dt.datetime.combine(day, dt.time(retailer.promotion_hour), tzinfo=retailer.tz)
    if when <= local:
        when = dt.datetime.combine(
            day + dt.timedelta(weeks=1), dt.time(retailer.promotion_hour), tzinfo=retailer.tz
        )
    return when.astimezone(dt.UTC)


def promotion_schedules_sync(
    *, retailers: Any = None, now: dt.datetime | None = None
) -> dict[str, int]:
    """One weekly django-q2 ``Schedule`` per retailer (``update_or_create`` by name); schedules
    of retailers that no longer exist are deleted. Running it twice changes nothing.

    Returns counts: ``created``, ``updated``, ``unchanged``, ``deleted``.
    """
    counts = dict.fromkeys(("created", "updated", "unchanged", "deleted"), 0)
    every = retailers is None
    retailers = list(Retailer.objects.all() if every else retailers)
    for retailer in retailers:
        wanted = {
            "func": SCHEDULE_TASK,
            "args": repr((retailer.pk,)),
            "kwargs": None,
            "schedule_type": Schedule.WEEKLY,
            "repeats": -1,
            "next_run": promotion_schedule_next_run(retailer=retailer, now=now),
        }
        name = promotion_schedule_name(retailer)
        existing = Schedule.objects.filter(name=name).first()
        if existing is not None and all(getattr(existing, k) == v for k, v in wanted.items()):
            counts["unchanged"] += 1
            continue
        _, created = Schedule.objects.update_or_create(name=name, defaults=wanted)
        counts["created" if created else "updated"] += 1
    if every:
        names = [promotion_schedule_name(r) for r in retailers]
        stale = Schedule.objects.filter(name__startswith=SCHEDULE_PREFIX).exclude(name__in=names)
        counts["deleted"] = stale.delete()[0]
    return counts
