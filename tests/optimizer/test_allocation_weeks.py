"""Weeks are weeks: the allocation form offers the retailer's upcoming weeks, the service and the
command refuse a week that does not start on the retailer's week-start day, and scores that are
more than a few weeks older than the campaign week are warned about on the form and the proposal.
The clock is pinned: every date here depends on "today" in the retailer's zone."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from decimal import Decimal
from io import StringIO

import pytest
import time_machine
from django.contrib.messages import get_messages
from django.core.management import CommandError, call_command
from django.urls import reverse

from optimizer.exceptions import AllocationSettingsInvalid
from optimizer.models import AllocationRun
from optimizer.services.allocation import default_week_start
from retailers.models import Role
from tests.optimizer.allocation_fixtures import AS_OF, scored_tenant, start_allocation
from tests.retailers.factories import TIME_ZONE

pytestmark = pytest.mark.django_db
HELSINKI = zoneinfo.ZoneInfo(TIME_ZONE)
SUNDAY_NIGHT = dt.datetime(2026, 12, 6, 23, 30, tzinfo=HELSINKI)
MONDAY_AFTER_MIDNIGHT = dt.datetime(2026, 12, 7, 0, 30, tzinfo=HELSINKI)  # UTC: Sunday 22:30


@pytest.fixture
def scored(retailer):
    return scored_tenant(retailer)


@pytest.fixture
def analyst_client(client, retailer, make_staff):
    client.force_login(make_staff(retailer, Role.ANALYST))
    return client


def form_data(week: str, **overrides):
    data = {
        "budget": "20.00",
        "week_start": week,
        "contact_limit": "2",
        "contact_window_weeks": "4",
        "control_share": "20",
        "spend_limit": "",
    }
    return {**data, **overrides}


@pytest.mark.parametrize(
    ("now", "first"),
    [
        (SUNDAY_NIGHT, dt.date(2026, 11, 30)),  # its own week may still get a campaign
        (MONDAY_AFTER_MIDNIGHT, dt.date(2026, 12, 7)),  # the local date, not UTC's Sunday
    ],
)
def test_form_offers_the_upcoming_weeks_as_a_select_with_week_labels(
    analyst_client, scored, now, first
):
    with time_machine.travel(now, tick=False):
        page = analyst_client.get(reverse("optimizer:allocation-start"))
    choices = page.context["form"].fields["week_start"].choices
    assert [value for value, _ in choices] == [
        (first + dt.timedelta(weeks=n)).isoformat() for n in range(8)
    ]
    html = page.content.decode()
    assert '<select name="week_start"' in html
    assert 'type="date"' not in html
    assert "Week 50, 7-13 Dec 2026" in html
    assert "Week 53, 28 Dec 2026-3 Jan 2027" in html


def test_form_weeks_start_on_the_retailers_week_start_day(analyst_client, retailer, scored):
    retailer.week_start_day = 6  # Sunday
    retailer.save(update_fields=["week_start_day"])
    with time_machine.travel(SUNDAY_NIGHT, tick=False):
        page = analyst_client.get(reverse("optimizer:allocation-start"))
    values = [value for value, _ in page.context["form"].fields["week_start"].choices]
    assert values[:2] == ["2026-12-06", "2026-12-13"]
    assert "Week 50, 6-12 Dec 2026" in page.content.decode()


def test_form_refuses_a_day_that_is_not_an_offered_week(analyst_client, scored):
    with time_machine.travel(SUNDAY_NIGHT, tick=False):
        wednesday = analyst_client.post(
            reverse("optimizer:allocation-start"), form_data("2026-12-09")
        )
        past = analyst_client.post(reverse("optimizer:allocation-start"), form_data("2026-11-23"))
    for response in (wednesday, past):
        assert response.status_code == 200
        assert "week_start" in response.context["form"].errors
    assert not AllocationRun.objects.exists()


def test_service_refuses_a_week_start_on_another_weekday(retailer, scored):
    with pytest.raises(AllocationSettingsInvalid, match=r"Week start: 2025-06-04 is a Wednesday"):
        start_allocation(
            retailer=retailer, budget=Decimal(20), week_start=dt.date(2025, 6, 4), enqueue=False
        )
    retailer.week_start_day = 2
    retailer.save(update_fields=["week_start_day"])
    run = start_allocation(
        retailer=retailer, budget=Decimal(20), week_start=dt.date(2025, 6, 4), enqueue=False
    )
    assert run.week_start == dt.date(2025, 6, 4)


def test_default_week_is_the_first_week_start_on_or_after_the_scores(retailer, scored):
    assert default_week_start(AS_OF) == AS_OF  # a Monday
    assert default_week_start(AS_OF, 3) == dt.date(2025, 6, 5)  # Thursday weeks
    retailer.week_start_day = 3
    retailer.save(update_fields=["week_start_day"])
    run = start_allocation(retailer=retailer, budget=Decimal(20), enqueue=False)
    assert run.week_start == dt.date(2025, 6, 5)


def test_allocate_command_validates_week_start(retailer, scored):
    with pytest.raises(CommandError, match=r"--week-start 2025-06-04 is a Wednesday.*Monday"):
        call_command(
            "allocate", "--retailer", retailer.slug, "--budget", "20", "--week-start", "2025-06-04"
        )
    with pytest.raises(CommandError, match="--week-start"):
        call_command(
            "allocate", "--retailer", retailer.slug, "--budget", "20", "--week-start", "June"
        )
    assert not AllocationRun.objects.exists()


def test_allocate_command_warns_when_the_scores_are_old_for_the_week(retailer, scored, settings):
    err = StringIO()
    call_command(
        "allocate",
        "--retailer",
        retailer.slug,
        "--budget",
        "20",
        "--week-start",
        "2025-07-14",
        stdout=StringIO(),
        stderr=err,
    )
    assert "scores are 6 weeks old" in err.getvalue()


@time_machine.travel(dt.datetime(2025, 6, 5, 12, 0, tzinfo=HELSINKI), tick=False)
def test_form_labels_the_weeks_whose_scores_are_too_old(analyst_client, scored):
    page = analyst_client.get(reverse("optimizer:allocation-start"))
    labels = dict(page.context["form"].fields["week_start"].choices)
    assert labels["2025-06-02"] == "Week 23, 2-8 Jun 2025"  # the scores' own week: the default
    assert labels["2025-06-30"] == "Week 27, 30 Jun-6 Jul 2025"  # 4 weeks: still fine
    assert labels["2025-07-07"] == "Week 28, 7-13 Jul 2025 (scores 5 weeks old)"
    assert page.context["form"].initial["week_start"] == "2025-06-02"
    assert page.context["scores_note"] is None


def test_old_scores_warn_on_the_form_after_starting_and_on_the_proposal(
    analyst_client, scored, django_capture_on_commit_callbacks
):
    with time_machine.travel(dt.datetime(2025, 8, 1, 12, 0, tzinfo=HELSINKI), tick=False):
        page = analyst_client.get(reverse("optimizer:allocation-start"))
        assert page.context["form"].initial["week_start"] == "2025-07-28"
        assert "The scores are 8 weeks old for this week" in page.content.decode()
        with django_capture_on_commit_callbacks(execute=True):
            started = analyst_client.post(
                reverse("optimizer:allocation-start"), form_data("2025-08-04")
            )
        run = AllocationRun.objects.get()
        proposal = analyst_client.get(reverse("campaigns:campaign-detail", args=[run.campaign.pk]))
    assert [str(m) for m in get_messages(started.wsgi_request)][1].startswith(
        "The scores are 9 weeks old for this week"
    )
    assert run.week_start == dt.date(2025, 8, 4)
    assert "The scores are 9 weeks old for this week: they are as of 2025-06-02" in (
        proposal.content.decode()
    )


def test_recent_scores_do_not_warn_on_the_proposal(
    analyst_client, scored, django_capture_on_commit_callbacks
):
    with time_machine.travel(dt.datetime(2025, 6, 5, 12, 0, tzinfo=HELSINKI), tick=False):
        with django_capture_on_commit_callbacks(execute=True):
            analyst_client.post(reverse("optimizer:allocation-start"), form_data("2025-06-30"))
        run = AllocationRun.objects.get()
        proposal = analyst_client.get(reverse("campaigns:campaign-detail", args=[run.campaign.pk]))
    assert proposal.status_code == 200
    assert "weeks old" not in proposal.content.decode()
