"""Allocation glue: contact limits over windows on both sides, points at face value, P(redeem)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from campaigns.models import CampaignMember, CampaignState
from customers.models import Customer
from optimizer.frames.allocation import allocation_inputs_read
from optimizer.models import AllocationRun
from optimizer.services.allocation import allocation_run_execute
from retailers.models import RunStatus
from tests.campaigns.rewards_factories import CampaignFactory, CampaignMemberFactory
from tests.optimizer.allocation_fixtures import AS_OF, scored_tenant, start_allocation

pytestmark = pytest.mark.django_db


def _contact(retailer, customers, week_start):
    campaign = CampaignFactory(
        retailer=retailer,
        state=CampaignState.ISSUED,
        week_start=week_start,
        week_end=week_start + dt.timedelta(days=6),
    )
    for customer in customers:
        CampaignMemberFactory(
            campaign=campaign,
            customer=customer,
            send_on=week_start,
            expires_on=week_start + dt.timedelta(days=6),
        )


def _treated(retailer, **constraints):
    run = start_allocation(
        retailer=retailer,
        budget=Decimal("500.00"),
        constraints={"contact_window_weeks": 4, **constraints},
        enqueue=False,
    )
    run = allocation_run_execute(run_id=run.pk)
    assert run.status == RunStatus.SUCCEEDED, run.error
    members = CampaignMember.objects.filter(campaign=run.campaign, is_control=False)
    return run, set(members.values_list("customer_id", flat=True))


def test_contact_limit_counts_a_later_dated_campaign(retailer):
    scored_tenant(retailer)
    later = list(Customer.objects.filter(retailer=retailer).order_by("pk")[:10])
    _contact(retailer, later, AS_OF + dt.timedelta(days=14))  # approved first, dated later
    _, treated = _treated(retailer, contact_limit=1)
    assert treated
    assert not treated & {c.pk for c in later}


def test_contact_limit_counts_any_window_holding_this_week_on_either_side(retailer):
    scored_tenant(retailer)
    customers = list(Customer.objects.filter(retailer=retailer).order_by("pk"))
    squeezed, spread = customers[:6], customers[6:12]
    # squeezed: one bonus a week before and one two weeks after: 3 within 3 weeks with this one
    _contact(retailer, squeezed, AS_OF - dt.timedelta(days=7))
    _contact(retailer, squeezed, AS_OF + dt.timedelta(days=14))
    # spread: 3 weeks before and 3 weeks after: no 4-week window holds this week and both
    _contact(retailer, spread, AS_OF - dt.timedelta(days=21))
    _contact(retailer, spread, AS_OF + dt.timedelta(days=21))
    run, treated = _treated(retailer, contact_limit=2)
    assert not treated & {c.pk for c in squeezed}
    recent = allocation_inputs_read(run=run).customers.set_index("customer_id")["recent_bonuses"]
    assert {int(recent[c.pk]) for c in squeezed} == {2}
    assert {int(recent[c.pk]) for c in spread} == {1}


def test_points_count_at_face_value_against_the_budget(retailer):
    retailer.point_value = Decimal("0.005")  # 300 points = 1.50, worth it for the at-risk
    retailer.save(update_fields=["point_value"])
    scored_tenant(retailer)
    run = start_allocation(
        retailer=retailer,
        budget=Decimal("20.00"),
        constraints={"bonus_types": ["points-300"]},
        enqueue=False,
    )
    run = allocation_run_execute(run_id=run.pk)
    assert run.status == RunStatus.SUCCEEDED, run.error
    treated = CampaignMember.objects.filter(campaign=run.campaign, is_control=False)
    assert treated.count() == 13  # 13 x 1.50 = 19.50 <= 20.00
    assert {m.expected_cost for m in treated} == {Decimal("1.50")}  # credited, redeemed or not
    total = sum((m.expected_cost for m in treated), Decimal(0))
    assert total <= Decimal("20.00")
    assert Decimal(str(run.campaign.totals["expected_cost"])) == total
    assert run.campaign.solver["redeem_probability"]["rule"].startswith("P(redeem) = min(1")


def test_visit_reference_of_the_scoring_run_reaches_the_engine(retailer):
    scoring = scored_tenant(retailer)
    scoring.metrics = {"response": {"visit_reference": {"coupon-5": 0.8}}}
    scoring.save(update_fields=["metrics"])
    run = AllocationRun.objects.create(
        retailer=retailer, scoring_run=scoring, week_start=AS_OF, budget=Decimal("10.00")
    )
    types = allocation_inputs_read(run=run).bonus_types.set_index("bonus_type")
    assert types.loc["coupon-5", "reference_visit_probability"] == pytest.approx(0.8)
    assert types.loc["points-300", "reference_visit_probability"] == 1.0
    assert bool(types.loc["points-300", "charged_on_issue"]) is True
    assert bool(types.loc["coupon-5", "charged_on_issue"]) is False
