"""Measuring a campaign against its control group, and closing it when its window ended."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from campaigns.models import AuditEntry, BonusKind, CampaignState, Redemption
from customers.services.points import points_bonus_credit
from optimizer.services.campaign_results import (
    campaign_outcomes,
    campaign_results_close_due,
    campaign_window,
)
from tests.campaigns.factories import (
    BonusFactory,
    BonusTypeFactory,
    CampaignFactory,
    CampaignMemberFactory,
)
from tests.customers.factories import TransactionFactory, TransactionLineFactory
from tests.retailers.factories import ProductFactory

pytestmark = pytest.mark.django_db
HELSINKI = dt.timezone(dt.timedelta(hours=2))


def buy(member, when: dt.datetime, amount: str, *, product) -> None:
    txn = TransactionFactory(retailer=member.retailer, customer=member.customer, timestamp=when)
    TransactionLineFactory(transaction=txn, product=product, amount=Decimal(amount))


@pytest.fixture
def campaign(retailer):
    campaign = CampaignFactory(
        retailer=retailer,
        week_start=dt.date(2024, 3, 4),
        week_end=dt.date(2024, 3, 10),
        state=CampaignState.ISSUED,
    )
    product = ProductFactory(retailer=retailer, unit_cost=Decimal("1.00"))
    treated = CampaignMemberFactory(
        retailer=retailer, campaign=campaign, expires_on=dt.date(2024, 3, 12)
    )
    control = CampaignMemberFactory(
        retailer=retailer, campaign=campaign, is_control=True, bonus_type=None,
        send_on=None, expires_on=None, expected_value=0, expected_cost=0,
    )  # fmt: skip
    bonus = BonusFactory(retailer=retailer, member=treated, redemption_cost=Decimal("1.50"))
    Redemption.objects.create(retailer=retailer, bonus=bonus, use_no=1, cost=Decimal("1.50"))
    # Inside the window (local time): counted. 00:30 local on Mar 4 is Mar 3 22:30 UTC.
    buy(treated, dt.datetime(2024, 3, 4, 0, 30, tzinfo=HELSINKI), "10.00", product=product)
    buy(treated, dt.datetime(2024, 3, 12, 23, 0, tzinfo=HELSINKI), "5.00", product=product)
    buy(control, dt.datetime(2024, 3, 6, 12, 0, tzinfo=HELSINKI), "4.00", product=product)
    # Outside: the day before, and the day after the last expiry.
    buy(treated, dt.datetime(2024, 3, 3, 23, 59, tzinfo=HELSINKI), "99.00", product=product)
    buy(control, dt.datetime(2024, 3, 13, 0, 1, tzinfo=HELSINKI), "99.00", product=product)
    return campaign


def test_window_runs_to_the_last_bonus_expiry(campaign):
    assert campaign_window(campaign) == (dt.date(2024, 3, 4), dt.date(2024, 3, 12))


def test_outcomes_sum_spend_and_margin_in_the_local_window(campaign):
    rows = campaign_outcomes(campaign).set_index("is_control")
    assert rows.loc[False, "spend"] == pytest.approx(15.0)
    assert rows.loc[False, "margin"] == pytest.approx(13.0)  # 2 units at cost 1.00
    assert rows.loc[False, "redeemed"]
    assert rows.loc[False, "cost"] == pytest.approx(1.5)
    assert rows.loc[True, "spend"] == pytest.approx(4.0)
    assert not rows.loc[True, "redeemed"]


def test_close_due_measures_and_closes_once(campaign):
    assert campaign_results_close_due(today=dt.date(2024, 3, 12)) == 0  # window not over
    assert campaign_results_close_due(today=dt.date(2024, 3, 13)) == 1
    campaign.refresh_from_db()
    assert campaign.state == CampaignState.CLOSED
    assert campaign.results["treated"] == 1
    assert not campaign.results["measurable"]
    assert "Too small to tell" in campaign.results["note"]
    assert campaign.results["bonus_cost"] == pytest.approx(1.5)
    assert campaign_results_close_due(today=dt.date(2024, 3, 14)) == 0
    assert AuditEntry.objects.filter(object_id=campaign.pk, action="close").count() == 1


def test_outcomes_count_credited_points_at_face_value_redeemed_or_not(campaign):
    retailer = campaign.retailer
    points = BonusTypeFactory(retailer=retailer, kind=BonusKind.POINTS, face_value=Decimal("400"))
    member = CampaignMemberFactory(
        retailer=retailer, campaign=campaign, bonus_type=points, expires_on=dt.date(2024, 3, 10)
    )
    bonus = BonusFactory(
        retailer=retailer, member=member, bonus_type=points, points=400, redemption_cost=0
    )
    points_bonus_credit(bonus=bonus)
    row = campaign_outcomes(campaign).set_index("customer_id").loc[member.customer_id]
    assert row["cost"] == pytest.approx(400 * float(retailer.point_value))
    assert not row["redeemed"]


def test_campaign_results_schedule_migration_points_old_rows_at_the_optimizer_task():
    from importlib import import_module

    from django.apps import apps
    from django_q.models import Schedule

    migration = import_module(
        "optimizer.migrations.0005_campaign_results_schedule_moves_to_optimizer"
    )
    old = Schedule.objects.create(name="results", func="campaigns.tasks.campaign_results_task")
    migration.forwards(apps, None)
    migration.forwards(apps, None)  # idempotent
    old.refresh_from_db()
    assert old.func == "optimizer.tasks.campaign_results_task"
    migration.backwards(apps, None)
    old.refresh_from_db()
    assert old.func == "campaigns.tasks.campaign_results_task"


def test_campaign_results_task_closes_through_the_optimizer_task_path(monkeypatch):
    from django.utils.module_loading import import_string

    monkeypatch.setattr("optimizer.tasks.campaign_results_close_due", lambda: 2)
    assert import_string("optimizer.tasks.campaign_results_task")() == 2
