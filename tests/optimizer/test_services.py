"""Scoring run lifecycle: create, execute, fail, restart, chunks, and the feedback loop."""

from __future__ import annotations

import datetime as dt
import itertools
from pathlib import Path

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from campaigns.models import BonusType, PastOffer
from customers.models import Customer
from loyalty_site.queues import queue_timeout
from optimizer.exceptions import NothingToScore, ScoringRunAlreadyActive
from optimizer.models import CustomerScore, ScoringChunk, ScoringModelVersion, ScoringRun
from optimizer.services import (
    scoring_artifact_load,
    scoring_run_create,
    scoring_run_delete,
    scoring_run_execute,
)
from optimizer.services.artifacts import artifact_path
from retailers.models import RunStatus
from tests.customers.factories import CustomerFactory, TransactionFactory
from tests.optimizer.factories import AS_OF, ScoringRunFactory, synthetic_tenant

pytestmark = pytest.mark.django_db

SCORE_FIELDS = (
    "churn_probability",
    "p_alive",
    "expected_visits",
    "expected_spend",
    "clv",
    "responses",
    "segment",
    "reason",
    "recency_days",
    "frequency",
    "frequency_52w",
    "monetary_52w",
    "avg_basket",
    "tenure_days",
    "discount_share",
    "offers_received",
    "offers_redeemed",
    "redemption_rate",
)


@pytest.fixture
def queued_tasks(monkeypatch):
    """Calls of ``async_task`` by the services (recorded, not run)."""
    calls = []
    monkeypatch.setattr(
        "retailers.lifecycle.async_task", lambda *args, **kwargs: calls.append((args, kwargs))
    )
    return calls


@pytest.fixture
def tenant(retailer, scoring_settings):
    """``retailer`` with 60 synthetic customers and 30 weeks of history before AS_OF."""
    synthetic_tenant(retailer, customers=60, seed=1)
    return retailer


def run_now(retailer, **kwargs) -> ScoringRun:
    """Create a run and execute it in this process (chunks inline)."""
    run = scoring_run_create(retailer=retailer, as_of=AS_OF, enqueue=False, **kwargs)
    result = scoring_run_execute(run_id=run.pk, inline=True)
    assert result is not None
    return result


def scores_of(run: ScoringRun) -> dict[str, tuple]:
    rows = CustomerScore.objects.filter(run=run).select_related("customer")
    return {row.customer.external_id: tuple(getattr(row, f) for f in SCORE_FIELDS) for row in rows}


def test_scoring_run_create_defaults_as_of_to_the_day_after_the_latest_local_transaction(
    retailer, queued_tasks
):
    customer = CustomerFactory(retailer=retailer, enrolled_on=dt.date(2024, 1, 1))
    TransactionFactory(
        retailer=retailer,
        customer=customer,
        timestamp=dt.datetime(2024, 5, 31, 21, 30, tzinfo=dt.UTC),  # 00:30 on June 1st local
    )
    TransactionFactory(
        retailer=retailer,
        customer=customer,
        timestamp=dt.datetime(2024, 3, 1, 12, 0, tzinfo=dt.UTC),
    )
    run = scoring_run_create(retailer=retailer)
    assert run.as_of == dt.date(2024, 6, 2)
    assert (run.status, run.horizon_weeks, run.progress) == (RunStatus.QUEUED, 8, 0)


