"""The proposal page's coupling rules (usage against limit) and the approval of a proposal
whose gap exceeds the tolerance it was solved with: refused without an explicit confirmation,
approved and audited with it."""

from __future__ import annotations

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from campaigns.exceptions import GapAboveTolerance
from campaigns.models import AuditEntry, CampaignState
from campaigns.services import campaign_approve
from retailers.models import Role
from tests.campaigns.factories import CampaignFactory

pytestmark = pytest.mark.django_db

RULE = {
    "name": "store 12 free coffee",
    "attribute": "store",
    "value": "12",
    "bonus_types": ["free_coffee"],
    "sense": "cap",
    "measure": "count",
    "limit": "150",
    "description": "at most 150 bonuses (free_coffee) for store = 12",
    "used": 150.0,
    "slack": 0.0,
    "binding": True,
    "shadow_price": 0.4125,
}


def proposal(retailer, *, gap: float, tolerance: float = 1e-4, coupling=()):
    return CampaignFactory(
        retailer=retailer,
        solver={
            "status": "feasible" if gap > tolerance else "optimal",
            "method": "dantzig-wolfe + greedy repair",
            "objective": 99.0,
            "lp_bound": 100.0,
            "gap": gap,
            "gap_tolerance": tolerance,
            "gap_exceeds_tolerance": gap > tolerance,
            "constraints": [],
            "coupling": list(coupling),
        },
    )


def approve(client, campaign, **data):
    return client.post(reverse("campaigns:campaign-approve", args=[campaign.pk]), data)


def test_proposal_page_shows_each_rule_with_usage_limit_and_binding(client, retailer, make_staff):
    idle = {**RULE, "name": "north reach", "used": 12.0, "binding": False, "limit": "40"}
    campaign = proposal(retailer, gap=0.0, coupling=[RULE, idle])
    client.force_login(make_staff(retailer, Role.VIEWER))
    html = client.get(reverse("campaigns:campaign-detail", args=[campaign.pk])).content.decode()
    assert 'data-testid="coupling-rules"' in html
    assert "store 12 free coffee" in html
    assert "at most 150 bonuses (free_coffee) for store = 12" in html
    assert "<strong>binding</strong>" in html
    assert "north reach" in html
    assert "12.00" in html  # its usage


def test_proposal_without_rules_shows_no_rule_table(client, retailer, make_staff):
    campaign = proposal(retailer, gap=0.0)
    client.force_login(make_staff(retailer, Role.VIEWER))
    html = client.get(reverse("campaigns:campaign-detail", args=[campaign.pk])).content.decode()
    assert "coupling-rules" not in html


def test_gap_above_tolerance_asks_for_confirmation_on_the_page(client, retailer, make_staff):
    campaign = proposal(retailer, gap=0.003, tolerance=0.002)
    client.force_login(make_staff(retailer, Role.APPROVER))
    html = client.get(reverse("campaigns:campaign-detail", args=[campaign.pk])).content.decode()
    assert 'name="accept_gap"' in html
    assert "0.300% below the best possible value, above the 0.200% tolerance" in html
    within = proposal(retailer, gap=0.001, tolerance=0.002)
    html = client.get(reverse("campaigns:campaign-detail", args=[within.pk])).content.decode()
    assert 'name="accept_gap"' not in html


def test_approval_above_tolerance_is_refused_without_confirmation(client, retailer, make_staff):
    campaign = proposal(retailer, gap=0.003)
    client.force_login(make_staff(retailer, Role.APPROVER))
    response = approve(client, campaign, comment="ok")
    texts = [str(m) for m in get_messages(response.wsgi_request)]
    assert any("0.300% below the best possible value" in t and "confirm" in t for t in texts)
    campaign.refresh_from_db()
    assert campaign.state == CampaignState.PROPOSED
    assert not AuditEntry.objects.filter(object_id=campaign.pk, action="approve").exists()


def test_approval_above_tolerance_with_confirmation_is_audited(client, retailer, make_staff):
    campaign = proposal(retailer, gap=0.003)
    client.force_login(make_staff(retailer, Role.APPROVER))
    approve(client, campaign, comment="deadline today", accept_gap="on")
    campaign.refresh_from_db()
    assert campaign.state == CampaignState.APPROVED
    entry = AuditEntry.objects.get(object_id=campaign.pk, action="approve")
    assert entry.data["gap_accepted"] == {"gap": 0.003, "gap_tolerance": 0.0001}
    assert entry.comment == "deadline today"


def test_approval_within_tolerance_needs_no_confirmation(retailer, make_staff):
    campaign = proposal(retailer, gap=5e-5)
    campaign_approve(campaign_id=campaign.pk, actor=make_staff(retailer, Role.APPROVER))
    entry = AuditEntry.objects.get(object_id=campaign.pk, action="approve")
    assert "gap_accepted" not in entry.data


def test_service_refuses_gap_above_the_runs_tolerance(retailer, make_staff):
    campaign = proposal(retailer, gap=0.003, tolerance=0.002)
    with pytest.raises(GapAboveTolerance):
        campaign_approve(campaign_id=campaign.pk, actor=make_staff(retailer, Role.APPROVER))
    within = proposal(retailer, gap=0.0015, tolerance=0.002)
    campaign_approve(campaign_id=within.pk, actor=make_staff(retailer, Role.APPROVER, username="b"))
    within.refresh_from_db()
    assert within.state == CampaignState.APPROVED
