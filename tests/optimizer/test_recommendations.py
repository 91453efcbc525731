"""Recommendation runs end to end on a small synthetic tenant: chunks, exclusions, holdout
table, the task path, the command and the pages."""

from __future__ import annotations

from collections import Counter

import pytest
from django.core.management import call_command
from django.urls import reverse

from optimizer.models import OfferCandidate, RecommendationChunk, RecommendationRun
from optimizer.selectors import offer_candidates
from optimizer.services.recommend import recommendation_run_create, recommendation_run_execute
from optimizer.tasks import recommendation_run_execute_task
from retailers.models import Product, Role, RunStatus
from tests.optimizer.factories import AS_OF, synthetic_tenant

pytestmark = pytest.mark.django_db


@pytest.fixture
def tenant(retailer, settings):
    settings.SCORING_CHUNK_CUSTOMERS = 25
    synthetic_tenant(retailer, customers=60, weeks=20)
    counts = Counter(Product.objects.filter(retailer=retailer).values_list("category", flat=True))
    excluded = counts.most_common(1)[0][0]  # the biggest category: it would surely be offered
    retailer.excluded_categories = f"{excluded.upper()}\n"
    retailer.save(update_fields=["excluded_categories"])
    return retailer, excluded


def _run(retailer, **kwargs):
    run = recommendation_run_create(retailer=retailer, as_of=AS_OF, enqueue=False, **kwargs)
    return recommendation_run_execute(run_id=run.pk, inline=True)


def test_recommendation_run_writes_ranked_candidates_in_chunks_never_of_an_excluded_category(
    tenant,
):
    retailer, excluded = tenant
    run = _run(retailer, top_k=5)
    assert run.status == RunStatus.SUCCEEDED, run.error
    assert run.chunks_total == 3 == run.chunks_done
    assert RecommendationChunk.objects.filter(run=run, status=RunStatus.SUCCEEDED).count() == 3
    rows = OfferCandidate.objects.filter(run=run)
    assert run.candidates_written == rows.count() > 0
    assert not rows.filter(product__category__iexact=excluded).exists()
    per_customer = Counter(rows.values_list("customer_id", flat=True))
    assert max(per_customer.values()) <= 5
    assert run.customers_done == 60
    frame = offer_candidates(retailer=retailer, top_k=5)
    assert len(frame) == rows.count()
    assert set(frame["kind"]) <= {"buy_again", "try", "popular"}
    assert (frame.groupby("customer_id")["rank"].min() == 1).all()
    assert frame["reason"].str.len().gt(0).all()
    table = run.metrics["holdout"]["table"]
    assert set(table) == {"model", "popularity", "buy_again"}
    champion = run.metrics["champion"]
    served = champion["served"]
    assert run.metrics["model"]["served"] == served == run.metrics["holdout"]["calibration_list"]
    assert champion["validation_window"][1] == run.metrics["holdout"]["split"]
    served_kinds = {"model": {"buy_again", "try", "popular"}, "popularity": {"popular"}}
    assert set(frame["kind"]) <= served_kinds.get(served, {"buy_again"})
    for figures in table.values():
        assert 0 <= figures["precision"] <= 1
        assert 0 <= figures["ndcg"] <= 1


def test_recommendation_run_executed_twice_is_left_as_it_is(tenant):
    retailer, _ = tenant
    run = _run(retailer, holdout_weeks=0)
    before = OfferCandidate.objects.filter(run=run).count()
    again = recommendation_run_execute(run_id=run.pk, inline=True)
    assert again is not None
    assert again.status == RunStatus.SUCCEEDED
    assert again.finished_at == run.finished_at
    assert OfferCandidate.objects.filter(run=run).count() == before
    assert "holdout" not in run.metrics


def test_recommendation_task_runs_the_chunks_as_tasks(
    tenant, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr("django_q.conf.Conf.SYNC", True)
    retailer, _ = tenant
    run = recommendation_run_create(retailer=retailer, as_of=AS_OF, enqueue=False, holdout_weeks=0)
    with django_capture_on_commit_callbacks(execute=True):
        recommendation_run_execute_task(run.pk)
    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED, run.error
    assert run.chunks_done == run.chunks_total == 3


def test_recommend_offers_command_prints_the_holdout_table(tenant, capsys):
    retailer, _ = tenant
    call_command("recommend_offers", retailer=retailer.slug, sync=True, verbosity=0)
    out = capsys.readouterr().out
    assert "Baseline: most popular items" in out
    assert "Baseline: the customer's most bought items" in out
    assert "Served: " in out
    assert "succeeded" in out


def test_recommendation_pages_start_a_run_and_show_the_holdout(client, tenant, make_staff):
    retailer, _ = tenant
    run = _run(retailer)
    client.force_login(make_staff(retailer, Role.VIEWER))
    page = client.get(reverse("optimizer:recommendation-detail", args=[run.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    assert "precision@10" in html
    assert "Served list:" in html
    assert run.metrics["champion"]["reason"] in html.replace("&#x27;", "'")
    assert "predicted (calibrated)" in html
    assert "Baseline: most popular items" in html
    listing = client.get(reverse("optimizer:run-list")).content.decode()
    assert f"#{run.pk}" in listing
    assert client.post(reverse("optimizer:recommendation-start")).status_code == 403
    client.force_login(make_staff(retailer, Role.ANALYST))
    response = client.post(reverse("optimizer:recommendation-start"))
    assert response.status_code == 302
    assert RecommendationRun.objects.filter(retailer=retailer).count() == 2
    candidates = client.get(reverse("admin:optimizer_offercandidate_changelist"))
    assert candidates.status_code == 200
    assert any(
        text in candidates.content.decode() for text in ("you often buy", "you bought", "popular")
    )
    runs = client.get(reverse("admin:optimizer_recommendationrun_change", args=[run.pk]))
    assert runs.status_code == 200


def test_other_retailers_recommendation_runs_are_404(client, tenant, other_retailer, make_staff):
    retailer, _ = tenant
    run = _run(retailer, holdout_weeks=0)
    client.force_login(make_staff(other_retailer, Role.ANALYST))
    assert client.get(reverse("optimizer:recommendation-detail", args=[run.pk])).status_code == 404