def test_scoring_run_create_queues_the_execute_task_on_the_long_queue_on_commit(
    tenant, staff_user, queued_tasks, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        run = scoring_run_create(retailer=tenant, user=staff_user, horizon_weeks=6, as_of=AS_OF)
    assert queued_tasks == []  # nothing before the commit
    for callback in callbacks:
        callback()
    assert queued_tasks == [
        (("optimizer.tasks.scoring_run_execute_task", run.pk), {"cluster": "long"})
    ]
    assert (run.created_by, run.horizon_weeks, run.as_of) == (staff_user, 6, AS_OF)


def test_scoring_run_create_refuses_a_second_active_run_with_a_clear_message(tenant, queued_tasks):
    first = scoring_run_create(retailer=tenant)
    with pytest.raises(ScoringRunAlreadyActive) as exc:
        scoring_run_create(retailer=tenant)
    message = str(exc.value)
    assert message.startswith(f"a scoring run for Acme Foods is already running (run #{first.pk}, ")
    assert "queued" in message
    started = timezone.now()
    ScoringRun.objects.filter(pk=first.pk).update(
        status=RunStatus.RUNNING, started_at=started, heartbeat_at=started
    )
    with pytest.raises(ScoringRunAlreadyActive, match=rf"\(run #{first.pk}, started "):
        scoring_run_create(retailer=tenant)
    assert exc.value.run_id == first.pk
    assert ScoringRun.objects.count() == 1


def test_database_constraint_refuses_a_second_queued_or_running_run(retailer, other_retailer):
    ScoringRunFactory(retailer=retailer, status=RunStatus.RUNNING)
    ScoringRunFactory(retailer=retailer, status=RunStatus.SUCCEEDED)
    ScoringRunFactory(retailer=retailer, status=RunStatus.FAILED)
    ScoringRunFactory(retailer=other_retailer, status=RunStatus.QUEUED)
    for status in (RunStatus.QUEUED, RunStatus.RUNNING):
        with pytest.raises(IntegrityError), transaction.atomic():
            ScoringRun.objects.create(retailer=retailer, as_of=AS_OF, status=status)


def test_scoring_run_create_replaces_an_abandoned_running_run(tenant, queued_tasks):
    dead = timezone.now() - dt.timedelta(seconds=queue_timeout("long") + 5)
    stuck = ScoringRunFactory(
        retailer=tenant, status=RunStatus.RUNNING, started_at=dead, heartbeat_at=dead
    )
    run = scoring_run_create(retailer=tenant)
    stuck.refresh_from_db()
    assert stuck.status == RunStatus.FAILED
    assert stuck.error.startswith("abandoned")
    assert run.status == RunStatus.QUEUED


def test_scoring_run_create_refuses_a_retailer_with_nothing_to_score(retailer, queued_tasks):
    with pytest.raises(NothingToScore, match="no transactions yet"):
        scoring_run_create(retailer=retailer)
    CustomerFactory(retailer=retailer, enrolled_on=dt.date(2024, 5, 1))
    with pytest.raises(NothingToScore, match="no customers enrolled before 2024-01-01"):
        scoring_run_create(retailer=retailer, as_of=dt.date(2024, 1, 1))
    assert not ScoringRun.objects.exists()


def test_scoring_run_execute_scores_every_member_once(tenant):
    run = run_now(tenant)
    members = Customer.objects.filter(retailer=tenant, enrolled_on__lt=AS_OF).count()
    assert (run.status, run.progress, run.stage, run.error) == (
        RunStatus.SUCCEEDED,
        100,
        "finished",
        "",
    )
    assert run.customers_scored == members == CustomerScore.objects.filter(run=run).count()
    assert (run.chunks_total, run.chunks_done, run.attempt) == (1, 1, 1)
    assert not CustomerScore.objects.filter(run=run, segment="").exists()
    assert not CustomerScore.objects.filter(run=run, reason="").exists()
    assert sum(row["size"] for row in run.segment_profile) == members
    assert set(run.timings) >= {"read_sample", "fit", "read", "features", "score", "write", "total"}
    assert run.metrics["as_of"] == AS_OF.isoformat()
    # 60 customers: too few to train, validate or hold out (100 needed): the better
    # probabilistic model serves, and the status says so.
    assert run.metrics["holdout"]["status"].startswith("skipped")
    served, why = run.metrics["status"]["churn"].split(": ", 1)
    assert served in ("BG/NBD", "Pareto/NBD")
    assert why.startswith("no validation window")
    assert any(note.startswith(f"churn: {served}: no validation") for note in run.metrics["notes"])
    assert run.bonus_types == sorted(
        BonusType.objects.filter(retailer=tenant).values_list("code", flat=True)
    )
    assert run.segment_state["names"]
    assert run.started_at <= run.finished_at


def test_scoring_run_execute_saves_the_model_as_a_checked_artifact(tenant, scoring_settings):
    run = run_now(tenant)
    version = ScoringModelVersion.objects.get(run=run)
    path = artifact_path(version.artifact_path)
    assert path.is_file()
    assert Path(scoring_settings.ARTIFACTS_DIR) in path.parents
    assert len(version.sha256) == 64
    assert version.size_bytes == path.stat().st_size
    assert version.feature_names[:2] == ["recency_days", "days_since_first_purchase"]
    assert scoring_artifact_load(version=version).bonus_types == tuple(run.bonus_types)


def test_scoring_run_execute_records_a_failure_and_keeps_earlier_runs(tenant, monkeypatch):
    first = run_now(tenant)
    before = scores_of(first)

    def broken(**kwargs):
        raise RuntimeError("the engine broke")

    monkeypatch.setattr("optimizer.services.runs.fit_scoring_models", broken)
    failed = run_now(tenant)
    assert failed.status == RunStatus.FAILED
    assert failed.error == "RuntimeError: the engine broke"
    assert failed.finished_at is not None
    assert not CustomerScore.objects.filter(run=failed).exists()
    first.refresh_from_db()
    assert first.status == RunStatus.SUCCEEDED
    assert scores_of(first) == before


def test_a_failing_chunk_fails_the_run_and_drops_its_partial_scores(
    tenant, scoring_settings, monkeypatch
):
    scoring_settings.SCORING_CHUNK_CUSTOMERS = 25
    calls = {"n": 0}
    real = __import__("optimizer.services.chunks", fromlist=["score_customers"]).score_customers

    def second_chunk_breaks(model, features, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise ValueError("bad chunk")
        return real(model, features, **kwargs)

    monkeypatch.setattr("optimizer.services.chunks.score_customers", second_chunk_breaks)
    run = run_now(tenant)
    assert run.status == RunStatus.FAILED
    assert run.error == f"chunk 2 of {run.chunks_total}: ValueError: bad chunk"
    assert not CustomerScore.objects.filter(run=run).exists()
    statuses = list(ScoringChunk.objects.filter(run=run).values_list("status", flat=True))
    assert statuses[:2] == [RunStatus.SUCCEEDED, RunStatus.FAILED]
    # The remaining chunks find the run failed and do nothing.
    assert set(statuses[2:]) <= {RunStatus.QUEUED}


def test_rerunning_a_dead_run_replaces_its_own_rows_only(tenant):
    first = run_now(tenant)
    second = run_now(tenant)
    first_rows = scores_of(first)
    first_ids = set(CustomerScore.objects.filter(run=first).values_list("pk", flat=True))
    second_ids = set(CustomerScore.objects.filter(run=second).values_list("pk", flat=True))
    dead = timezone.now() - dt.timedelta(seconds=queue_timeout("long") + 5)
    ScoringRun.objects.filter(pk=second.pk).update(
        status=RunStatus.RUNNING, started_at=dead, heartbeat_at=dead
    )
    again = scoring_run_execute(run_id=second.pk, inline=True)
    assert (again.status, again.attempt) == (RunStatus.SUCCEEDED, 2)
    rerun_ids = set(CustomerScore.objects.filter(run=second).values_list("pk", flat=True))
    assert len(rerun_ids) == len(second_ids)
    assert not rerun_ids & second_ids  # replaced, not added to
    assert set(CustomerScore.objects.filter(run=first).values_list("pk", flat=True)) == first_ids
    assert scores_of(first) == first_rows
    assert ScoringModelVersion.objects.filter(run=second).count() == 1


def test_scoring_run_execute_leaves_finished_and_live_runs_alone(tenant):
    done = run_now(tenant)
    rows = set(CustomerScore.objects.filter(run=done).values_list("pk", flat=True))
    assert scoring_run_execute(run_id=done.pk).status == RunStatus.SUCCEEDED
    assert set(CustomerScore.objects.filter(run=done).values_list("pk", flat=True)) == rows
    live = ScoringRunFactory(
        retailer=tenant,
        status=RunStatus.RUNNING,
        started_at=timezone.now(),
        heartbeat_at=timezone.now(),
        attempt=1,
    )
    assert scoring_run_execute(run_id=live.pk).status == RunStatus.RUNNING
    assert ScoringRun.objects.get(pk=live.pk).attempt == 1
    assert scoring_run_execute(run_id=10**9) is None


def test_a_chunked_run_gives_the_same_scores_as_one_chunk(tenant, scoring_settings):
    single = run_now(tenant)
    expected = scores_of(single)
    scoring_run_delete(run=single)  # so that the next run has no previous segments either
    scoring_settings.SCORING_CHUNK_CUSTOMERS = 7
    chunked = run_now(tenant)
    assert chunked.chunks_total == -(-len(expected) // 7) > 1
    assert chunked.chunks_done == chunked.chunks_total
    assert scores_of(chunked) == expected
    ranges = list(
        ScoringChunk.objects.filter(run=chunked).values_list(
            "first_customer_id", "last_customer_id", "customers"
        )
    )
    assert sum(n for _, _, n in ranges) == len(expected)
    assert all(a[1] < b[0] for a, b in itertools.pairwise(ranges))


def test_scoring_run_delete_removes_the_run_scores_and_artifact(
    tenant, django_capture_on_commit_callbacks
):
    keep = run_now(tenant)
    gone = run_now(tenant)
    path = artifact_path(ScoringModelVersion.objects.get(run=gone).artifact_path)
    with django_capture_on_commit_callbacks(execute=True):
        scoring_run_delete(run=gone)
    assert not path.exists()
    assert not ScoringRun.objects.filter(pk=gone.pk).exists()
    assert not CustomerScore.objects.filter(run_id=gone.pk).exists()
    assert CustomerScore.objects.filter(run=keep).count() == keep.customers_scored


def test_next_run_keeps_segment_names_stable(tenant):
    first = run_now(tenant)
    second = run_now(tenant)
    assert second.metrics["segments"]["names"] == first.metrics["segments"]["names"]
    assert all(second.metrics["segments"]["inherited"])


def test_a_redeemed_offer_feeds_into_the_next_runs_features_and_response(tenant, scoring_settings):
    """The feedback loop: a redemption recorded after a run changes that customer's response
    features and response score in the next run (prior-based response, so only the customer's
    own history moves it)."""
    scoring_settings.SCORING_ENGINE_CONFIG = {
        **scoring_settings.SCORING_ENGINE_CONFIG,
        "min_type_offers": 10**6,
    }
    first = run_now(tenant)
    score = (
        CustomerScore.objects.filter(run=first, frequency__gt=0)
        .order_by("offers_redeemed", "customer_id")
        .select_related("customer")
        .first()
    )
    bonus = BonusType.objects.filter(retailer=tenant).order_by("code").first()
    PastOffer.objects.create(
        retailer=tenant,
        external_id="feedback-1",
        customer=score.customer,
        bonus_type=bonus,
        sent_on=AS_OF - dt.timedelta(days=20),
        valid_until=AS_OF - dt.timedelta(days=6),
        redeemed_on=AS_OF - dt.timedelta(days=10),
    )
    second = run_now(tenant)
    after = CustomerScore.objects.get(run=second, customer=score.customer)
    assert after.offers_received == score.offers_received + 1
    assert after.offers_redeemed == score.offers_redeemed + 1
    assert after.redemption_rate > score.redemption_rate
    assert after.responses[bonus.code] > score.responses[bonus.code]
    # Nobody else's offer history moved.
    others = {
        run.pk: dict(
            CustomerScore.objects.filter(run=run)
            .exclude(customer=score.customer)
            .values_list("customer_id", "offers_redeemed")
        )
        for run in (first, second)
    }
    assert others[second.pk] == others[first.pk]
