"""Facts about the django-q2 queues that services need (from ``settings.Q_CLUSTER``)."""

from __future__ import annotations

from django.conf import settings


def queue_timeout(cluster: str | None = None) -> int:
    """Seconds after which django-q2 kills a task on ``cluster`` (``None``: the default queue)."""
    conf = settings.Q_CLUSTER
    alt = conf.get("ALT_CLUSTERS", {}).get(cluster, {}) if cluster else {}
    return int(alt.get("timeout", conf["timeout"]))
