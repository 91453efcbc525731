"""Allocation run pages: the runs page, starting an allocation from the form, the run's page
with live progress and errors, per role and across retailers."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from decimal import Decimal

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from campaigns.models import CampaignState
from optimizer.models import AllocationRun, PromotionRun
from retailers.models import Role, RunStatus
from retailers.weeks import week_start_on_or_before
from tests.optimizer.allocation_fixtures import AS_OF, scored_tenant
from tests.optimizer.factories import ScoringRunFactory
from tests.retailers.factories import TIME_ZONE

pytestmark = pytest.mark.django_db
ROLES = [Role.VIEWER, Role.ANALYST, Role.APPROVER, Role.ADMIN]


@pytest.fixture
def scored(retailer):
    return scored_tenant(retailer)


@pytest.fixture
def queued_tasks(monkeypatch):
    calls = []
    monkeypatch.setattr(
        "retailers.lifecycle.async_task",
        lambda *args, **kwargs: calls.append((args, kwargs)),
    )
    return calls


def this_week() -> str:
    """The week the form offers first: the current one, in the test retailers' zone."""
    today = timezone.localdate(timezone=zoneinfo.ZoneInfo(TIME_ZONE))
    return week_start_on_or_before(today).isoformat()


def form_data(**overrides):
    data = {
        "budget": "20.00",
        "week_start": this_week(),
        "contact_limit": "2",
        "contact_window_weeks": "4",
        "control_share": "20",
        "spend_limit": "",
    }
    return {**data, **overrides}


def failed_run(retailer, scoring_run):
    start = timezone.now() - dt.timedelta(seconds=30)
    return AllocationRun.objects.create(
        retailer=retailer,
        scoring_run=scoring_run,
        week_start=AS_OF,
        budget=Decimal("0.50"),
        constraints={"segment_coverage": {"at risk": 1.0}},
        status=RunStatus.FAILED,
        progress=30,
        stage="failed",
        error="Infeasible (coverage:at risk): covering 'at risk' costs more than the budget",
        result={"constraint": "coverage:at risk"},
        timings={"read": 0.25},
        started_at=start,
        finished_at=start + dt.timedelta(seconds=2),
    )


