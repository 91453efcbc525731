"""The one abstract run model of every background run (scoring, chunks, allocation, promotions,
imports): its status, heartbeat and timings.

It lives in ``retailers``, the lowest app, so that every app may build on it (import jobs are
retailers' own; runs are the optimizer's); the lifecycle that moves these fields is
:mod:`retailers.lifecycle`. A run goes queued -> running -> succeeded | failed; a run whose
worker stopped beating is failed with a reason starting ``"abandoned:"`` and may be re-queued.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.core.validators import MaxValueValidator
from django.db import models
from django.utils import timezone

from retailers.tenancy import RetailerOwned

#: Prefix of the ``error`` of a run whose worker died or was stopped (a restartable run).
ABANDONED = "abandoned"
#: Seconds without a heartbeat after which a running run counts as abandoned (default 5 minutes).
DEFAULT_ABANDONED_AFTER = 300


class RunStatus(models.TextChoices):
    """Lifecycle of every background run: queued -> running -> succeeded | failed."""

    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


#: Statuses of a run that is not finished (at most one such run per retailer, for most kinds).
ACTIVE_STATUSES: tuple[str, ...] = (RunStatus.QUEUED, RunStatus.RUNNING)
FINISHED_STATUSES: tuple[str, ...] = (RunStatus.SUCCEEDED, RunStatus.FAILED)


def abandoned_after() -> dt.timedelta:
    """How long a running run may go without a heartbeat (``RUN_ABANDONED_AFTER_SECONDS``)."""
    return dt.timedelta(
        seconds=int(getattr(settings, "RUN_ABANDONED_AFTER_SECONDS", DEFAULT_ABANDONED_AFTER))
    )


class RunState(models.Model):
    """Status, timings and the worker's heartbeat: what any unit of background work records
    (a run, or one chunk of a run)."""

    status = models.CharField(max_length=16, choices=RunStatus.choices, default=RunStatus.QUEUED)
    timings = models.JSONField(default=dict, blank=True, help_text="Seconds per stage.")
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(
        null=True, blank=True, help_text="Last sign of life of a worker on this run."
    )
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True

    @property
    def is_active(self) -> bool:
        """Queued or running."""
        return self.status in ACTIVE_STATUSES

    def is_abandoned(self, now: dt.datetime | None = None) -> bool:
        """Running, but no worker has beaten for :func:`abandoned_after` (its worker is gone)."""
        if self.status != RunStatus.RUNNING:
            return False
        last = self.heartbeat_at or self.started_at
        return last is not None and (now or timezone.now()) - last > abandoned_after()

    @property
    def duration_seconds(self) -> float | None:
        """Seconds from start to finish (``None`` until both are known)."""
        if self.started_at is None or self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()


class BackgroundRun(RetailerOwned, RunState):
    """A retailer's run started by someone: progress, stage, attempts, error and author."""

    progress = models.PositiveSmallIntegerField(
        default=0, validators=[MaxValueValidator(100)], help_text="Percent done."
    )
    stage = models.CharField(max_length=100, blank=True)
    attempt = models.PositiveSmallIntegerField(
        default=0, help_text="Incremented each time a worker (re)starts the run."
    )
    error = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        abstract = True

    @property
    def was_abandoned(self) -> bool:
        """Failed because its worker died or was stopped: it may be restarted as it is."""
        return self.status == RunStatus.FAILED and self.error.startswith(ABANDONED)
