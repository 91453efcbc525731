"""The allocation's pricing fanned out over django-q2 tasks (``services/allocation_fanout.py``):
the same allocation as one process, in-process (sync) and with a real ``qcluster`` of three
worker processes on the test database."""

from __future__ import annotations

import logging
import os
import re
import uuid
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
from django.utils import timezone
from django_q.models import Task

from campaigns.models import CampaignMember
from optimizer.engine.allocation import allocate
from optimizer.services.allocation import allocation_run_execute
from optimizer.services.allocation_fanout import (
    CHUNK_TASK,
    FanoutStats,
    PricingChunksFailed,
    _gather,
    fanout_pricing,
)
from retailers.models import RunStatus
from tests.optimizer.allocation_fixtures import scored_tenant, start_allocation
from tests.optimizer.engine.test_allocation_coupling import instance, solve
from tests.reliability.test_worker_faults import Worker, worker_env

N = 6_000


@pytest.fixture(scope="module")
def local():
    inst, customers, types = instance(N)
    return solve(inst, customers, types, inst.constraints, method="dual")


def solve_fanned(pricing):
    inst, customers, types = instance(N)
    return solve(inst, customers, types, inst.constraints, method="dual", pricing=pricing)


def assert_same(fanned, local) -> None:
    assert "dantzig-wolfe" in fanned.method
    pd.testing.assert_series_equal(fanned.decisions["bonus_type"], local.decisions["bonus_type"])
    assert fanned.decisions["bonus_type"].notna().sum() > N // 10
    assert fanned.objective == pytest.approx(local.objective, rel=1e-9)
    assert fanned.lp_bound == pytest.approx(local.lp_bound, rel=1e-9)


@pytest.mark.django_db
def test_fanout_in_process_returns_the_one_process_allocation_and_cleans_up(tmp_path, local):
    stats = FanoutStats(0)
    with fanout_pricing(chunks=4, key="sync", folder=tmp_path, stats=stats) as pricing:
        fanned = solve_fanned(pricing)
        assert sorted(p.name for p in (tmp_path / "sync" / "sync-c0").iterdir()) == [
            f"chunk-{i:04d}.joblib" for i in range(4)
        ]
    assert_same(fanned, local)
    # every pricing pass went through the chunks: the seed (zero multipliers) and one per
    # column-generation iteration, the +10% what-if's included (it starts without a pass)
    details = fanned.details
    assert stats.passes == details["pricing_passes"]
    assert stats.passes == 1 + details["iterations"] + details["iterations_plus10"]
    assert not (tmp_path / "sync").exists()
    assert not Task.objects.filter(group__startswith="pricing-sync").exists()


def chunk_task(group: str, index: int, *, success: bool, result) -> Task:
    now = timezone.now()
    return Task.objects.create(
        id=uuid.uuid4().hex,
        name=f"{group}-{index}",
        func="optimizer.tasks.allocation_pricing_chunk_task",
        group=group,
        started=now,
        stopped=now,
        success=success,
        result=result,
    )


@pytest.mark.django_db
def test_gather_returns_the_answers_in_chunk_order():
    for index in (2, 0, 1):
        chunk_task("g", index, success=True, result=(index, float(index), (), 1))
    assert [a[0] for a in _gather("g", 3, wait=0)] == [0, 1, 2]


@pytest.mark.django_db
def test_gather_fails_the_pass_when_a_chunk_failed():
    chunk_task("g", 0, success=True, result=(0, 1.0, (), 1))
    chunk_task("g", 1, success=False, result="FileNotFoundError: chunk-0001.joblib")
    with pytest.raises(PricingChunksFailed, match="failed: FileNotFoundError"):
        _gather("g", 2, wait=0)


@pytest.mark.django_db
def test_gather_gives_up_when_chunks_do_not_answer():
    chunk_task("g", 0, success=True, result=(0, 1.0, (), 1))
    with pytest.raises(PricingChunksFailed, match="1 of 2 pricing chunks did not answer"):
        _gather("g", 2, wait=0.05)


def _proposal(retailer, monkeypatch, seen) -> set:
    def dual(*args, **kwargs):  # the tenant is small: force the decomposition
        seen.append(kwargs["pricing"])
        return allocate(*args, **{**kwargs, "method": "dual"})

    monkeypatch.setattr("optimizer.services.allocation.allocate", dual)
    run = start_allocation(retailer=retailer, budget=Decimal("150.00"), enqueue=False)
    run = allocation_run_execute(run_id=run.pk)
    assert run.status == RunStatus.SUCCEEDED, run.error
    members = CampaignMember.objects.filter(campaign=run.campaign, is_control=False)
    return set(members.values_list("customer_id", "bonus_type__code"))


@pytest.mark.django_db
def test_run_with_pricing_chunks_setting_fans_out_and_proposes_the_same(
    retailer, monkeypatch, settings, tmp_path, caplog
):
    caplog.set_level(logging.INFO, logger="optimizer.services.allocation_fanout")
    scored_tenant(retailer, customers=200)
    seen: list = []
    settings.ALLOCATION_PRICING_CHUNKS = 0
    alone = _proposal(retailer, monkeypatch, seen)
    settings.ALLOCATION_PRICING_CHUNKS = 3
    settings.ALLOCATION_FANOUT_DIR = tmp_path
    fanned = _proposal(retailer, monkeypatch, seen)
    assert seen[0] is None
    assert seen[1] is not None
    assert fanned == alone
    assert re.search(r"pricing fan-out run\d+-a1: [1-9]\d* passes over 3 chunks", caplog.text)
    assert len(alone) > 10
    assert Task.objects.filter(func=CHUNK_TASK).count() == 0  # each pass's group was deleted
    assert list(tmp_path.iterdir()) == []  # the chunk files are gone


@pytest.mark.slow
@pytest.mark.skipif(
    bool(os.environ.get("TEST_NOW")),  # the session clock of tests/conftest.py
    reason="the worker processes run on the real clock: under TEST_NOW the ORM broker's task "
    "locks lie in their future and no task is ever taken (nothing here reads a date)",
)
@pytest.mark.django_db(transaction=True)
def test_fanout_over_three_worker_processes_returns_the_one_process_allocation(
    tmp_path, monkeypatch, local
):
    env = worker_env(tmp_path)
    env.pop("Q_CLUSTER_NAME")  # chunk tasks go to the default queue
    env["Q_WORKERS"] = "3"
    worker = Worker(env, tmp_path / "qcluster.log")
    monkeypatch.setattr("django_q.conf.Conf.SYNC", False)
    stats = FanoutStats(0)
    try:
        with fanout_pricing(chunks=6, key="multi", folder=tmp_path, wait=240, stats=stats) as p:
            fanned = solve_fanned(p)
    except PricingChunksFailed as exc:
        raise AssertionError(f"{exc}\n{worker.tail()}") from exc
    finally:
        worker.stop()
    assert_same(fanned, local)
    assert stats.passes >= 2
    assert len(stats.pids) >= 2  # the chunks were priced by more than one worker process
    assert all(np.isfinite(stats.wait_seconds))
