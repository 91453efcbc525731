"""Worker faults: a real ``manage.py qcluster`` killed mid-run, re-delivery, concurrent executes,
time-limited solves and tampered proposals.

The subprocess tests need PostgreSQL (the worker and the test share the committed test database,
``transaction=True``). The worker runs with ``DJANGO_SETTINGS_MODULE=loyalty_site.settings`` and
``Q_CLUSTER_NAME=long`` (the queue solver and scoring tasks go to). settings.py has no env knob for
django-q2's ``timeout``/``retry`` (3600 s / 3900 s on the long queue), so "``retry`` seconds
later" is simulated the way ``tests/test_broker.py`` does: the task's ORM-queue lock and the run's
heartbeat are moved into the past.

To stop the worker at a known point, the test holds an ``ACCESS EXCLUSIVE`` lock on the scores
table from a second connection: the worker claims the run (RUNNING, committed), then blocks on its
first read of the scores, and is killed there with SIGKILL (whole process group).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import signal
import subprocess
import sys
import threading
import time
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connections
from django.utils import timezone

from campaigns.exceptions import ProposalInvalid
from campaigns.models import AuditEntry, Bonus, Campaign, CampaignMember, CampaignState
from campaigns.services.workflow import campaign_approve
from customers.models import PointsEntry
from optimizer.engine.allocation import STATUS_TIME_LIMIT
from optimizer.models import AllocationRun, CustomerScore, ScoringModelVersion, ScoringRun
from optimizer.services import scoring_run_create
from optimizer.services.allocation import allocation_run_execute
from retailers.models import Role, RunStatus
from tests.database import database_params, database_url
from tests.optimizer.allocation_fixtures import scored_tenant, start_allocation

BASE_DIR = Path(__file__).resolve().parents[2]
TASK = "optimizer.tasks.allocation_run_execute_task"
#: Customers of the scored tenant (half "at risk", half "loyal").
CUSTOMERS = 40


def worker_env(tmp_path: Path) -> dict[str, str]:
    """The environment of a production-like worker on the test database."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "Q_"))}
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "loyalty_site.settings",
            "DATABASE_URL": database_url(),
            # Tasks are signed with the secret key: the worker must share the test's.
            "DJANGO_SECRET_KEY": settings.SECRET_KEY,
            "Q_CLUSTER_NAME": settings.LONG_TASK_CLUSTER,
            "Q_WORKERS": "1",
            # Wait on the test's table lock instead of failing after the default 5 s.
            "DB_LOCK_TIMEOUT_MS": "120000",
            "ARTIFACTS_DIR": str(tmp_path / "artifacts"),
            "LOG_LEVEL": "INFO",
        }
    )
    env.pop("REDIS_URL", None)
    return env


class Worker:
    """A ``manage.py qcluster`` subprocess in its own process group (killed as a whole)."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.log = log
        self.stream = open(log, "ab")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [sys.executable, "manage.py", "qcluster"],
            cwd=BASE_DIR,
            env=env,
            stdout=self.stream,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def kill(self) -> None:
        """SIGKILL the cluster and all its children (no clean-up code runs)."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        self.stream.close()

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]


def wait_for(predicate, timeout: float, what: str, worker: Worker | None = None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.25)
    log = worker.tail() if worker else ""
    raise AssertionError(f"timed out after {timeout}s waiting for {what}\n{log}")


