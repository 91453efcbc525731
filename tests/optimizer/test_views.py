"""Scoring run pages: list, detail with its polled status panel, and starting a run, per role
and across retailers."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from optimizer.models import ScoringRun
from retailers.models import Role, RunStatus
from tests.customers.factories import CustomerFactory, TransactionFactory
from tests.optimizer.factories import AS_OF, ScoringRunFactory, synthetic_tenant
from tests.optimizer.test_admin import METRICS

pytestmark = pytest.mark.django_db
ROLES = [Role.VIEWER, Role.ANALYST, Role.APPROVER, Role.ADMIN]


@pytest.fixture
def finished_run(retailer):
    start = timezone.now() - dt.timedelta(minutes=3)
    return ScoringRunFactory(
        retailer=retailer,
        metrics=METRICS,
        timings={"fit": 12.5, "read": 3.25, "total": 20.0},
        segment_profile=[
            {"segment": "champions", "size": 30, "share": 0.75, "churn_probability": 0.1},
            {"segment": "dormant", "size": 10, "share": 0.25, "churn_probability": 0.9},
        ],
        started_at=start,
        finished_at=start + dt.timedelta(seconds=125),
        progress=100,
        customers_scored=40,
    )


@pytest.fixture
def queued_tasks(monkeypatch):
    calls = []
    monkeypatch.setattr(
        "retailers.lifecycle.async_task", lambda *args, **kwargs: calls.append((args, kwargs))
    )
    return calls


@pytest.mark.parametrize("role", ROLES)
def test_run_pages_render_for_every_role(client, retailer, make_staff, finished_run, role):
    client.force_login(make_staff(retailer, role))
    listing = client.get(reverse("optimizer:run-list"))
    assert listing.status_code == 200
    assert list(listing.context["runs"]) == [finished_run]
    assert (reverse("optimizer:run-start") in listing.content.decode()) is (role != Role.VIEWER)
    page = client.get(reverse("optimizer:run-detail", args=[finished_run.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    for text in (
        "Succeeded",
        "Churn AUC (higher is better)",
        "0.812",
        "0.746",
        "BG/NBD baseline",
        "response: prior: 3 resolved offers (need 50)",
        "Seconds per stage",
        "12.5",
        "dormant",
        "125 s",
    ):
        assert text in html, text
    assert "data-poll-url" not in html  # finished: nothing to poll
    assert page.context["segment_chart"]["data"][0]["x"] == [10, 30]


def test_an_active_run_page_polls_its_status_panel(client, staff_user, retailer):
    run = ScoringRunFactory(
        retailer=retailer, status=RunStatus.RUNNING, progress=42, stage="scoring 3 chunk(s)"
    )
    client.force_login(staff_user)
    html = client.get(reverse("optimizer:run-detail", args=[run.pk])).content.decode()
    status_url = reverse("optimizer:run-status", args=[run.pk])
    assert f'data-poll-url="{status_url}"' in html
    panel = client.get(status_url)
    assert panel.status_code == 200
    assert panel["Cache-Control"] == "no-store"
    text = panel.content.decode()
    for part in ("42%", "scoring 3 chunk(s)", "data-poll-url"):
        assert part in text
    assert "<html" not in text  # a fragment
    run.status, run.error, run.finished_at = RunStatus.FAILED, "ValueError: boom", timezone.now()
    run.save()
    text = client.get(status_url).content.decode()
    assert "ValueError: boom" in text
    assert "data-poll-url" not in text


def test_other_retailers_runs_are_404(client, retailer, other_retailer, make_staff):
    theirs = ScoringRunFactory(retailer=other_retailer)
    client.force_login(make_staff(retailer, Role.ADMIN))
    assert client.get(reverse("optimizer:run-detail", args=[theirs.pk])).status_code == 404
    assert client.get(reverse("optimizer:run-status", args=[theirs.pk])).status_code == 404
    assert list(client.get(reverse("optimizer:run-list")).context["runs"]) == []


def test_viewers_cannot_start_a_run(client, retailer, make_staff, queued_tasks):
    client.force_login(make_staff(retailer, Role.VIEWER))
    assert client.get(reverse("optimizer:run-start")).status_code == 403
    assert client.post(reverse("optimizer:run-start"), {"horizon_weeks": 8}).status_code == 403
    assert not ScoringRun.objects.exists()


@pytest.mark.parametrize("role", [Role.ANALYST, Role.APPROVER, Role.ADMIN])
def test_analysts_start_a_run_from_the_page(
    client, retailer, make_staff, role, queued_tasks, django_capture_on_commit_callbacks
):
    customer = CustomerFactory(retailer=retailer)
    TransactionFactory(
        retailer=retailer, customer=customer, timestamp=dt.datetime(2025, 3, 9, 10, tzinfo=dt.UTC)
    )
    user = make_staff(retailer, role)
    client.force_login(user)
    assert client.get(reverse("optimizer:run-start")).status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("optimizer:run-start"), {"as_of": "", "horizon_weeks": 6})
    run = ScoringRun.objects.get()
    assert response.status_code == 302
    assert response.url == reverse("optimizer:run-detail", args=[run.pk])
    assert (run.retailer, run.created_by, run.horizon_weeks) == (retailer, user, 6)
    assert run.as_of == dt.date(2025, 3, 10)
    assert run.status == RunStatus.QUEUED
    assert queued_tasks == [
        (("optimizer.tasks.scoring_run_execute_task", run.pk), {"cluster": "long"})
    ]


def test_starting_while_a_run_is_active_is_refused_with_a_clear_message(
    client, retailer, make_staff, queued_tasks
):
    active = ScoringRunFactory(retailer=retailer, status=RunStatus.RUNNING)
    CustomerFactory(retailer=retailer)
    client.force_login(make_staff(retailer, Role.ANALYST))
    form = client.get(reverse("optimizer:run-start"))
    assert "cannot start until it finishes" in form.content.decode()
    response = client.post(
        reverse("optimizer:run-start"), {"as_of": "2025-06-02", "horizon_weeks": 8}
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "Not started: a scoring run for Acme Foods is already running" in html
    assert reverse("optimizer:run-detail", args=[active.pk]) in html
    assert ScoringRun.objects.count() == 1


def test_starting_without_data_or_with_a_bad_horizon_explains_why(
    client, retailer, make_staff, queued_tasks
):
    client.force_login(make_staff(retailer, Role.ANALYST))
    response = client.post(reverse("optimizer:run-start"), {"horizon_weeks": 8})
    assert "Not started: Acme Foods has no transactions yet" in response.content.decode()
    response = client.post(reverse("optimizer:run-start"), {"horizon_weeks": 99})
    assert response.context["form"].errors["horizon_weeks"]
    assert not ScoringRun.objects.exists()


@pytest.mark.slow
def test_a_run_started_from_the_page_runs_in_process_and_reports(
    client, retailer, make_staff, scoring_settings, django_capture_on_commit_callbacks
):
    """Q runs tasks synchronously in tests: the started run is scored before the redirect."""
    synthetic_tenant(retailer, customers=40, seed=3)
    client.force_login(make_staff(retailer, Role.ANALYST))
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("optimizer:run-start"), {"as_of": AS_OF.isoformat(), "horizon_weeks": 8}
        )
    run = ScoringRun.objects.get()
    assert run.status == RunStatus.SUCCEEDED, run.error
    page = client.get(response.url)
    assert "Holdout metrics" in page.content.decode()
    dashboard = client.get(reverse("retailers:dashboard"))
    assert dashboard.context["kpis"]["scored"] == 40
    assert sum(row["size"] for row in run.segment_profile) == 40
