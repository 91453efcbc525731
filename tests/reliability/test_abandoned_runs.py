"""Runs whose worker died or was stopped: heartbeats, abandoned detection after a few minutes
(``RUN_ABANDONED_AFTER_SECONDS``), and restarting from the run's page (analyst and up, audited).

The clock is pinned with time-machine; heartbeats are set relative to it.
"""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.urls import reverse

from campaigns.models import AuditEntry
from loyalty_site.workers import WorkerStopping
from optimizer.exceptions import ScoringRunAlreadyActive
from optimizer.models import ScoringRun
from optimizer.services import scoring_run_create, scoring_run_execute
from optimizer.services.restart import run_restart
from optimizer.services.runs import SCORING
from retailers.lifecycle import RunNotRestartable, run_stage
from retailers.models import Role, RunStatus
from tests.customers.factories import CustomerFactory
from tests.optimizer.factories import AS_OF, ScoringRunFactory

pytestmark = pytest.mark.django_db
NOW = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)
TASK = "optimizer.tasks.scoring_run_execute_task"


@pytest.fixture(autouse=True)
def pinned_clock(settings):
    settings.RUN_ABANDONED_AFTER_SECONDS = 300
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def queued_tasks(monkeypatch):
    calls = []
    monkeypatch.setattr("retailers.lifecycle.async_task", lambda *a, **k: calls.append(a))
    return calls


@pytest.fixture
def member(retailer):
    return CustomerFactory(retailer=retailer, enrolled_on=AS_OF - dt.timedelta(days=100))


def running(retailer, *, silent_for: dt.timedelta, **fields) -> ScoringRun:
    """A run a worker claimed, that last beat ``silent_for`` ago."""
    beat = NOW - silent_for
    return ScoringRunFactory(
        retailer=retailer,
        status=RunStatus.RUNNING,
        attempt=1,
        started_at=beat - dt.timedelta(minutes=1),
        heartbeat_at=beat,
        stage="fitting the models",
        **fields,
    )


def test_a_run_silent_for_a_few_minutes_is_abandoned_and_no_longer_blocks(
    retailer, member, queued_tasks
):
    stuck = running(retailer, silent_for=dt.timedelta(minutes=6))
    assert stuck.is_abandoned()
    run = scoring_run_create(retailer=retailer, as_of=AS_OF)
    stuck.refresh_from_db()
    assert (stuck.status, run.status) == (RunStatus.FAILED, RunStatus.QUEUED)
    assert stuck.error.startswith("abandoned: no worker reported progress since 2026-12-01")
    assert "fitting the models" in stuck.error
    assert stuck.was_abandoned


def test_a_run_that_beat_recently_still_blocks_a_new_one(retailer, member, queued_tasks):
    live = running(retailer, silent_for=dt.timedelta(minutes=4))
    assert not live.is_abandoned()
    with pytest.raises(ScoringRunAlreadyActive):
        scoring_run_create(retailer=retailer, as_of=AS_OF)
    live.refresh_from_db()
    assert live.status == RunStatus.RUNNING


def test_the_threshold_is_configurable(retailer, settings):
    run = running(retailer, silent_for=dt.timedelta(minutes=6))
    settings.RUN_ABANDONED_AFTER_SECONDS = 600
    assert not run.is_abandoned()


def test_stages_beat_the_heartbeat(retailer):
    run = running(retailer, silent_for=dt.timedelta(minutes=4))
    run_stage(run, 40, "solving")
    run.refresh_from_db()
    assert (run.progress, run.stage, run.heartbeat_at) == (40, "solving", NOW)


def test_a_stopped_worker_fails_its_run_as_abandoned_and_it_can_be_restarted(
    retailer, member, queued_tasks, monkeypatch, make_staff, django_capture_on_commit_callbacks
):
    run = scoring_run_create(retailer=retailer, as_of=AS_OF, enqueue=False)

    def stopped(run, **kwargs):
        raise WorkerStopping

    monkeypatch.setattr("optimizer.services.runs._fit_stage", stopped)
    after = scoring_run_execute(run_id=run.pk)
    assert after.status == RunStatus.FAILED
    assert after.error == (
        "abandoned: the worker was stopped (SIGTERM) during 'reading the training sample'"
    )
    assert after.was_abandoned
    # No longer blocks: another request could start a run; here the analyst restarts this one.
    analyst = make_staff(retailer, Role.ANALYST)
    with django_capture_on_commit_callbacks(execute=True):
        restarted = run_restart(run=after, actor=analyst)
    assert (restarted.status, restarted.error, restarted.attempt) == (RunStatus.QUEUED, "", 1)
    assert queued_tasks == [(TASK, run.pk)]
    entry = AuditEntry.objects.get(object_id=run.pk, action="restart")
    assert (entry.actor, entry.from_state, entry.to_state) == (analyst, "failed", "queued")
    assert entry.comment.startswith("abandoned: the worker was stopped")