@pytest.mark.parametrize("role", ROLES)
def test_allocation_pages_render_for_every_role(client, retailer, make_staff, scored, role):
    run = failed_run(retailer, scored)
    PromotionRun.objects.create(retailer=retailer, week_start=AS_OF, status=RunStatus.SUCCEEDED)
    client.force_login(make_staff(retailer, role))
    runs = client.get(reverse("optimizer:run-list"))
    assert runs.status_code == 200
    assert list(runs.context["allocation_runs"]) == [run]
    assert len(runs.context["promotion_runs"]) == 1
    html = runs.content.decode()
    for text in ("Scoring runs", "Allocation runs", "Promotion runs", "Weekly proposal"):
        assert text in html, text
    start_url = reverse("optimizer:allocation-start")
    assert (start_url in html) is (role != Role.VIEWER)
    listing = client.get(reverse("optimizer:allocation-list"))
    assert listing.status_code == 200
    assert list(listing.context["runs"]) == [run]
    page = client.get(reverse("optimizer:allocation-detail", args=[run.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    for text in (
        "Failed",
        "Infeasible (coverage:at risk)",
        "coverage:at risk</strong>",
        "at risk ≥ 100%",
        "read",
        "(2.0 s)",
    ):
        assert text in html, text
    assert "data-poll-url" not in html
    start = client.get(start_url)
    assert start.status_code == (403 if role == Role.VIEWER else 200)


def test_start_form_offers_caps_per_active_type_and_coverage_per_segment(
    client, retailer, make_staff, scored
):
    retailer.contact_limit, retailer.contact_window_weeks = 3, 6
    retailer.save(update_fields=["contact_limit", "contact_window_weeks"])
    client.force_login(make_staff(retailer, Role.ANALYST))
    page = client.get(reverse("optimizer:allocation-start"))
    form = page.context["form"]
    assert [code for _, code in form.cap_fields] == ["coupon-5", "points-300"]
    assert [segment for _, segment in form.coverage_fields] == ["at risk", "loyal"]
    assert form.initial["contact_limit"] == 3
    assert form.initial["contact_window_weeks"] == 6
    html = page.content.decode()
    assert "Coverage: at risk (%)" in html
    assert f"scoring run #{scored.pk}" in html


@time_machine.travel(dt.datetime(2025, 6, 5, 23, 30, tzinfo=zoneinfo.ZoneInfo(TIME_ZONE)))
def test_analyst_starts_an_allocation_and_follows_it_to_the_campaign(
    client, retailer, make_staff, scored, django_capture_on_commit_callbacks
):
    analyst = make_staff(retailer, Role.ANALYST)
    client.force_login(analyst)
    data = form_data(cap_0="5", coverage_0="50", spend_limit="18.00", week_start="2025-06-09")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("optimizer:allocation-start"), data)
    run = AllocationRun.objects.get()
    assert response.status_code == 302
    assert response.url == reverse("optimizer:allocation-detail", args=[run.pk])
    assert run.created_by == analyst
    assert run.budget == Decimal("20.00")
    assert run.spend_limit == Decimal("18.00")
    assert run.week_start == dt.date(2025, 6, 9)
    assert run.control_share == Decimal("0.200")
    assert run.constraints == {
        "contact_limit": 2,
        "contact_window_weeks": 4,
        "type_caps": {"coupon-5": 5},
        "segment_coverage": {"at risk": 0.5},
        "coupling": [],
        "gap_tolerance": "0.000100",
    }
    assert run.status == RunStatus.SUCCEEDED, run.error
    page = client.get(response.url)
    html = page.content.decode()
    assert "Open the proposed campaign" in html
    assert reverse("campaigns:campaign-detail", args=[run.campaign.pk]) in html
    assert run.campaign.state == CampaignState.PROPOSED
    assert "coupon-5 ≤ 5" in html
    assert "solver: solve" in html


def test_queued_run_page_polls_its_status(
    client, retailer, make_staff, scored, queued_tasks, django_capture_on_commit_callbacks
):
    client.force_login(make_staff(retailer, Role.ANALYST))
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("optimizer:allocation-start"), form_data())
    run = AllocationRun.objects.get()
    assert run.status == RunStatus.QUEUED
    assert len(queued_tasks) == 1
    status_url = reverse("optimizer:allocation-status", args=[run.pk])
    html = client.get(reverse("optimizer:allocation-detail", args=[run.pk])).content.decode()
    assert f'data-poll-url="{status_url}"' in html
    fragment = client.get(status_url)
    assert fragment["Cache-Control"] == "no-store"
    assert "Queued" in fragment.content.decode()
    # A second allocation is refused while this one is queued, with a link to it.
    again = client.post(reverse("optimizer:allocation-start"), form_data())
    assert again.status_code == 200
    assert "Not started" in again.content.decode()
    assert f"Follow run #{run.pk}" in again.content.decode()
    assert AllocationRun.objects.count() == 1


def test_start_refuses_settings_the_service_rejects(client, retailer, make_staff, queued_tasks):
    client.force_login(make_staff(retailer, Role.ANALYST))
    response = client.post(reverse("optimizer:allocation-start"), form_data())
    assert response.status_code == 200
    assert "no active bonus type" in response.content.decode()
    scored_tenant(retailer)
    bad = client.post(reverse("optimizer:allocation-start"), form_data(budget="0"))
    assert bad.status_code == 200
    assert "budget" in bad.context["form"].errors
    assert not AllocationRun.objects.exists()


def test_failed_run_shows_its_clear_message(
    client, retailer, make_staff, scored, django_capture_on_commit_callbacks
):
    client.force_login(make_staff(retailer, Role.ANALYST))
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            reverse("optimizer:allocation-start"), form_data(budget="0.50", coverage_0="100")
        )
    run = AllocationRun.objects.get()
    assert run.status == RunStatus.FAILED
    html = client.get(reverse("optimizer:allocation-detail", args=[run.pk])).content.decode()
    assert "coverage" in run.error
    assert run.error.split(":")[0] in html
    assert "No campaign was proposed" in html


@pytest.mark.parametrize(
    "name", ["optimizer:allocation-list", "optimizer:allocation-start", "optimizer:run-list"]
)
def test_allocation_pages_send_anonymous_users_to_login(client, name):
    response = client.get(reverse(name))
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


@pytest.mark.parametrize("name", ["optimizer:allocation-detail", "optimizer:allocation-status"])
def test_another_retailers_run_is_404(client, retailer, other_retailer, make_staff, name):
    theirs = failed_run(other_retailer, ScoringRunFactory(retailer=other_retailer))
    client.force_login(make_staff(retailer, Role.ADMIN))
    assert client.get(reverse(name, args=[theirs.pk])).status_code == 404
    assert list(client.get(reverse("optimizer:allocation-list")).context["runs"]) == []
