"""Campaign pages: list, proposal review, approve/reject (four eyes), edits by re-run, results,
per role and across retailers; plus the dashboard's campaign section and a customer's rewards."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone

from campaigns.models import AuditEntry, Bonus, Campaign, CampaignState
from customers.models import PointsEntry, PointsKind
from optimizer.models import AllocationRun
from optimizer.services.allocation import allocation_run_execute
from retailers.models import Role, RunStatus
from tests.campaigns.factories import (
    BonusFactory,
    BonusTypeFactory,
    CampaignFactory,
    CampaignMemberFactory,
)
from tests.customers.factories import CustomerFactory
from tests.optimizer.allocation_fixtures import scored_tenant, start_allocation

pytestmark = pytest.mark.django_db
ROLES = [Role.VIEWER, Role.ANALYST, Role.APPROVER, Role.ADMIN]


def propose(retailer, user=None, **kwargs) -> Campaign:
    """Allocate on a scored tenant (created on first use) and return the proposed campaign."""
    if not AllocationRun.objects.filter(retailer=retailer).exists():
        scored_tenant(retailer)
    kwargs.setdefault("budget", Decimal("20.00"))
    kwargs.setdefault("control_share", 0.2)
    run = start_allocation(retailer=retailer, user=user, enqueue=False, **kwargs)
    run = allocation_run_execute(run_id=run.pk)
    assert run.status == RunStatus.SUCCEEDED, run.error
    return run.campaign


@pytest.fixture
def proposal(retailer, make_staff):
    return propose(retailer, make_staff(retailer, Role.ANALYST, username="analyst-ann"))


def message_texts(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def detail(pk: int) -> str:
    return reverse("campaigns:campaign-detail", args=[pk])


# --- Pages per role --------------------------------------------------------------------------
@pytest.mark.parametrize("role", ROLES)
def test_campaign_pages_render_for_every_role(client, retailer, make_staff, proposal, role):
    client.force_login(make_staff(retailer, role))
    listing = client.get(reverse("campaigns:campaign-list"))
    assert listing.status_code == 200
    assert list(listing.context["campaigns"]) == [proposal]
    page = client.get(detail(proposal.pk))
    assert page.status_code == 200
    html = page.content.decode()
    member = proposal.members.filter(is_control=False).order_by("-expected_value").first()
    for text in (
        proposal.name,
        "Expected cost vs budget",
        "Expected incremental revenue",
        "Expected incremental margin",
        "Expected ROI",
        "By segment",
        "By bonus type",
        "Gap to optimum",
        "LP bound",
        "Value of more budget",
        "binding",
        "Estimator",
        member.reason,
        f"{proposal.totals['control']} customers",
        "Audit log",
        "propose",
        "No earlier approved, issued or closed campaign",
    ):
        assert text in html, text
    # each breakdown is headed once: the chart's caption says what it draws, not the heading again
    assert html.count("By segment") == html.count("By bonus type") == 1
    assert page.context["segment_chart"]["data"]
    assert page.context["type_chart"]["data"]
    approver = role in (Role.APPROVER, Role.ADMIN)
    assert (reverse("campaigns:campaign-approve", args=[proposal.pk]) in html) is approver
    assert ('name="customers"' in html) is approver
    assert ("Change the budget" in html) is approver
    results = client.get(reverse("campaigns:campaign-results", args=[proposal.pk]))
    assert results.status_code == 200
    assert "No results yet" in results.content.decode()


@pytest.mark.parametrize(
    ("name", "method"),
    [
        ("campaigns:campaign-list", "get"),
        ("campaigns:campaign-detail", "get"),
        ("campaigns:campaign-results", "get"),
        ("campaigns:campaign-approve", "post"),
        ("campaigns:campaign-reject", "post"),
        ("campaigns:campaign-rerun", "post"),
    ],
)
def test_campaign_pages_send_anonymous_users_to_login(client, retailer, name, method):
    campaign = CampaignFactory(retailer=retailer)
    args = [] if name.endswith("list") else [campaign.pk]
    response = getattr(client, method)(reverse(name, args=args))
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


@pytest.mark.parametrize(
    ("name", "method"),
    [
        ("campaigns:campaign-detail", "get"),
        ("campaigns:campaign-results", "get"),
        ("campaigns:campaign-results", "post"),
        ("campaigns:campaign-approve", "post"),
        ("campaigns:campaign-reject", "post"),
        ("campaigns:campaign-rerun", "post"),
    ],
)
def test_another_retailers_campaign_is_404(
    client, retailer, other_retailer, make_staff, name, method
):
    theirs = CampaignFactory(retailer=other_retailer)
    CampaignFactory(retailer=retailer)
    client.force_login(make_staff(retailer, Role.ADMIN))
    response = getattr(client, method)(reverse(name, args=[theirs.pk]), {"comment": "x"})
    assert response.status_code == 404
    assert Campaign.objects.get(pk=theirs.pk).state == CampaignState.PROPOSED
    listing = client.get(reverse("campaigns:campaign-list"))
    assert theirs not in listing.context["campaigns"]


@pytest.mark.parametrize("role", [Role.VIEWER, Role.ANALYST])
@pytest.mark.parametrize("name", ["campaign-approve", "campaign-reject", "campaign-rerun"])
def test_deciding_or_editing_below_approver_is_403(client, retailer, make_staff, role, name):
    campaign = CampaignFactory(retailer=retailer)
    client.force_login(make_staff(retailer, role))
    response = client.post(
        reverse(f"campaigns:{name}", args=[campaign.pk]),
        {"comment": "fine", "action": "budget", "budget": "50"},
    )
    assert response.status_code == 403
    campaign.refresh_from_db()
    assert campaign.state == CampaignState.PROPOSED
    assert not AuditEntry.objects.filter(object_id=campaign.pk).exists()


def test_measure_now_below_approver_is_403(client, retailer, make_staff):
    campaign = CampaignFactory(retailer=retailer, state=CampaignState.ISSUED)
    client.force_login(make_staff(retailer, Role.ANALYST))
    assert client.post(reverse("campaigns:campaign-results", args=[campaign.pk])).status_code == 403


def test_campaign_list_filters_by_state(client, retailer, make_staff):
    proposed = CampaignFactory(retailer=retailer, name="Proposed one")
    closed = CampaignFactory(retailer=retailer, name="Closed one", state=CampaignState.CLOSED)
    client.force_login(make_staff(retailer, Role.VIEWER))
    url = reverse("campaigns:campaign-list")
    assert set(client.get(url).context["campaigns"]) == {proposed, closed}
    assert list(client.get(url, {"state": "closed"}).context["campaigns"]) == [closed]
    assert list(client.get(url, {"state": "proposed"}).context["campaigns"]) == [proposed]
    assert set(client.get(url, {"state": "bogus"}).context["campaigns"]) == {proposed, closed}
    assert "Closed (1)" in client.get(url).content.decode()


# --- Approve and reject ------------------------------------------------------------------------
def test_four_eyes_the_runs_creator_cannot_approve_but_another_approver_can(
    client, retailer, make_staff, django_capture_on_commit_callbacks
):
    retailer.four_eyes = True
    retailer.save(update_fields=["four_eyes"])
    creator = make_staff(retailer, Role.APPROVER, username="creator")
    campaign = propose(retailer, creator)
    client.force_login(creator)
    page = client.get(detail(campaign.pk)).content.decode()
    assert "another approver must approve or reject it" in page
    assert reverse("campaigns:campaign-approve", args=[campaign.pk]) not in page
    response = client.post(reverse("campaigns:campaign-approve", args=[campaign.pk]))
    assert response.status_code == 302
    assert response.url == detail(campaign.pk)
    assert any("Four-eyes" in text for text in message_texts(response))
    campaign.refresh_from_db()
    assert campaign.state == CampaignState.PROPOSED

    client.force_login(make_staff(retailer, Role.APPROVER, username="second"))
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("campaigns:campaign-approve", args=[campaign.pk]), {"comment": "looks right"}
        )
    assert "Campaign approved." in message_texts(response)
    campaign.refresh_from_db()
    assert campaign.state == CampaignState.ISSUED  # the issuance task ran on commit (sync Q)
    assert campaign.decided_by.username == "second"
    treated = campaign.members.filter(is_control=False).count()
    page = client.get(detail(campaign.pk))
    html = page.content.decode()
    assert "Bonuses issued" in html
    assert page.context["bonuses_issued"] == treated
    assert Bonus.objects.filter(campaign=campaign).count() == treated
    assert "looks right" in html
    assert AuditEntry.objects.filter(object_id=campaign.pk, action="approve").exists()


def test_reject_needs_a_comment_and_is_audited_on_the_page(client, retailer, make_staff):
    campaign = CampaignFactory(retailer=retailer)
    client.force_login(make_staff(retailer, Role.APPROVER, username="rita"))
    url = reverse("campaigns:campaign-reject", args=[campaign.pk])
    response = client.post(url, {"comment": "  "})
    assert any("comment" in text for text in message_texts(response))
    campaign.refresh_from_db()
    assert campaign.state == CampaignState.PROPOSED

    response = client.post(url, {"comment": "Too much on the loyal segment"})
    assert "Campaign rejected." in message_texts(response)
    campaign.refresh_from_db()
    assert campaign.state == CampaignState.REJECTED
    entry = AuditEntry.objects.get(object_id=campaign.pk, action="reject")
    assert entry.comment == "Too much on the loyal segment"
    assert entry.actor.username == "rita"
    html = client.get(detail(campaign.pk)).content.decode()
    assert "Too much on the loyal segment" in html
    assert "rita" in html
    assert reverse("campaigns:campaign-approve", args=[campaign.pk]) not in html


def test_service_errors_are_shown_as_messages(client, retailer, make_staff):
    client.force_login(make_staff(retailer, Role.APPROVER))
    # The independent re-check finds the members above the budget.
    over = CampaignFactory(retailer=retailer, budget=Decimal("1.00"))
    CampaignMemberFactory(retailer=retailer, campaign=over, expected_cost=Decimal("3.00"))
    response = client.post(reverse("campaigns:campaign-approve", args=[over.pk]))
    assert any("above the budget" in text for text in message_texts(response))
    over.refresh_from_db()
    assert over.state == CampaignState.PROPOSED
    # A rejected campaign can no longer be approved.
    rejected = CampaignFactory(retailer=retailer, state=CampaignState.REJECTED)
    response = client.post(reverse("campaigns:campaign-approve", args=[rejected.pk]))
    assert any("can no longer be approved" in text for text in message_texts(response))


# --- Edits by re-run ---------------------------------------------------------------------------
def test_dropping_customers_reruns_without_them_and_supersedes(
    client, retailer, make_staff, proposal, django_capture_on_commit_callbacks
):
    approver = make_staff(retailer, Role.APPROVER)
    client.force_login(approver)
    treated = list(
        proposal.members.filter(is_control=False)
        .order_by("-expected_value")
        .values_list("customer_id", flat=True)[:2]
    )
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("campaigns:campaign-rerun", args=[proposal.pk]),
            {"action": "drop", "customers": [str(pk) for pk in treated]},
        )
    run = AllocationRun.objects.exclude(pk=proposal.allocation_run_id).get()
    assert response.status_code == 302
    assert response.url == reverse("optimizer:allocation-detail", args=[run.pk])
    assert run.status == RunStatus.SUCCEEDED, run.error
    assert run.replaces == proposal
    assert run.created_by == approver
    assert sorted(run.constraints["excluded_customers"]) == sorted(treated)
    assert run.budget == proposal.budget
    new = run.campaign
    assert new.state == CampaignState.PROPOSED
    assert not new.members.filter(customer_id__in=treated).exists()
    proposal.refresh_from_db()
    assert proposal.state == CampaignState.SUPERSEDED
    old_page = client.get(detail(proposal.pk)).content.decode()
    assert "Superseded by a re-run" in old_page
    assert new.name in old_page
    assert "supersede" in old_page

    # A second drop keeps the earlier exclusions.
    third = new.members.filter(is_control=False).values_list("customer_id", flat=True).first()
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            reverse("campaigns:campaign-rerun", args=[new.pk]),
            {"action": "drop", "customers": [str(third)]},
        )
    latest = AllocationRun.objects.order_by("-pk").first()
    assert sorted(latest.constraints["excluded_customers"]) == sorted([*treated, third])


def test_changing_the_budget_reruns_with_the_same_constraints(
    client, retailer, make_staff, django_capture_on_commit_callbacks
):
    campaign = propose(retailer, constraints={"type_caps": {"coupon-5": 5}})
    client.force_login(make_staff(retailer, Role.APPROVER))
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            reverse("campaigns:campaign-rerun", args=[campaign.pk]),
            {"action": "budget", "budget": "35.50"},
        )
    run = AllocationRun.objects.order_by("-pk").first()
    assert run.replaces == campaign
    assert run.budget == Decimal("35.50")
    assert run.constraints == campaign.allocation_run.constraints
    assert run.scoring_run == campaign.allocation_run.scoring_run
    assert run.week_start == campaign.week_start
    assert run.status == RunStatus.SUCCEEDED, run.error
    assert run.campaign.budget == Decimal("35.50")
    campaign.refresh_from_db()
    assert campaign.state == CampaignState.SUPERSEDED


def test_invalid_edits_are_refused_with_a_message(client, retailer, make_staff, proposal):
    client.force_login(make_staff(retailer, Role.APPROVER))
    url = reverse("campaigns:campaign-rerun", args=[proposal.pk])
    control = proposal.members.filter(is_control=True).values_list("customer_id", flat=True)[0]
    stranger = CustomerFactory(retailer=retailer).pk
    for data in (
        {"action": "drop"},
        {"action": "drop", "customers": [str(control)]},
        {"action": "drop", "customers": [str(stranger)]},
        {"action": "budget", "budget": ""},
        {"action": "budget", "budget": "-5"},
    ):
        response = client.post(url, data)
        assert response.url == detail(proposal.pk), data
        assert any(text.startswith("Not re-run") for text in message_texts(response)), data
    assert AllocationRun.objects.count() == 1
    hand_made = CampaignFactory(retailer=retailer, state=CampaignState.APPROVED)
    response = client.post(
        reverse("campaigns:campaign-rerun", args=[hand_made.pk]),
        {"action": "budget", "budget": "10"},
    )
    assert any("Only a proposed campaign" in text for text in message_texts(response))


def test_a_rerun_while_a_run_is_active_links_to_that_run(client, retailer, make_staff, proposal):
    active = start_allocation(retailer=retailer, budget="20", enqueue=False)
    client.force_login(make_staff(retailer, Role.APPROVER))
    response = client.post(
        reverse("campaigns:campaign-rerun", args=[proposal.pk]),
        {"action": "budget", "budget": "30"},
    )
    assert response.url == detail(proposal.pk)
    texts = message_texts(response)
    assert any(t.startswith("Not re-run: ") and f"Follow run #{active.pk}" in t for t in texts)
    assert AllocationRun.objects.count() == 2


# --- Review details ----------------------------------------------------------------------------
def test_members_table_filters_pages_and_puts_treated_first(client, retailer, make_staff):
    campaign = CampaignFactory(retailer=retailer)
    coupon = BonusTypeFactory(retailer=retailer, code="coupon")
    points = BonusTypeFactory(retailer=retailer, code="points")
    for n in range(55):
        CampaignMemberFactory(
            retailer=retailer,
            campaign=campaign,
            bonus_type=coupon if n % 2 else points,
            segment="loyal" if n < 40 else "at risk",
            expected_value=Decimal(n),
            reason=f"reason-{n:02d}",
        )
    CampaignMemberFactory(
        retailer=retailer, campaign=campaign, is_control=True, bonus_type=None, segment="loyal"
    )
    client.force_login(make_staff(retailer, Role.VIEWER))
    page = client.get(detail(campaign.pk))
    members = list(page.context["members"])
    assert len(members) == 50
    assert members[0].reason == "reason-54"
    assert not any(m.is_control for m in members)
    last = client.get(detail(campaign.pk), {"page": 2}).context["members"]
    assert [m.is_control for m in last][-1] is True
    filtered = client.get(detail(campaign.pk), {"segment": "at risk", "bonus_type": "coupon"})
    reasons = {m.reason for m in filtered.context["members"]}
    assert reasons == {f"reason-{n:02d}" for n in range(40, 55) if n % 2}
    assert (
        client.get(detail(campaign.pk), {"segment": "loyal", "page": 1}).context["query"]
        == "segment=loyal"
    )


def test_time_limited_solve_is_shown_as_a_warning(client, retailer, make_staff):
    campaign = CampaignFactory(
        retailer=retailer,
        solver={
            "status": "time_limit",
            "method": "milp",
            "objective": 90.0,
            "lp_bound": 100.0,
            "gap": 0.1,
            "budget_shadow_price": 0.5,
            "value_of_10pct_more_budget": 4.25,
            "constraints": [
                {
                    "name": "budget",
                    "sense": "<=",
                    "limit": 100.0,
                    "used": 99.5,
                    "slack": 0.5,
                    "binding": True,
                    "shadow_price": 0.5,
                },
                {
                    "name": "cap:coupon",
                    "sense": "<=",
                    "limit": 10.0,
                    "used": 4.0,
                    "slack": 6.0,
                    "binding": False,
                    "shadow_price": 0.0,
                },
            ],
        },
    )
    client.force_login(make_staff(retailer, Role.VIEWER))
    html = client.get(detail(campaign.pk)).content.decode()
    assert "Stopped at its time limit" in html
    assert "10.000%" in html
    assert "+10% budget adds about 4.25" in html
    assert "cap:coupon" in html
    assert "6.00" in html  # the cap's slack


@pytest.mark.parametrize(("gap", "shown"), [(0.003, True), (5e-5, False)])
def test_gap_above_the_tolerance_is_shown_on_the_proposal(client, retailer, make_staff, gap, shown):
    campaign = CampaignFactory(
        retailer=retailer,
        solver={
            "status": "feasible" if shown else "feasible-within-gap",
            "method": "dantzig-wolfe + greedy repair",
            "objective": 99.7,
            "lp_bound": 100.0,
            "gap": gap,
            "gap_tolerance": 1e-4,
            "gap_exceeds_tolerance": shown,
            "constraints": [],
        },
    )
    client.force_login(make_staff(retailer, Role.VIEWER))
    html = client.get(detail(campaign.pk)).content.decode()
    assert ("Gap above tolerance" in html) is shown
    if shown:
        assert "0.300% below the best possible value, more than the 0.010% allowed" in html


def test_changes_against_the_last_decided_campaign(client, retailer, make_staff):
    coupon = BonusTypeFactory(retailer=retailer, code="coupon")
    points = BonusTypeFactory(retailer=retailer, code="points")
    people = [CustomerFactory(retailer=retailer) for _ in range(5)]
    last = CampaignFactory(
        retailer=retailer,
        name="Last week",
        state=CampaignState.CLOSED,
        week_start=dt.date(2024, 2, 26),
        week_end=dt.date(2024, 3, 3),
    )
    CampaignFactory(  # a rejected one in between is not "last week's campaign"
        retailer=retailer,
        state=CampaignState.REJECTED,
        week_start=dt.date(2024, 3, 1),
        week_end=dt.date(2024, 3, 3),
    )
    for person, bonus in zip(people[:3], [coupon, coupon, points], strict=True):
        CampaignMemberFactory(
            retailer=retailer,
            campaign=last,
            customer=person,
            bonus_type=bonus,
            expected_cost=Decimal("1.00"),
        )
    now = CampaignFactory(retailer=retailer)
    for person in people[1:5]:
        CampaignMemberFactory(
            retailer=retailer,
            campaign=now,
            customer=person,
            bonus_type=coupon,
            expected_cost=Decimal("1.25"),
        )
    client.force_login(make_staff(retailer, Role.VIEWER))
    page = client.get(detail(now.pk))
    changes = page.context["changes"]
    assert changes["previous"] == last
    assert changes["treated"] == {"before": 3, "now": 4, "difference": 1}
    assert changes["cost"] == {
        "before": Decimal("3.00"),
        "now": Decimal("5.00"),
        "difference": Decimal("2.00"),
    }
    assert changes["by_type"] == [
        {"bonus_type": "coupon", "before": 2, "now": 4, "difference": 2},
        {"bonus_type": "points", "before": 1, "now": 0, "difference": -1},
    ]
    assert changes["new_customers"] == 2  # people 3 and 4
    assert changes["dropped_customers"] == 1  # person 0
    html = page.content.decode()
    assert "Last week" in html
    assert "2 customers new to the treated group, 1 dropped from it." in html


# --- Results -----------------------------------------------------------------------------------
RESULTS = {
    "treated": 120,
    "control": 40,
    "measurable": True,
    "note": "",
    "confidence_level": 0.95,
    "redemption_rate": 0.25,
    "spend": {
        "treated_mean": 52.5,
        "control_mean": 45.0,
        "difference": 7.5,
        "ci_low": 1.25,
        "ci_high": 13.75,
        "significant": True,
    },
    "margin": {
        "treated_mean": 15.75,
        "control_mean": 13.5,
        "difference": 2.25,
        "ci_low": -0.5,
        "ci_high": 5.0,
        "significant": False,
    },
    "bonus_cost": 150.0,
    # 2.25 x 120 treated - 150 cost = 120; interval -0.5 x 120 - 150 .. 5 x 120 - 150.
    "incremental_margin": 120.0,
    "incremental_margin_ci": [-210.0, 450.0],
    "roi": 0.8,
    "uplift": [],
    "window": ["2024-03-04", "2024-03-17"],
    "bonuses_issued": 120,
}


def test_results_of_a_closed_campaign_show_the_arithmetic(client, retailer, make_staff):
    campaign = CampaignFactory(retailer=retailer, state=CampaignState.CLOSED, results=RESULTS)
    client.force_login(make_staff(retailer, Role.VIEWER))
    for url in (detail(campaign.pk), reverse("campaigns:campaign-results", args=[campaign.pk])):
        page = client.get(url)
        html = page.content.decode()
        for text in (
            "120 treated, 40 control",
            "2024-03-04 to 2024-03-17",
            "25% of treated customers",
            "52.50",
            "45.00",
            "7.50",
            "1.25 to 13.75",
            "2.25",
            "-0.50 to 5.00",
            "not significant",
            "150.00 EUR",
            "120.00 EUR",
            "interval -210.00 to 450.00",
            "0.80 (80% of the bonus cost)",
        ):
            assert text in html, (url, text)
        assert "Too small to tell" not in html
        assert page.context["results_chart"]["data"]
        assert "Measure now" not in html  # viewers do not measure


def test_too_small_to_tell_is_said_prominently(client, retailer, make_staff):
    note = "Too small to tell: 12 treated and 3 control customers (at least 30 each are needed)."
    results = {**RESULTS, "treated": 12, "control": 3, "measurable": False, "note": note}
    campaign = CampaignFactory(retailer=retailer, state=CampaignState.CLOSED, results=results)
    client.force_login(make_staff(retailer, Role.VIEWER))
    for url in (detail(campaign.pk), reverse("campaigns:campaign-results", args=[campaign.pk])):
        html = client.get(url).content.decode()
        assert "<strong>Too small to tell.</strong>" in html
        assert "12 treated and 3 control customers" in html


def test_measure_now_shows_the_figures_without_closing(client, retailer, make_staff):
    campaign = CampaignFactory(
        retailer=retailer, state=CampaignState.ISSUED, issued_at=timezone.now()
    )
    for _ in range(3):
        BonusFactory(retailer=retailer, member__campaign=campaign)
    CampaignMemberFactory(retailer=retailer, campaign=campaign, is_control=True, bonus_type=None)
    client.force_login(make_staff(retailer, Role.APPROVER))
    html = client.get(detail(campaign.pk)).content.decode()
    assert "Measure now" in html
    response = client.post(reverse("campaigns:campaign-results", args=[campaign.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Measured now" in html
    assert "3 treated, 1 control" in html
    assert "Too small to tell" in html
    assert response.context["results"]["bonuses_issued"] == 3
    campaign.refresh_from_db()
    assert campaign.state == CampaignState.ISSUED
    assert campaign.results == {}


def test_measure_now_before_issue_is_refused(client, retailer, make_staff):
    campaign = CampaignFactory(retailer=retailer)
    client.force_login(make_staff(retailer, Role.APPROVER))
    response = client.post(reverse("campaigns:campaign-results", args=[campaign.pk]))
    assert response.url == detail(campaign.pk)
    assert any("once the bonuses are issued" in text for text in message_texts(response))


# --- Dashboard and customer page ---------------------------------------------------------------
def test_dashboard_shows_this_months_budget_and_active_campaigns(client, retailer, make_staff):
    today = timezone.now().astimezone(retailer.tz).date()
    first = today.replace(day=1)
    CampaignFactory(
        retailer=retailer,
        name="Issued this month",
        state=CampaignState.ISSUED,
        week_start=first,
        week_end=first + dt.timedelta(days=6),
        budget=Decimal("200.00"),
        spend_limit=Decimal("200.00"),
        spent=Decimal("45.50"),
    )
    CampaignFactory(
        retailer=retailer,
        state=CampaignState.CLOSED,
        week_start=first,
        week_end=first + dt.timedelta(days=6),
        budget=Decimal("100.00"),
        spend_limit=Decimal("100.00"),
        spent=Decimal("30.00"),
    )
    CampaignFactory(  # last month: not this period
        retailer=retailer,
        state=CampaignState.CLOSED,
        week_start=first - dt.timedelta(days=7),
        week_end=first - dt.timedelta(days=1),
        spent=Decimal("99.00"),
    )
    CampaignFactory(
        retailer=retailer,
        name="Waiting for approval",
        week_start=first,
        week_end=first + dt.timedelta(days=6),
    )
    CampaignFactory(retailer=retailer, name="Rejected one", state=CampaignState.REJECTED)
    client.force_login(make_staff(retailer, Role.VIEWER))
    page = client.get(reverse("retailers:dashboard"))
    budget = page.context["budget"]
    assert budget["used"] == Decimal("75.50")
    assert budget["total"] == Decimal("300.00")
    assert budget["campaigns"] == 2
    html = page.content.decode()
    assert "75.50" in html
    assert "300.00" in html
    assert "Issued this month" in html
    assert "Waiting for approval" in html
    assert "Rejected one" not in html
    assert page.context["campaign_chart"]["data"]
    assert 'id="chart-campaign-budget"' in html


def test_customer_page_shows_bonuses_redemptions_and_points(client, retailer, make_staff):
    bonus = BonusFactory(retailer=retailer, code="WELCOME42", member__campaign__name="Spring")
    customer = bonus.customer
    bonus.redemptions.create(
        retailer=retailer, use_no=1, cost=Decimal("1.00"), basket_amount=Decimal("23.40")
    )
    for seq, (points, balance) in enumerate([(100, 100), (-40, 60)], start=1):
        PointsEntry.objects.create(
            retailer=retailer,
            customer=customer,
            seq=seq,
            kind=PointsKind.EARNED if points > 0 else PointsKind.REDEEMED,
            points=points,
            balance_after=balance,
            expires_on=dt.date(2099, 1, 31) if points > 0 else None,
            reason=f"movement {seq}",
        )
    client.force_login(make_staff(retailer, Role.VIEWER))
    html = client.get(reverse("customers:detail", args=[customer.pk])).content.decode()
    for text in ("WELCOME42", "Spring", "23.40", "60</span> points", "movement 2", "-40"):
        assert text in html, text
    assert "No bonuses issued" not in html
    assert "60 points expire on 2099-01-31" in html
    other = CustomerFactory(retailer=retailer)
    html = client.get(reverse("customers:detail", args=[other.pk])).content.decode()
    assert "No bonuses issued" in html
    assert "No points ledger yet" in html


def test_campaign_figures_are_built_from_the_stored_figures():
    from loyalty_site.charts import (
        campaign_breakdown_figure,
        campaign_budget_figure,
        campaign_results_figure,
    )

    rows = [
        {"bonus_type": "coupon", "allocated": 5, "expected_cost": 9.6, "expected_value": 38.0},
        {"bonus_type": "points", "allocated": 17, "expected_cost": 10.2, "expected_value": 55.5},
    ]
    fig = campaign_breakdown_figure(rows, key="bonus_type", title="By bonus type").to_plotly_json()
    bars, cost, value = fig["data"]
    assert list(bars["x"]) == ["coupon", "points"]
    assert list(bars["y"]) == [5, 17]
    assert list(cost["y"]) == [9.6, 10.2]
    assert list(value["y"]) == [38.0, 55.5]
    results = campaign_results_figure(RESULTS).to_plotly_json()["data"]
    assert [list(trace["y"]) for trace in results] == [[52.5, 15.75], [45.0, 13.5]]
    budget = campaign_budget_figure(
        [{"label": "w1", "budget": 100, "expected_cost": 90, "spent": 40}]
    ).to_plotly_json()["data"]
    assert [list(trace["y"]) for trace in budget] == [[100.0], [90.0], [40.0]]