def test_restart_refuses_a_run_that_did_not_die(retailer, make_staff, queued_tasks):
    analyst = make_staff(retailer, Role.ANALYST)
    for run in (
        ScoringRunFactory(retailer=retailer, status=RunStatus.SUCCEEDED),
        ScoringRunFactory(retailer=retailer, status=RunStatus.FAILED, error="ValueError: bad"),
        running(retailer, silent_for=dt.timedelta(minutes=1)),
    ):
        with pytest.raises(RunNotRestartable, match="only a run whose worker died"):
            run_restart(run=run, actor=analyst)
    assert queued_tasks == []
    assert not AuditEntry.objects.filter(action="restart").exists()


def test_restart_of_a_silent_running_run_abandons_it_first(retailer, make_staff, queued_tasks):
    run = running(retailer, silent_for=dt.timedelta(minutes=10))
    restarted = run_restart(run=run, actor=make_staff(retailer, Role.ANALYST))
    assert restarted.status == RunStatus.QUEUED
    entry = AuditEntry.objects.get(object_id=run.pk, action="restart")
    assert entry.comment.startswith("abandoned: no worker reported progress")


@pytest.mark.parametrize(
    ("role", "allowed"), [(Role.VIEWER, False), (Role.ANALYST, True), (Role.APPROVER, True)]
)
def test_the_run_page_restarts_an_abandoned_run_for_analysts_and_up(
    client, retailer, make_staff, queued_tasks, role, allowed, django_capture_on_commit_callbacks
):
    run = running(retailer, silent_for=dt.timedelta(minutes=10))
    client.force_login(make_staff(retailer, role))
    page = client.get(reverse("optimizer:run-detail", args=[run.pk])).content.decode()
    assert "it is abandoned and no longer blocks new runs" in page
    restart_url = reverse("optimizer:run-restart", args=[run.pk])
    assert (restart_url in page) is allowed
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(restart_url)
    run.refresh_from_db()
    if allowed:
        assert response.status_code == 302
        assert run.status == RunStatus.QUEUED
        assert queued_tasks == [(TASK, run.pk)]
    else:
        assert response.status_code == 403
        assert run.status == RunStatus.RUNNING
        assert queued_tasks == []


def test_the_restart_page_refuses_another_retailers_run(
    client, retailer, other_retailer, make_staff, queued_tasks
):
    run = running(other_retailer, silent_for=dt.timedelta(minutes=10))
    client.force_login(make_staff(retailer, Role.ADMIN))
    response = client.post(reverse("optimizer:run-restart", args=[run.pk]))
    assert response.status_code == 404
    assert queued_tasks == []


def test_the_restarted_run_runs_as_its_next_attempt(retailer, member, monkeypatch, make_staff):
    run = running(retailer, silent_for=dt.timedelta(minutes=10))
    run_restart(run=run, actor=make_staff(retailer, Role.ANALYST))
    seen = []
    monkeypatch.setattr(
        "optimizer.services.runs._fit_stage", lambda run, **kwargs: seen.append(run.attempt) or []
    )
    scoring_run_execute(run_id=run.pk)
    run.refresh_from_db()
    assert seen == [2]
    assert (run.status, run.attempt, run.heartbeat_at) == (RunStatus.RUNNING, 2, NOW)
    assert SCORING.model is ScoringRun


@pytest.mark.django_db(transaction=True)
def test_a_long_step_keeps_its_run_alive_with_periodic_beats(retailer, monkeypatch):
    """The beats of a long step come from a thread: its run is not abandoned meanwhile."""
    import time

    from retailers.lifecycle import beating

    run = running(retailer, silent_for=dt.timedelta(minutes=10))
    beats = []
    monkeypatch.setattr("retailers.lifecycle.beat_every", lambda: 0.05)
    with beating(run):
        for _ in range(200):  # the step: waits for the first beat (10 s at most)
            run.refresh_from_db()
            if run.heartbeat_at == NOW:
                break
            time.sleep(0.05)
        beats.append(run.heartbeat_at)
    assert beats == [NOW]
    assert not run.is_abandoned()
