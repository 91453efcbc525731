"""The weekly bonus workflow through the staff pages, as people click it (no browser needed):
an analyst allocates, an approver drops a customer and approves the re-run (four eyes), the
bonuses are issued, and the results are measured."""

from __future__ import annotations

import pytest
from django.urls import reverse

from campaigns.models import Bonus, Campaign, CampaignState
from optimizer.models import AllocationRun
from retailers.models import Role, RunStatus
from tests.optimizer.allocation_fixtures import scored_tenant

pytestmark = pytest.mark.django_db


def test_allocate_review_edit_approve_issue_measure(
    client, retailer, make_staff, django_capture_on_commit_callbacks
):
    retailer.four_eyes = True
    retailer.save(update_fields=["four_eyes"])
    scored_tenant(retailer)
    analyst = make_staff(retailer, Role.ANALYST)
    approver = make_staff(retailer, Role.APPROVER)

    client.force_login(analyst)
    start = client.get(reverse("optimizer:allocation-start"))
    form = start.context["form"]
    data = {name: ("" if value is None else value) for name, value in form.initial.items()}
    data["budget"] = "25.00"
    with django_capture_on_commit_callbacks(execute=True):  # the worker runs after the commit
        started = client.post(reverse("optimizer:allocation-start"), data)
    assert "Open the proposed campaign" in client.get(started.url).content.decode()
    first = Campaign.objects.get()

    client.force_login(approver)
    page = client.get(reverse("campaigns:campaign-detail", args=[first.pk]))
    assert page.context["can_decide"]
    dropped = page.context["members"][0].customer_id
    with django_capture_on_commit_callbacks(execute=True):
        rerun = client.post(
            reverse("campaigns:campaign-rerun", args=[first.pk]),
            {"action": "drop", "customers": [dropped]},
        )
    assert "Open the proposed campaign" in client.get(rerun.url).content.decode()
    second = Campaign.objects.exclude(pk=first.pk).get()
    assert not second.members.filter(customer_id=dropped).exists()
    first.refresh_from_db()
    assert first.state == CampaignState.SUPERSEDED
    assert AllocationRun.objects.filter(status=RunStatus.SUCCEEDED).count() == 2

    # The approver started the re-run, so four eyes send the decision back to someone else.
    refused = client.post(reverse("campaigns:campaign-approve", args=[second.pk]), follow=True)
    assert "Four-eyes" in refused.content.decode()
    client.force_login(make_staff(retailer, Role.ADMIN))
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("campaigns:campaign-approve", args=[second.pk]), {"comment": "ok"})
    second.refresh_from_db()
    assert second.state == CampaignState.ISSUED
    treated = second.members.filter(is_control=False).count()
    assert Bonus.objects.filter(campaign=second).count() == treated

    measured = client.post(reverse("campaigns:campaign-results", args=[second.pk]))
    assert measured.status_code == 200
    assert measured.context["results"]["treated"] == treated
    assert "Too small to tell" in measured.content.decode()
    dashboard = client.get(reverse("retailers:dashboard")).content.decode()
    assert second.name in dashboard
