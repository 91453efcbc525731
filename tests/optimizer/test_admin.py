"""Admin of scoring runs and scores: pages per role, the report, starting runs, tenancy."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from optimizer.models import CustomerScore, ScoringModelVersion, ScoringRun
from retailers.models import Role, RunStatus
from tests.customers.factories import CustomerFactory, TransactionFactory
from tests.optimizer.factories import ScoringRunFactory

pytestmark = pytest.mark.django_db


def block(auc: float, brier: float) -> dict:
    return {"n": 120, "base_rate": 0.4, "mean_prediction": 0.4, "auc": auc, "brier": brier}


def regression(mae: float, rho: float, top: float) -> dict:
    return {"n": 120, "mae": mae, "spearman": rho, "top_decile_capture": top}


METRICS = {
    "as_of": "2025-06-02",
    "holdout": {
        "status": "ok",
        "churn": {
            "model": block(0.8123, 0.15),
            "bgnbd": block(0.7456, 0.18),
            "rule": block(0.7012, 0.2),
        },
        "visits": {
            "model": regression(0.7, 0.61, 0.4),
            "bgnbd": regression(0.8, 0.55, 0.35),
            "rule": regression(0.9, 0.5, 0.3),
        },
        "spend": {
            "model": regression(10.5, 0.6, 0.41),
            "bgnbd": regression(11.5, 0.52, 0.38),
            "rule": regression(12.5, 0.5, 0.33),
        },
        "response": {"train": "model", "model": block(0.6789, 0.05), "prior": block(0.6, 0.06)},
    },
    "response": {"resolved_offers": {"pct-10": 120}, "learned_types": ["pct-10"]},
    "notes": ["churn: model", "response: prior: 3 resolved offers (need 50)"],
}


@pytest.fixture
def finished_run(retailer):
    start = timezone.now() - dt.timedelta(minutes=3)
    run = ScoringRunFactory(
        retailer=retailer,
        metrics=METRICS,
        timings={"fit": 12.5, "read": 3.25, "total": 20.0},
        segment_profile=[
            {"segment": "champions", "size": 10, "share": 0.5, "churn_probability": 0.1},
            {"segment": "dormant", "size": 10, "share": 0.5, "churn_probability": 0.9},
        ],
        started_at=start,
        finished_at=start + dt.timedelta(seconds=125),
        progress=100,
        chunks_total=1,
        chunks_done=1,
    )
    ScoringModelVersion.objects.create(
        retailer=retailer,
        run=run,
        artifact_path="scoring/1/run-1-attempt-1.joblib",
        sha256="ab" * 32,
        sklearn_version="1.9.1",
        feature_names=["recency_days"],
        training_customers=20,
    )
    return run


def score(run: ScoringRun, external_id: str, segment: str = "champions") -> CustomerScore:
    customer = CustomerFactory(retailer=run.retailer, external_id=external_id)
    return CustomerScore.objects.create(
        retailer=run.retailer,
        run=run,
        customer=customer,
        churn_probability=Decimal("0.1234"),
        p_alive=Decimal("0.9"),
        expected_visits=Decimal("2.5"),
        expected_spend=Decimal("30.00"),
        clv=Decimal("150.00"),
        responses={"pct-10": 0.2},
        segment=segment,
        reason="12 visits in the last 13 weeks",
        recency_days=4,
        frequency=30,
        frequency_52w=20,
        monetary_52w=Decimal("600.00"),
        avg_basket=Decimal("30.00"),
        tenure_days=400,
        discount_share=Decimal("0.05"),
        redemption_rate=Decimal("0.5"),
    )


@pytest.mark.parametrize("role", [Role.VIEWER, Role.ANALYST, Role.ADMIN])
def test_run_pages_render_for_every_role(client, retailer, make_staff, finished_run, role):
    client.force_login(make_staff(retailer, role))
    listing = client.get(reverse("admin:optimizer_scoringrun_changelist"))
    assert listing.status_code == 200
    assert "0:02:05" in listing.content.decode()  # duration
    page = client.get(reverse("admin:optimizer_scoringrun_change", args=[finished_run.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    for text in (
        "Holdout metrics",
        "BG/NBD baseline",
        "Churn AUC (higher is better)",
        "0.812",
        "0.746",
        "Visits Spearman (higher is better)",
        "Spend top-decile capture (higher is better)",
        "Response AUC (higher is better): all bonus types",
        "0.679",
        "response: prior: 3 resolved offers (need 50)",
        "champions",
        "dormant",
        "Seconds per stage",
        "12.5",
        "scoring/1/run-1-attempt-1.joblib",
    ):
        assert text in html, text
    assert 'name="_save"' not in html  # read-only


def test_failed_run_page_shows_the_error(client, retailer, staff_user):
    run = ScoringRunFactory(retailer=retailer, status=RunStatus.FAILED, error="ValueError: boom")
    client.force_login(staff_user)
    page = client.get(reverse("admin:optimizer_scoringrun_change", args=[run.pk]))
    assert "ValueError: boom" in page.content.decode()
    assert "Scores of earlier runs are unchanged." in page.content.decode()


def test_running_run_page_refreshes_itself(client, retailer, staff_user):
    run = ScoringRunFactory(retailer=retailer, status=RunStatus.RUNNING, progress=42)
    client.force_login(staff_user)
    html = client.get(reverse("admin:optimizer_scoringrun_change", args=[run.pk])).content
    assert b'http-equiv="refresh"' in html
    assert b'<progress value="42" max="100"></progress> 42%' in html


def test_another_retailers_run_and_scores_are_out_of_reach(
    client, retailer, other_retailer, make_staff
):
    theirs = ScoringRunFactory(retailer=other_retailer, as_of=dt.date(2024, 1, 1))
    their_score = score(theirs, "THEIRS")
    mine = ScoringRunFactory(retailer=retailer, as_of=dt.date(2025, 1, 1))
    score(mine, "MINE")
    client.force_login(make_staff(retailer, Role.ADMIN))
    page = client.get(reverse("admin:optimizer_scoringrun_change", args=[theirs.pk]))
    assert page.status_code == 302  # the admin's "does not exist" redirect
    listing = client.get(reverse("admin:optimizer_scoringrun_changelist")).content.decode()
    assert "2025" in listing
    assert "Jan. 1, 2024" not in listing
    scores = client.get(reverse("admin:optimizer_customerscore_changelist")).content.decode()
    assert "MINE" in scores
    assert "THEIRS" not in scores
    page = client.get(reverse("admin:optimizer_customerscore_change", args=[their_score.pk]))
    assert page.status_code == 302


def test_start_view_is_for_analysts_and_queues_a_run(client, retailer, make_staff, monkeypatch):
    queued = []
    monkeypatch.setattr("retailers.lifecycle.async_task", lambda *a, **k: queued.append(a))
    customer = CustomerFactory(retailer=retailer, enrolled_on=dt.date(2024, 1, 1))
    TransactionFactory(retailer=retailer, customer=customer)
    url = reverse("admin:optimizer_scoringrun_add")
    client.force_login(make_staff(retailer, Role.VIEWER))
    assert client.get(url).status_code == 403
    analyst = make_staff(retailer, Role.ANALYST)
    client.force_login(analyst)
    form = client.get(url)
    assert form.status_code == 200
    assert "Start scoring run" in form.content.decode()
    response = client.post(url, {"retailer": retailer.pk, "as_of": "", "horizon_weeks": 6})
    run = ScoringRun.objects.get(retailer=retailer)
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:optimizer_scoringrun_change", args=[run.pk])
    assert (run.created_by, run.horizon_weeks, run.status) == (analyst, 6, RunStatus.QUEUED)
    assert run.as_of == dt.date(2024, 6, 2)
    again = client.post(url, {"retailer": retailer.pk, "as_of": "", "horizon_weeks": 6})
    assert again.status_code == 200
    assert f"is already running (run #{run.pk}, queued" in again.content.decode()
    assert ScoringRun.objects.count() == 1


def test_start_view_offers_only_retailers_where_the_user_is_analyst(
    client, retailer, other_retailer, make_staff
):
    from tests.retailers.factories import MembershipFactory

    user = make_staff(retailer, Role.ANALYST)
    MembershipFactory(user=user, retailer=other_retailer, role=Role.VIEWER)
    client.force_login(user)
    url = reverse("admin:optimizer_scoringrun_add")
    html = client.get(url).content.decode()
    assert "Acme Foods" in html
    assert "Globex Markets" not in html
    response = client.post(url, {"retailer": other_retailer.pk, "horizon_weeks": 8})
    assert response.status_code == 200
    assert not ScoringRun.objects.exists()


def test_customer_scores_filter_by_run_and_segment_and_search(client, retailer, staff_user):
    old = ScoringRunFactory(retailer=retailer, segment_profile=[{"segment": "dormant"}])
    new = ScoringRunFactory(retailer=retailer, segment_profile=[{"segment": "champions"}])
    score(old, "C-OLD", segment="dormant")
    score(new, "C-NEW", segment="champions")
    client.force_login(staff_user)
    url = reverse("admin:optimizer_customerscore_changelist")
    html = client.get(url, {"run": new.pk}).content.decode()
    assert "C-NEW" in html
    assert "C-OLD" not in html
    html = client.get(url, {"segment": "dormant"}).content.decode()
    assert "C-OLD" in html
    assert "C-NEW" not in html
    html = client.get(url, {"q": "C-OLD"}).content.decode()
    assert "C-OLD" in html
    assert "C-NEW" not in html
    row = CustomerScore.objects.get(run=new)
    page = client.get(reverse("admin:optimizer_customerscore_change", args=[row.pk]))
    assert page.status_code == 200
    assert "12 visits in the last 13 weeks" in page.content.decode()


def test_scores_and_model_versions_are_read_only(client, retailer, staff_user, finished_run):
    client.force_login(staff_user)
    assert client.get(reverse("admin:optimizer_customerscore_add")).status_code == 403
    versions = client.get(reverse("admin:optimizer_scoringmodelversion_changelist"))
    assert versions.status_code == 200
    assert "abababababab" in versions.content.decode()
    assert client.get(reverse("admin:optimizer_scoringmodelversion_add")).status_code == 403


def test_only_finished_runs_can_be_deleted_and_scores_are_counted_not_listed(
    client, retailer, staff_user, finished_run
):
    # "-" never appears in the page's random CSRF token, so a short id cannot match by chance.
    score(finished_run, "SCORED-C1")
    active = ScoringRunFactory(
        retailer=retailer,
        status=RunStatus.RUNNING,
        started_at=timezone.now(),
        heartbeat_at=timezone.now(),
    )
    client.force_login(staff_user)
    blocked = client.get(reverse("admin:optimizer_scoringrun_delete", args=[active.pk]))
    assert blocked.status_code == 403
    url = reverse("admin:optimizer_scoringrun_delete", args=[finished_run.pk])
    confirm = client.get(url)
    assert confirm.status_code == 200
    assert "SCORED-C1" not in confirm.content.decode()
    assert client.post(url, {"post": "yes"}).status_code == 302
    assert not ScoringRun.objects.filter(pk=finished_run.pk).exists()
    assert not CustomerScore.objects.exists()


def test_report_of_a_real_run_renders(client, retailer, staff_user, scoring_settings):
    from optimizer.services import scoring_run_create, scoring_run_execute
    from tests.optimizer.factories import AS_OF, synthetic_tenant

    synthetic_tenant(retailer, customers=40, seed=6)
    run = scoring_run_create(retailer=retailer, as_of=AS_OF, enqueue=False)
    run = scoring_run_execute(run_id=run.pk, inline=True)
    client.force_login(staff_user)
    page = client.get(reverse("admin:optimizer_scoringrun_change", args=[run.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    assert "No holdout for churn, visits and spend: skipped" in html  # 40 customers: too few
    assert run.segment_profile[0]["segment"] in html
    assert "chunk" in html.lower()
    scores = client.get(reverse("admin:optimizer_customerscore_changelist"), {"run": run.pk})
    assert scores.status_code == 200
