"""The dashboard per retailer and role: customer count, score KPIs, segments, last run,
campaign placeholders."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.urls import reverse

from retailers.models import Role, RunStatus
from tests.customers.factories import CustomerFactory
from tests.customers.test_views import make_score
from tests.optimizer.factories import ScoringRunFactory
from tests.optimizer.test_admin import METRICS

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("role", [Role.VIEWER, Role.ANALYST, Role.APPROVER, Role.ADMIN])
def test_dashboard_shows_kpis_segments_and_the_last_run(client, retailer, make_staff, role):
    run = ScoringRunFactory(
        retailer=retailer,
        metrics=METRICS,
        finished_at=dt.datetime(2025, 6, 2, 12, tzinfo=dt.UTC),
        segment_profile=[
            {"segment": "champions", "size": 2, "share": 0.6667},
            {"segment": "dormant", "size": 1, "share": 0.3333},
        ],
    )
    for churn, clv in (("0.1000", "100.10"), ("0.2000", "200.20"), ("0.9000", "0.05")):
        make_score(run, CustomerFactory(retailer=retailer), churn=churn, clv=clv)
    CustomerFactory(retailer=retailer)  # enrolled since: counted, not scored
    client.force_login(make_staff(retailer, role))
    page = client.get(reverse("retailers:dashboard"))
    assert page.status_code == 200
    kpis = page.context["kpis"]
    assert kpis == {
        "scored": 3,
        "mean_churn": Decimal("0.4000"),
        "expected_spend": Decimal("90.00"),
        "clv": Decimal("300.35"),
        "at_risk": 1,
    }
    assert page.context["customer_count"] == 4
    assert page.context["segment_chart"]["data"][0]["y"] == ["dormant", "champions"]
    html = page.content.decode()
    for text in ("Acme Foods", "300", "Churn AUC (higher is better)", "0.812", "0.746"):
        assert text in html, text
    assert "No active or proposed campaigns" in html  # none yet for this retailer
    assert "No approved campaign this month yet" in html
    assert (reverse("optimizer:run-start") in html) is (role != Role.VIEWER)
    assert "plotly" not in html  # charts are drawn on the server
    assert not re.search(r'(src|href)="(https?:)?//', html)


def test_dashboard_of_a_new_retailer_shows_empty_states(client, retailer, make_staff):
    client.force_login(make_staff(retailer, Role.VIEWER))
    page = client.get(reverse("retailers:dashboard"))
    assert page.status_code == 200
    html = page.content.decode()
    assert "No succeeded scoring run yet" in html
    assert "No scoring run yet" in html
    assert "plotly" not in html  # no chart, no 4.8 MB script


def test_dashboard_counts_only_the_current_retailers_data(
    client, retailer, other_retailer, make_staff
):
    theirs = ScoringRunFactory(retailer=other_retailer, status=RunStatus.FAILED, error="x")
    CustomerFactory.create_batch(3, retailer=other_retailer)
    client.force_login(make_staff(retailer, Role.ADMIN))
    page = client.get(reverse("retailers:dashboard"))
    assert page.context["customer_count"] == 0
    assert page.context["last_run"] is None
    assert page.context["kpis"] is None
    assert f"#{theirs.pk}" not in page.content.decode()
