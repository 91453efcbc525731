"""``manage.py score`` and ``manage.py export_scores``."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command

from campaigns.models import BonusType
from customers.models import Customer
from optimizer.models import CustomerScore, ScoringRun
from retailers.models import RunStatus
from tests.optimizer.factories import ScoringRunFactory, synthetic_tenant

pytestmark = pytest.mark.django_db


def run_command(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


@pytest.fixture
def generated(retailer, scoring_settings):
    """A retailer with 150 synthetic customers (``loyalty_site.site.demo.synthetic``, written by the
    demo writers): enough to train the models and hold out."""
    synthetic_tenant(retailer, customers=150, seed=5)
    return retailer


def test_score_sync_scores_every_customer_and_prints_the_report(generated):
    out, err = run_command("score", "--retailer=acme", "--sync")
    run = ScoringRun.objects.get(retailer=generated)
    assert run.status == RunStatus.SUCCEEDED
    customers = Customer.objects.filter(retailer=generated, enrolled_on__lt=run.as_of).count()
    assert customers == Customer.objects.filter(retailer=generated).count()
    scores = CustomerScore.objects.filter(run=run)
    assert scores.count() == customers
    assert not scores.filter(segment="").exists()
    assert not scores.filter(reason="").exists()
    assert "Holdout metrics" in out
    assert "Churn AUC (higher is better)" in out
    assert "BG/NBD" in out
    assert "Seconds per stage:" in out
    assert "total" in out
    assert f"Scoring run #{run.pk} of {generated} succeeded: {customers} customers scored" in out
    assert "100%" in err  # the progress bar
    holdout = run.metrics["holdout"]
    assert holdout["status"] == "ok"
    assert holdout["churn"]["bgnbd"]["auc"] is not None
    assert holdout["churn"]["model"]["auc"] is not None


def test_score_without_sync_queues_a_run(tenant_with_history, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        out, _ = run_command("score", "--retailer=acme", "--as-of=2025-06-02", "--horizon-weeks=4")
    run = ScoringRun.objects.get(retailer=tenant_with_history)
    assert out.startswith(f"Queued scoring run #{run.pk} of Acme Foods as of 2025-06-02")
    assert run.horizon_weeks == 4
    run.refresh_from_db()  # settings_test runs django-q2 tasks in-process
    assert run.status == RunStatus.SUCCEEDED


def test_score_if_none_does_nothing_when_a_run_exists(tenant_with_history):
    ScoringRunFactory(retailer=tenant_with_history, status=RunStatus.SUCCEEDED)
    out, _ = run_command("score", "--retailer=acme", "--sync", "--if-none")
    assert "already has scoring run" in out
    assert ScoringRun.objects.count() == 1


def test_score_refuses_a_second_active_run_and_an_unknown_retailer(tenant_with_history):
    active = ScoringRunFactory(retailer=tenant_with_history, status=RunStatus.QUEUED)
    with pytest.raises(CommandError, match=rf"already running \(run #{active.pk}, queued"):
        run_command("score", "--retailer=acme", "--sync")
    with pytest.raises(CommandError, match="no retailer with slug 'nope'"):
        run_command("score", "--retailer=nope")


@pytest.fixture
def tenant_with_history(retailer, scoring_settings):
    synthetic_tenant(retailer, customers=40, seed=4)
    return retailer


def test_export_scores_writes_one_row_per_customer_with_a_response_column_per_type(
    tenant_with_history, tmp_path
):
    run_command("score", "--retailer=acme", "--as-of=2025-06-02", "--sync")
    run = ScoringRun.objects.get(retailer=tenant_with_history)
    target = tmp_path / "scores.csv"
    out, _ = run_command("export_scores", "--retailer=acme", "-o", str(target))
    assert out.startswith(f"Wrote 40 scores of run #{run.pk} (Acme Foods, as of 2025-06-02)")
    with open(target, newline="", encoding="utf-8") as stream:
        rows = list(csv.DictReader(stream))
    codes = sorted(
        BonusType.objects.filter(retailer=tenant_with_history).values_list("code", flat=True)
    )
    assert list(rows[0]) == [
        "customer_external_id",
        "churn_probability",
        "expected_visits",
        "expected_spend",
        "clv",
        "segment",
        *(f"response_{code}" for code in codes),
    ]
    assert len(rows) == 40
    first = (
        CustomerScore.objects.filter(run=run).order_by("customer_id").select_related("customer")[0]
    )
    row = rows[0]
    assert row["customer_external_id"] == first.customer.external_id
    assert Decimal(row["churn_probability"]) == first.churn_probability
    assert Decimal(row["expected_spend"]) == first.expected_spend
    assert Decimal(row["clv"]) == first.clv
    assert row["segment"] == first.segment
    for code in codes:
        assert Decimal(row[f"response_{code}"]) == Decimal(str(first.responses[code])).quantize(
            Decimal("0.0001")
        )
    assert all(len(r["churn_probability"].split(".")[1]) == 4 for r in rows)
    assert all(len(r["clv"].split(".")[1]) == 2 for r in rows)


def test_export_scores_picks_a_run_of_the_retailer_only(tenant_with_history, other_retailer):
    foreign = ScoringRunFactory(retailer=other_retailer)
    with pytest.raises(CommandError, match="has no succeeded scoring run yet"):
        run_command("export_scores", "--retailer=acme", "-o", "-")
    with pytest.raises(CommandError, match=f"Acme Foods has no scoring run #{foreign.pk}"):
        run_command("export_scores", "--retailer=acme", f"--run={foreign.pk}", "-o", "-")
    failed = ScoringRunFactory(retailer=tenant_with_history, status=RunStatus.FAILED)
    with pytest.raises(CommandError, match="has not succeeded"):
        run_command("export_scores", "--retailer=acme", f"--run={failed.pk}", "-o", "-")


def test_export_scores_to_standard_output(tenant_with_history):
    run = ScoringRunFactory(retailer=tenant_with_history, bonus_types=["pct-10"])
    customer = Customer.objects.filter(retailer=tenant_with_history).first()
    CustomerScore.objects.create(
        retailer=tenant_with_history,
        run=run,
        customer=customer,
        churn_probability=Decimal("0.1"),
        p_alive=Decimal("0.9"),
        expected_visits=Decimal("2"),
        expected_spend=Decimal("12.5"),
        clv=Decimal("80"),
        responses={"pct-10": 0.05},
        segment="champions",
        recency_days=3,
        frequency=9,
        frequency_52w=9,
        monetary_52w=Decimal("100"),
        avg_basket=Decimal("11.11"),
        tenure_days=300,
        discount_share=Decimal("0.1"),
        redemption_rate=Decimal("0.5"),
    )
    out, _ = run_command("export_scores", "--retailer=acme", "-o", "-")
    assert out.splitlines() == [
        "customer_external_id,churn_probability,expected_visits,expected_spend,clv,segment,"
        "response_pct-10",
        f"{customer.external_id},0.1000,2.00,12.50,80.00,champions,0.0500",
    ]


FORMULA_IDS = ['=HYPERLINK("http://x")', "+cmd|' /C calc'!A0", "-2+3", "@SUM(A1)", "\tC1", "\rC2"]


def test_export_scores_neutralises_ids_and_segments_that_start_a_formula(retailer, tmp_path):
    run = ScoringRunFactory(retailer=retailer, bonus_types=["pct-10"])
    for number, external_id in enumerate(FORMULA_IDS):
        customer = Customer.objects.create(
            retailer=retailer, external_id=external_id, enrolled_on="2024-01-01"
        )
        CustomerScore.objects.create(
            retailer=retailer,
            run=run,
            customer=customer,
            churn_probability=Decimal("0.1"),
            p_alive=Decimal("0.9"),
            expected_visits=Decimal("2"),
            expected_spend=Decimal("12.5"),
            clv=Decimal("-3"),
            responses={"pct-10": -0.05},
            segment="=1+1" if number == 0 else "champions",
            recency_days=3,
            frequency=9,
            frequency_52w=9,
            monetary_52w=Decimal("100"),
            avg_basket=Decimal("11.11"),
            tenure_days=300,
            discount_share=Decimal("0.1"),
            redemption_rate=Decimal("0.5"),
        )
    target = tmp_path / "scores.csv"
    run_command("export_scores", "--retailer=acme", "-o", str(target))
    with open(target, newline="", encoding="utf-8") as stream:
        rows = list(csv.reader(stream))[1:]
    assert [row[0] for row in rows] == ["'" + external_id for external_id in FORMULA_IDS]
    assert rows[0][5] == "'=1+1"
    # Figures are numbers, written as they are even when negative.
    assert {(*row[1:5], row[6]) for row in rows} == {
        ("0.1000", "2.00", "12.50", "-3.00", "-0.0500")
    }
