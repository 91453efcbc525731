"""Reads of the optimizer app: chunk plans, default dates, the report tables, score history."""

from __future__ import annotations

import datetime as dt

import pytest

from optimizer.selectors import (
    customer_id_ranges,
    customer_score_history,
    holdout_table,
    retailer_default_as_of,
    scoring_run_latest_succeeded,
    timings_table,
)
from retailers.models import RunStatus
from tests.customers.factories import CustomerFactory
from tests.optimizer.factories import ScoringRunFactory


@pytest.mark.django_db
def test_customer_id_ranges_cover_every_member_once_in_order(retailer, other_retailer):
    ids = [CustomerFactory(retailer=retailer, enrolled_on=dt.date(2024, 1, 1)).pk for _ in range(7)]
    CustomerFactory(retailer=retailer, enrolled_on=dt.date(2024, 6, 1))  # not yet a member
    CustomerFactory(retailer=other_retailer, enrolled_on=dt.date(2024, 1, 1))
    ranges = customer_id_ranges(retailer=retailer, as_of=dt.date(2024, 3, 1), chunk_size=3)
    assert ranges == [(ids[0], ids[2], 3), (ids[3], ids[5], 3), (ids[6], ids[6], 1)]
    assert customer_id_ranges(retailer=retailer, as_of=dt.date(2023, 1, 1), chunk_size=3) == []
    with pytest.raises(ValueError, match="at least 1"):
        customer_id_ranges(retailer=retailer, as_of=dt.date(2024, 3, 1), chunk_size=0)


@pytest.mark.django_db
def test_retailer_default_as_of_is_none_without_transactions(retailer):
    assert retailer_default_as_of(retailer=retailer) is None


@pytest.mark.django_db
def test_latest_succeeded_run_and_a_customers_score_history(retailer):
    older = ScoringRunFactory(retailer=retailer, finished_at=dt.datetime(2025, 1, 1, tzinfo=dt.UTC))
    newer = ScoringRunFactory(retailer=retailer, finished_at=dt.datetime(2025, 2, 1, tzinfo=dt.UTC))
    ScoringRunFactory(retailer=retailer, status=RunStatus.FAILED)
    assert scoring_run_latest_succeeded(retailer=retailer) == newer
    assert scoring_run_latest_succeeded(retailer=retailer, exclude_id=newer.pk) == older
    customer = CustomerFactory(retailer=retailer)
    assert list(customer_score_history(customer=customer)) == []


def test_holdout_table_puts_model_baseline_and_rule_side_by_side():
    metrics = {
        "holdout": {
            "status": "ok",
            "churn": {"model": {"auc": 0.8, "n": 50}, "bgnbd": {"auc": 0.7}, "rule": {"auc": 0.6}},
            "response": {
                "model": {"auc": 0.66},
                "prior": {"auc": 0.61, "n": 9},
                "by_type": {"pct-10": {"prior": {"brier": 0.1}}},
            },
        }
    }
    rows = {row["label"]: row for row in holdout_table(metrics)}
    churn = rows["Churn AUC (higher is better)"]
    assert (churn["model"], churn["bgnbd"], churn["rule"], churn["n"]) == (0.8, 0.7, 0.6, 50)
    assert rows["Visits MAE (lower is better)"]["model"] is None
    response = rows["Response AUC (higher is better): all bonus types"]
    assert (response["model"], response["bgnbd"], response["rule"]) == (0.66, None, 0.61)
    assert rows["Response Brier (lower is better): pct-10"]["rule"] == 0.1
    assert holdout_table({"holdout": {"status": "skipped: too few"}}) == []


def test_timings_table_follows_the_pipeline_order():
    timings = {"total": 9.0, "write": 1.0, "fit": 5.0, "extra": 0.5, "read_sample": 2.0}
    assert timings_table(timings) == [
        ("read_sample", 2.0),
        ("fit", 5.0),
        ("write", 1.0),
        ("total", 9.0),
        ("extra", 0.5),
    ]
