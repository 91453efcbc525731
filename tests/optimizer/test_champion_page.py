"""The run page and its CSV export show each output's champion, why, and every contender's
holdout metric with its 95% interval (report from a real engine run on a synthetic retailer)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from django.urls import reverse

from optimizer.selectors import champion_table
from retailers.models import Role
from tests.optimizer.factories import ScoringRunFactory
from tests.optimizer.test_admin import METRICS

pytestmark = pytest.mark.django_db
REPORT = json.loads((Path(__file__).parent / "data" / "champions_report.json").read_text())


@pytest.fixture
def run(retailer):
    return ScoringRunFactory(retailer=retailer, metrics={**METRICS, "champions": REPORT})


def test_champion_table_puts_the_champion_first_with_its_reason():
    blocks = champion_table({"champions": REPORT})
    assert [b["key"] for b in blocks] == ["churn", "visits", "spend", "response"]
    churn = blocks[0]
    assert churn["champion"] == "Pareto/NBD"
    assert churn["reason"].startswith("best validation AUC")
    assert churn["contenders"][0]["champion"] is True
    assert churn["contenders"][0]["diff"] is None
    names = [row["name"] for row in churn["contenders"]]
    assert set(names) == {
        "Pareto/NBD",
        "gradient-boosting model",
        "BG/NBD",
        "recency/frequency rule",
    }
    for row in churn["contenders"]:
        assert row["low"] <= row["value"] <= row["high"]
        if not row["champion"]:
            expected = row["diff_low"] > 0 or row["diff_high"] < 0
            assert row["significant"] is expected
    assert champion_table({}) == []  # runs made before champions


def test_run_page_shows_champions_and_intervals(client, retailer, make_staff, run):
    client.force_login(make_staff(retailer, Role.VIEWER))
    html = client.get(reverse("optimizer:run-detail", args=[run.pk])).content.decode()
    churn = REPORT["churn"]["holdout"]["pareto_nbd"]
    for text in (
        "What serves each score",
        "Churn: Pareto/NBD",
        "Visits (visit days): gradient-boosting model",
        "Offer response: gradient-boosting model",
        "best validation MAE",
        f"{churn['low']:.3f} to {churn['high']:.3f}",
        "Pareto/NBD",
        reverse("optimizer:run-champions-csv", args=[run.pk]),
    ):
        assert text in html, text


def test_champions_csv_lists_every_contender(client, retailer, make_staff, run):
    client.force_login(make_staff(retailer, Role.VIEWER))
    response = client.get(reverse("optimizer:run-champions-csv", args=[run.pk]))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert len(rows) == 4 + 4 + 4 + 2
    champions = {r["output"]: r for r in rows if r["champion"] == "yes"}
    assert {k: v["contender"] for k, v in champions.items()} == {
        "churn": "Pareto/NBD",
        "visits": "gradient-boosting model",
        "spend": "gradient-boosting model",
        "response": "gradient-boosting model",
    }
    assert champions["churn"]["reason"] == REPORT["churn"]["reason"]
    bgnbd = next(r for r in rows if r["output"] == "visits" and r["contender"] == "BG/NBD")
    block = REPORT["visits"]["holdout"]["bgnbd"]
    assert float(bgnbd["holdout_value"]) == block["value"]
    assert float(bgnbd["ci95_low"]) == block["low"]
    assert float(bgnbd["difference_to_champion"]) == block["diff"]
    assert bgnbd["metric"] == "mae"


def test_champions_csv_of_another_retailers_run_is_not_found(
    client, make_staff, run, other_retailer
):
    client.force_login(make_staff(other_retailer, Role.ADMIN))
    response = client.get(reverse("optimizer:run-champions-csv", args=[run.pk]))
    assert response.status_code == 404