def table_lock(table: str):
    """A second connection holding ``ACCESS EXCLUSIVE`` on ``table`` until ``.rollback()``."""
    import psycopg

    conn = psycopg.connect(**database_params())
    conn.execute(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")
    return conn


def enqueue_for_real(monkeypatch, func: str, *args) -> None:
    """Queue on the ORM broker's long queue (the test settings run tasks in-process)."""
    from django_q.tasks import async_task

    monkeypatch.setattr("django_q.conf.Conf.SYNC", False)
    async_task(func, *args, cluster=settings.LONG_TASK_CLUSTER)


def simulate_retry_elapsed(run: AllocationRun) -> None:
    """What `retry` seconds after the crash look like: the broker's lock on the task has expired,
    and the run has shown no heartbeat for longer than the queue's timeout."""
    from django_q.models import OrmQ

    long_ago = timezone.now() - dt.timedelta(hours=2)
    assert OrmQ.objects.filter(key=settings.LONG_TASK_CLUSTER).count() == 1
    OrmQ.objects.filter(key=settings.LONG_TASK_CLUSTER).update(
        lock=timezone.now() - dt.timedelta(seconds=1)
    )
    AllocationRun.objects.filter(pk=run.pk).update(started_at=long_ago, heartbeat_at=long_ago)


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_worker_killed_mid_allocation_is_redelivered_and_writes_one_proposal(
    retailer, tmp_path, monkeypatch
):
    scored_tenant(retailer, customers=CUSTOMERS)
    run = start_allocation(retailer=retailer, budget=Decimal("40.00"), enqueue=False)
    env = worker_env(tmp_path)
    lock = table_lock(CustomerScore._meta.db_table)
    first = Worker(env, tmp_path / "worker-1.log")
    second = None
    try:
        enqueue_for_real(monkeypatch, TASK, run.pk)

        def running():
            run.refresh_from_db()
            return run.status == RunStatus.RUNNING and run.attempt == 1

        wait_for(running, 90, "the first worker to claim the run", first)
        time.sleep(1)  # it is now blocked on its first read of the scores
        first.kill()
        lock.rollback()
        run.refresh_from_db()
        assert run.status == RunStatus.RUNNING  # the dead worker left it "running"
        assert not Campaign.objects.filter(allocation_run=run).exists()

        simulate_retry_elapsed(run)
        second = Worker(env, tmp_path / "worker-2.log")

        def finished():
            run.refresh_from_db()
            return run.status in (RunStatus.SUCCEEDED, RunStatus.FAILED)

        wait_for(finished, 120, "the re-delivered task to finish the run", second)
        assert run.status == RunStatus.SUCCEEDED, run.error + second.tail()
        assert run.attempt == 2
    finally:
        lock.close()
        first.kill()
        first.stop()
        if second is not None:
            second.stop()
    campaigns = Campaign.objects.filter(allocation_run=run)
    assert campaigns.count() == 1
    members = CampaignMember.objects.filter(campaign=campaigns.get())
    # One row per customer at most (treated or control), none twice.
    assert 0 < members.count() <= CUSTOMERS
    assert members.values("customer").distinct().count() == members.count()
    assert not Bonus.objects.exists()
    assert not PointsEntry.objects.exists()


def _in_threads(count: int, target) -> list:
    """Run ``target()`` in ``count`` threads released together; returns results or exceptions."""
    barrier = threading.Barrier(count)
    results: list = [None] * count

    def body(i: int) -> None:
        try:
            barrier.wait()
            results[i] = target()
        except Exception as exc:
            results[i] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=body, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    return results


@pytest.mark.django_db(transaction=True)
def test_same_allocation_run_executed_three_times_at_once_writes_one_campaign(retailer):
    scored_tenant(retailer, customers=CUSTOMERS)
    run = start_allocation(retailer=retailer, budget=Decimal("40.00"), enqueue=False)
    results = _in_threads(3, lambda: allocation_run_execute(run_id=run.pk))
    assert not [r for r in results if isinstance(r, Exception)], results
    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED
    assert run.attempt == 1
    assert Campaign.objects.filter(allocation_run=run).count() == 1
    assert Campaign.objects.count() == 1
    members = CampaignMember.objects.filter(campaign__allocation_run=run)
    assert members.values("customer").distinct().count() == members.count() > 0
    # The same rows as one uninterrupted execution of the same inputs (deterministic engine).
    reference = start_allocation(
        retailer=retailer, budget=Decimal("40.00"), scoring_run=run.scoring_run, enqueue=False
    )
    allocation_run_execute(run_id=reference.pk)

    def rows(r):
        return sorted(
            CampaignMember.objects.filter(campaign__allocation_run=r).values_list(
                "customer_id", "is_control", "bonus_type_id", "expected_cost"
            )
        )

    assert rows(run) == rows(reference)


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_same_scoring_run_executed_three_times_at_once_writes_one_set_of_scores(
    retailer, scoring_settings
):
    from tests.optimizer.factories import AS_OF, synthetic_tenant

    synthetic_tenant(retailer, customers=60)
    run = scoring_run_create(retailer=retailer, as_of=AS_OF, enqueue=False)
    results = _in_threads(3, lambda: scoring_run_execute_inline(run.pk))
    assert not [r for r in results if isinstance(r, Exception)], results
    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED, run.error
    assert run.attempt == 1
    scores = CustomerScore.objects.filter(run=run)
    assert scores.count() == run.customers_scored > 0
    assert scores.values("customer").distinct().count() == scores.count()
    assert ScoringModelVersion.objects.filter(run=run).count() == 1
    assert ScoringRun.objects.count() == 1


def scoring_run_execute_inline(run_id: int):
    from optimizer.services import scoring_run_execute

    return scoring_run_execute(run_id=run_id, inline=True)


def test_worker_sees_bounded_queue_settings_on_the_long_queue(tmp_path):
    """What a worker started with Q_CLUSTER_NAME=long actually runs with (django-q2's Conf)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "Q_"))}
    env.update({"DJANGO_SETTINGS_MODULE": "loyalty_site.settings", "Q_CLUSTER_NAME": "long"})
    env["DATABASE_URL"] = database_url()
    code = (
        "import django; django.setup(); from django_q.conf import Conf; "
        "print(Conf.TIMEOUT, Conf.RETRY, Conf.MAX_ATTEMPTS, Conf.CATCH_UP, Conf.CLUSTER_NAME)"
    )
    out = subprocess.run(  # noqa: S603
        [sys.executable, "-c", code],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout.split()
    timeout, retry, attempts, catch_up, name = int(out[-5]), int(out[-4]), int(out[-3]), *out[-2:]
    assert name == "long"
    assert timeout < retry
    assert 0 < attempts <= 5
    assert catch_up == "False"


# --- Time-limited solves and tampered proposals ---------------------------------------------


@pytest.fixture
def proposal(retailer):
    """A proposed campaign written by a real allocation run of the scored tenant."""
    scored_tenant(retailer, customers=CUSTOMERS)
    run = start_allocation(retailer=retailer, budget=Decimal("40.00"), enqueue=False)
    allocation_run_execute(run_id=run.pk)
    return Campaign.objects.get(allocation_run=run)


@pytest.mark.django_db
def test_time_limited_rerun_is_not_optimal_and_does_not_supersede_the_last_proposal(
    proposal, retailer, monkeypatch
):
    from optimizer.services import allocation as glue

    real = glue.allocate

    def stopped_by_time_limit(*args, **kwargs):
        return dataclasses.replace(real(*args, **kwargs), status=STATUS_TIME_LIMIT)

    monkeypatch.setattr(glue, "allocate", stopped_by_time_limit)
    rerun = start_allocation(
        retailer=retailer,
        budget=Decimal("40.00"),
        replaces=proposal,
        time_limit_seconds=1,
        enqueue=False,
    )
    allocation_run_execute(run_id=rerun.pk)
    new = Campaign.objects.get(allocation_run=rerun)
    proposal.refresh_from_db()
    assert proposal.state == CampaignState.PROPOSED  # the last good proposal stays current
    assert new.solver["status"] == STATUS_TIME_LIMIT != "optimal"
    assert AuditEntry.objects.filter(object_id=new.pk, action="not-superseding").exists()


@pytest.mark.django_db
def test_optimal_rerun_supersedes_the_last_proposal(proposal, retailer):
    """The control case of the test above: a good re-run does supersede."""
    rerun = start_allocation(
        retailer=retailer, budget=Decimal("40.00"), replaces=proposal, enqueue=False
    )
    allocation_run_execute(run_id=rerun.pk)
    proposal.refresh_from_db()
    assert proposal.state == CampaignState.SUPERSEDED


def _approver(retailer, make_staff):
    return make_staff(retailer, Role.APPROVER)


@pytest.mark.django_db
def test_proposal_with_a_cost_raised_over_budget_cannot_be_approved(proposal, make_staff):
    treated = proposal.members.filter(is_control=False)
    assert treated.exists()
    member = treated.first()
    member.expected_cost = proposal.budget + Decimal("0.01")  # tampered after the solve
    member.save(update_fields=["expected_cost"])
    with pytest.raises(ProposalInvalid, match="above the budget"):
        campaign_approve(campaign_id=proposal.pk, actor=_approver(proposal.retailer, make_staff))
    proposal.refresh_from_db()
    assert proposal.state == CampaignState.PROPOSED
    assert not Bonus.objects.filter(campaign=proposal).exists()


@pytest.mark.django_db
def test_proposal_over_a_type_cap_cannot_be_approved(proposal, make_staff):
    from campaigns.models import BonusType

    treated = proposal.members.filter(is_control=False)
    code = treated.values_list("bonus_type__code", flat=True).first()
    count = treated.filter(bonus_type__code=code).count()
    BonusType.objects.filter(retailer=proposal.retailer, code=code).update(
        max_per_campaign=count - 1
    )
    with pytest.raises(ProposalInvalid, match="above its cap"):
        campaign_approve(campaign_id=proposal.pk, actor=_approver(proposal.retailer, make_staff))
    proposal.refresh_from_db()
    assert proposal.state == CampaignState.PROPOSED


@pytest.mark.django_db
def test_control_member_given_a_bonus_type_cost_cannot_slip_through(proposal, make_staff):
    """A member moved from control to treated without a bonus type is refused too."""
    control = proposal.members.filter(is_control=True).first()
    assert control is not None
    CampaignMember.objects.filter(pk=control.pk).update(is_control=False, bonus_type=None)
    with pytest.raises(ProposalInvalid, match="no bonus type"):
        campaign_approve(campaign_id=proposal.pk, actor=_approver(proposal.retailer, make_staff))


@pytest.mark.django_db
def test_untampered_proposal_is_approved(proposal, make_staff):
    """The control case: the same proposal, untouched, passes the re-check."""
    approved = campaign_approve(
        campaign_id=proposal.pk, actor=_approver(proposal.retailer, make_staff)
    )
    assert approved.state in (CampaignState.APPROVED, CampaignState.ISSUED)
