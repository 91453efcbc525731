"""The rerun service behind a proposal's "drop customers" and "change budget" edits."""

from __future__ import annotations

from decimal import Decimal

import pytest

from campaigns.exceptions import TransitionNotAllowed
from campaigns.models import CampaignState
from optimizer.services.allocation import allocation_run_execute
from optimizer.services.campaign_rerun import campaign_rerun
from tests.optimizer.allocation_fixtures import scored_tenant, start_allocation

pytestmark = pytest.mark.django_db


@pytest.fixture
def proposal(retailer):
    scored_tenant(retailer)
    run = start_allocation(retailer=retailer, budget=Decimal("20.00"), enqueue=False)
    return allocation_run_execute(run_id=run.pk).campaign


def test_campaign_rerun_adds_the_dropped_customers_to_the_exclusions(proposal):
    member = proposal.members.filter(is_control=False).first()
    run = campaign_rerun(campaign=proposal, user=None, drop_customers=[member.customer_id])
    assert run.replaces == proposal
    assert member.customer_id in run.settings.excluded_customers
    assert run.budget == Decimal("20.00")


def test_campaign_rerun_keeps_the_exclusions_when_the_budget_changes(proposal):
    run = campaign_rerun(campaign=proposal, user=None, budget=Decimal("30.00"))
    assert run.budget == Decimal("30.00")
    assert run.scoring_run == proposal.allocation_run.scoring_run
    assert run.week_start == proposal.allocation_run.week_start


def test_campaign_rerun_refuses_a_campaign_that_is_no_longer_proposed(proposal):
    proposal.state = CampaignState.REJECTED
    proposal.save(update_fields=["state"])
    with pytest.raises(TransitionNotAllowed, match="Only a proposed campaign"):
        campaign_rerun(campaign=proposal, user=None, budget=Decimal("30.00"))
