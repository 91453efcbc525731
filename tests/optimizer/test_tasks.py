"""django-q2 entry points: safe to deliver twice, chunk by chunk."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from django.db import connection, transaction
from django.utils import timezone

from loyalty_site.queues import queue_timeout
from optimizer.models import CustomerScore, ScoringChunk, ScoringRun
from optimizer.services import scoring_run_create
from optimizer.tasks import scoring_chunk_task, scoring_run_execute_task
from retailers.models import RunStatus
from tests.optimizer.factories import AS_OF, synthetic_tenant
from tests.retailers.factories import RetailerFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def queued_tasks(monkeypatch):
    """Tasks the services queue (recorded, not run): the test plays the workers."""
    calls = []
    monkeypatch.setattr(
        "retailers.lifecycle.async_task", lambda *args, **kwargs: calls.append((args, kwargs))
    )
    return calls


@pytest.fixture
def chunked_run(retailer, scoring_settings, queued_tasks, django_capture_on_commit_callbacks):
    """A run of 40 customers in chunks of 15, fitted, with its three chunk tasks queued."""
    scoring_settings.SCORING_CHUNK_CUSTOMERS = 15
    synthetic_tenant(retailer, customers=40, seed=2)
    with django_capture_on_commit_callbacks(execute=True):
        run = scoring_run_create(retailer=retailer, as_of=AS_OF)
    with django_capture_on_commit_callbacks(execute=True):
        assert scoring_run_execute_task(run.pk) == RunStatus.RUNNING
    return ScoringRun.objects.get(pk=run.pk)


def test_execute_task_fits_once_and_queues_one_task_per_chunk(chunked_run, queued_tasks):
    run = chunked_run
    assert (run.chunks_total, run.chunks_done, run.attempt) == (3, 0, 1)
    assert queued_tasks[0] == (
        ("optimizer.tasks.scoring_run_execute_task", run.pk),
        {"cluster": "long"},
    )
    assert queued_tasks[1:] == [
        (("optimizer.tasks.scoring_chunk_task", run.pk, 1, index), {"cluster": "long"})
        for index in range(3)
    ]
    assert run.progress == 30
    assert run.stage == "scoring 3 chunk(s)"
    # Delivered again while its chunks are being scored: nothing is refitted or requeued.
    assert scoring_run_execute_task(run.pk) == RunStatus.RUNNING
    assert len(queued_tasks) == 4
    assert ScoringRun.objects.get(pk=run.pk).attempt == 1


def test_chunk_task_delivered_twice_counts_once(chunked_run):
    run = chunked_run
    assert scoring_chunk_task(run.pk, 1, 0) == "succeeded"
    rows = set(CustomerScore.objects.filter(run=run).values_list("pk", flat=True))
    assert scoring_chunk_task(run.pk, 1, 0) == "succeeded"  # already done: nothing changes
    run.refresh_from_db()
    assert run.chunks_done == 1
    assert set(CustomerScore.objects.filter(run=run).values_list("pk", flat=True)) == rows
    assert (run.status, run.stage) == (RunStatus.RUNNING, "scored 1 of 3 chunks")
    assert 30 < run.progress < 100
    assert scoring_chunk_task(run.pk, 1, 2) == "succeeded"
    assert scoring_chunk_task(run.pk, 1, 1) == "succeeded"  # the last one finalises
    run.refresh_from_db()
    assert (run.status, run.progress, run.chunks_done) == (RunStatus.SUCCEEDED, 100, 3)
    assert CustomerScore.objects.filter(run=run).count() == run.customers_scored == 40
    assert scoring_chunk_task(run.pk, 1, 1) == "stale"  # the run is finished
    assert scoring_run_execute_task(run.pk) == RunStatus.SUCCEEDED


def test_chunk_task_of_an_earlier_attempt_does_nothing(chunked_run):
    assert scoring_chunk_task(chunked_run.pk, 0, 0) == "stale"
    assert scoring_chunk_task(chunked_run.pk, 1, 99) == "stale"
    assert not CustomerScore.objects.filter(run=chunked_run).exists()


def test_chunk_task_leaves_a_live_chunk_alone_and_takes_over_a_dead_one(chunked_run):
    chunk = ScoringChunk.objects.get(run=chunked_run, index=0)
    ScoringChunk.objects.filter(pk=chunk.pk).update(
        status=RunStatus.RUNNING, started_at=timezone.now()
    )
    assert scoring_chunk_task(chunked_run.pk, 1, 0) == "running"
    dead = timezone.now() - dt.timedelta(seconds=queue_timeout("long") + 1)
    ScoringChunk.objects.filter(pk=chunk.pk).update(started_at=dead)
    assert scoring_chunk_task(chunked_run.pk, 1, 0) == "succeeded"
    assert ScoringRun.objects.get(pk=chunked_run.pk).chunks_done == 1


def test_a_chunk_finishing_after_the_run_failed_writes_nothing(chunked_run):
    ScoringRun.objects.filter(pk=chunked_run.pk).update(status=RunStatus.FAILED)
    assert scoring_chunk_task(chunked_run.pk, 1, 0) == "stale"
    assert not CustomerScore.objects.filter(run=chunked_run).exists()


def test_tasks_run_end_to_end_in_q_sync_mode(
    retailer, scoring_settings, django_capture_on_commit_callbacks
):
    """settings_test runs django-q2 tasks in-process: create -> execute -> chunks -> done."""
    scoring_settings.SCORING_CHUNK_CUSTOMERS = 20
    synthetic_tenant(retailer, customers=40, seed=3)
    with django_capture_on_commit_callbacks(execute=True):
        run = scoring_run_create(retailer=retailer, as_of=AS_OF)
    run.refresh_from_db()
    assert (run.status, run.chunks_total, run.chunks_done) == (RunStatus.SUCCEEDED, 2, 2)
    assert CustomerScore.objects.filter(run=run).count() == 40


@pytest.mark.django_db(transaction=True)
def test_chunks_writing_at_the_same_time_do_not_wait_for_each_other(
    scoring_settings, monkeypatch, django_capture_on_commit_callbacks
):
    """A chunk still inserting its scores holds a foreign-key share lock on the run row; the
    next chunk's lock on that row must not wait for it (it did, and timed out, with FOR UPDATE
    on PostgreSQL; FOR NO KEY UPDATE does not conflict)."""
    monkeypatch.setattr("retailers.lifecycle.async_task", lambda *args, **kwargs: None)
    scoring_settings.SCORING_CHUNK_CUSTOMERS = 20
    retailer = RetailerFactory(slug="locks")
    synthetic_tenant(retailer, customers=40, seed=2)
    run = scoring_run_create(retailer=retailer, as_of=AS_OF)
    scoring_run_execute_task(run.pk)
    last_chunk = ScoringChunk.objects.get(run=run, index=1)
    writing, release = threading.Event(), threading.Event()

    def other_chunk_inserting() -> None:
        try:
            with transaction.atomic():
                CustomerScore.objects.filter(run=run).delete()  # nothing: just a transaction
                with connection.cursor() as cursor:  # the foreign-key check of an insert
                    cursor.execute(
                        "SELECT 1 FROM optimizer_scoringrun WHERE id = %s FOR KEY SHARE", [run.pk]
                    )
                writing.set()
                release.wait(30)
        finally:
            connection.close()

    thread = threading.Thread(target=other_chunk_inserting)
    thread.start()
    try:
        assert writing.wait(30)
        assert scoring_chunk_task(run.pk, 1, 0) == "succeeded"
        # It finished while the other chunk still held its lock: it never waited for it (a
        # wait would end in the lock timeout's error, or after the release below).
        assert thread.is_alive()
    finally:
        release.set()
        thread.join()
    assert last_chunk.customers == 20
    assert ScoringRun.objects.get(pk=run.pk).chunks_done == 1
