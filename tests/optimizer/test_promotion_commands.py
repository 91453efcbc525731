"""``propose_promotions`` and ``backtest_promotions`` on a small hand-made tenant."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from campaigns.models import PromotionProposal
from optimizer.models import PromotionRun
from retailers.models import RunStatus
from tests.optimizer.test_promotions_glue import WEEK, promo_settings, promo_tenant  # noqa: F401

pytestmark = pytest.mark.django_db


@pytest.fixture
def tenant(retailer, promo_settings):  # noqa: F811
    return promo_tenant(retailer)


def run(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_propose_sync_prints_the_items_and_the_solver_status(retailer, tenant):
    out = run(
        "propose_promotions",
        "--retailer",
        "acme",
        "--week",
        "2025-W23",
        "--k",
        "4",
        "--max-per-category",
        "2",
        "--pin",
        "P03",
        "--ban",
        "P04",
        "P05",
        "--sync",
    )
    proposal = PromotionProposal.objects.get()
    assert proposal.week_start == WEEK
    assert proposal.options["pinned"] == ["P03"]
    assert proposal.options["banned"] == ["P04", "P05"]
    skus = set(proposal.items.values_list("product__sku", flat=True))
    assert "P03" in skus
    assert not skus & {"P04", "P05"}
    assert "Solver: " in out
    assert "status" in out
    assert "P03" in out
    assert "pinned by staff" in out
    assert f"proposal #{proposal.pk}" in out
    assert proposal.promotion_run.trigger == "command"


def test_propose_without_sync_queues_a_run(retailer, tenant, monkeypatch):
    queued = []
    monkeypatch.setattr("retailers.lifecycle.async_task", lambda *a, **k: queued.append((a, k)))
    out = run("propose_promotions", "--retailer", "acme", "--week", "2025-W23")
    assert "Queued promotion run" in out
    assert PromotionRun.objects.get().status == RunStatus.QUEUED


def test_propose_reports_infeasible_settings(retailer, tenant):
    with pytest.raises(CommandError, match="k constraint"):
        run(
            "propose_promotions",
            "--retailer",
            "acme",
            "--week",
            "2025-W23",
            "--k",
            "1",
            "--pin",
            "P01",
            "P02",
            "--sync",
        )
    assert PromotionRun.objects.get().status == RunStatus.FAILED


def test_propose_refuses_unknown_retailers_skus_and_weeks(retailer, tenant):
    with pytest.raises(CommandError, match="no retailer"):
        run("propose_promotions", "--retailer", "nope", "--sync")
    with pytest.raises(CommandError, match="Unknown SKU"):
        run("propose_promotions", "--retailer", "acme", "--pin", "NOPE", "--sync")
    with pytest.raises(CommandError, match="ISO week"):
        run("propose_promotions", "--retailer", "acme", "--week", "2025-23", "--sync")


def test_backtest_prints_and_stores_wape_and_bias(retailer, tenant):
    out = run("backtest_promotions", "--retailer", "acme", "--weeks", "3", "--week", "2025-W23")
    backtest = PromotionRun.objects.get(kind=PromotionRun.Kind.BACKTEST)
    assert backtest.status == RunStatus.SUCCEEDED
    assert backtest.result["n_weeks"] == 3
    assert "model" in out
    assert "naive" in out
    assert "WAPE" in out
    assert f"{backtest.result['model_wape']:.3f}" in out
