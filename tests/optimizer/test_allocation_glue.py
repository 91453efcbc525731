"""Allocation runs end to end on a hand-made scored tenant (the engine is real, not mocked)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.management import call_command

from campaigns.models import AuditEntry, CampaignMember, CampaignState
from loyalty_site.money import quantize
from optimizer.exceptions import AllocationRunAlreadyActive, AllocationSettingsInvalid
from optimizer.models import AllocationRun
from optimizer.services.allocation import allocation_run_execute
from optimizer.tasks import allocation_run_execute_task
from retailers.models import RunStatus
from tests.optimizer.allocation_fixtures import AS_OF, scored_tenant, start_allocation

pytestmark = pytest.mark.django_db


def run_allocation(retailer, **kwargs):
    kwargs.setdefault("budget", Decimal("20.00"))
    run = start_allocation(retailer=retailer, enqueue=False, **kwargs)
    return allocation_run_execute(run_id=run.pk)


def test_allocation_run_proposes_a_campaign_within_budget_with_a_control_group(retailer):
    scored_tenant(retailer)
    run = run_allocation(retailer, control_share=0.2)

    assert run.status == RunStatus.SUCCEEDED, run.error
    campaign = run.campaign
    assert campaign.state == CampaignState.PROPOSED
    assert campaign.week_start == AS_OF
    members = CampaignMember.objects.filter(campaign=campaign)
    treated, control = members.filter(is_control=False), members.filter(is_control=True)
    assert treated.exists()
    cost = sum((m.expected_cost for m in treated), Decimal(0))
    assert quantize(cost) <= Decimal("20.00")
    assert Decimal(str(campaign.totals["expected_cost"])) == quantize(cost)
    # 20% of 40 eligible customers, stratified: 4 per segment, never treated.
    assert control.count() == 8
    assert set(control.values_list("segment", flat=True)) == {"at risk", "loyal"}
    assert not control.filter(bonus_type__isnull=False).exists()
    assert all(m.send_on and m.expires_on and m.reason for m in treated)
    assert all(AS_OF <= m.send_on <= m.expires_on for m in treated)
    solver = campaign.solver
    assert solver["status"] in ("optimal", "feasible-within-gap")
    assert solver["lp_bound"] >= solver["objective"] - 0.01
    assert "budget" in {c["name"] for c in solver["constraints"]}
    assert AuditEntry.objects.filter(object_id=campaign.pk, action="propose").exists()


def test_allocation_run_respects_type_caps_and_coverage(retailer):
    scored_tenant(retailer)
    run = run_allocation(
        retailer,
        budget=Decimal("200.00"),
        constraints={"type_caps": {"coupon-5": 3}, "segment_coverage": {"at risk": 0.5}},
    )
    assert run.status == RunStatus.SUCCEEDED, run.error
    treated = CampaignMember.objects.filter(campaign=run.campaign, is_control=False)
    assert treated.filter(bonus_type__code="coupon-5").count() <= 3
    at_risk_treatable = (
        20
        - CampaignMember.objects.filter(
            campaign=run.campaign, is_control=True, segment="at risk"
        ).count()
    )
    assert treated.filter(segment="at risk").count() >= at_risk_treatable / 2


def test_infeasible_coverage_fails_the_run_naming_the_constraint(retailer):
    scored_tenant(retailer)
    run = run_allocation(
        retailer, budget=Decimal("0.50"), constraints={"segment_coverage": {"at risk": 1.0}}
    )
    assert run.status == RunStatus.FAILED
    assert "coverage" in run.error
    assert "at risk" in run.error
    assert not hasattr(run, "campaign") or run.campaign is None


def test_executing_twice_writes_one_campaign(retailer):
    scored_tenant(retailer)
    run = run_allocation(retailer)
    again = allocation_run_execute_task(run.pk)
    assert again == RunStatus.SUCCEEDED
    assert AllocationRun.objects.get(pk=run.pk).attempt == 1
    assert CampaignMember.objects.filter(campaign__allocation_run=run).count() == len(
        CampaignMember.objects.filter(campaign=run.campaign)
    )


def test_second_run_while_one_is_queued_is_refused(retailer):
    scored_tenant(retailer)
    start_allocation(retailer=retailer, budget=Decimal("10"), enqueue=False)
    with pytest.raises(AllocationRunAlreadyActive):
        start_allocation(retailer=retailer, budget=Decimal("10"), enqueue=False)


def test_bad_settings_are_refused_with_a_clear_message(retailer):
    scored_tenant(retailer)
    with pytest.raises(AllocationSettingsInvalid, match="positive"):
        start_allocation(retailer=retailer, budget=Decimal("0"), enqueue=False)
    with pytest.raises(AllocationSettingsInvalid, match="no-such"):
        start_allocation(
            retailer=retailer,
            budget=Decimal("10"),
            constraints={"type_caps": {"no-such": 1}},
            enqueue=False,
        )


def test_contact_limit_counts_bonuses_of_earlier_campaigns(retailer):
    scored_tenant(retailer)
    first = run_allocation(retailer, budget=Decimal("500.00")).campaign
    first.state = CampaignState.ISSUED
    first.save(update_fields=["state"])
    contacted = set(
        CampaignMember.objects.filter(campaign=first, is_control=False).values_list(
            "customer_id", flat=True
        )
    )
    assert contacted
    second = run_allocation(
        retailer, budget=Decimal("500.00"), constraints={"contact_limit": 1}
    ).campaign
    again = set(
        CampaignMember.objects.filter(campaign=second, is_control=False).values_list(
            "customer_id", flat=True
        )
    )
    assert not contacted & again


def test_a_rerun_supersedes_the_proposal_it_replaces(retailer):
    scored_tenant(retailer)
    first = run_allocation(retailer).campaign
    second = run_allocation(retailer, budget=Decimal("30.00"), replaces=first).campaign
    first.refresh_from_db()
    assert first.state == CampaignState.SUPERSEDED
    assert second.state == CampaignState.PROPOSED
    assert AuditEntry.objects.filter(object_id=first.pk, action="supersede").exists()


def test_allocate_command_sync_prints_the_gap_and_binding_constraints(retailer, capsys):
    scored_tenant(retailer)
    call_command(
        "allocate", "--retailer", retailer.slug, "--budget", "15.00", "--cap", "coupon-5=4",
        "--sync",
    )  # fmt: skip
    out = capsys.readouterr().out
    assert "Proposed campaign" in out
    assert "LP bound" in out
    assert "gap" in out
    assert "binding constraints" in out
