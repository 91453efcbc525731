"""Facts about the django-q2 queues that services need (from ``settings.Q_CLUSTER``)."""

from __future__ import annotations

import datetime as dt

from django.conf import settings


def queue_timeout(cluster: str | None = None) -> int:
    """Seconds after which django-q2 kills a task on ``cluster`` (``None``: the default queue)."""
    conf = settings.Q_CLUSTER
    alt = conf.get("ALT_CLUSTERS", {}).get(cluster, {}) if cluster else {}
    return int(alt.get("timeout", conf["timeout"]))


def attempt_is_dead(started_at: dt.datetime | None, now: dt.datetime, cluster: str | None) -> bool:
    """True when a task attempt that started at ``started_at`` can no longer be running.

    django-q2 kills an attempt at its queue's ``timeout`` and re-delivers the task only after
    ``retry`` (> ``timeout``); so a run still marked running past the timeout belongs to a worker
    that died, and a re-delivered task may take it over.
    """
    return started_at is not None and now - started_at > dt.timedelta(
        seconds=queue_timeout(cluster)
    )
