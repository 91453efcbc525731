"""Issuance of an approved campaign's bonuses: once per treated member, codes, costs, points."""

import datetime as dt
from decimal import Decimal
from unittest import mock

import pytest

from campaigns.exceptions import TransitionNotAllowed
from campaigns.models import Bonus, BonusKind, CampaignState
from campaigns.services import issuance
from campaigns.services.issuance import CODE_ALPHABET, CODE_LENGTH, campaign_bonuses_issue
from campaigns.tasks import campaign_issue_task
from customers.models import PointsEntry
from tests.campaigns.factories import BonusTypeFactory
from tests.campaigns.rewards_factories import TODAY, CampaignFactory, CampaignMemberFactory
from tests.retailers.factories import ProductFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def campaign(retailer):
    campaign = CampaignFactory(retailer=retailer, state=CampaignState.APPROVED)
    CampaignMemberFactory.create_batch(3, campaign=campaign)
    CampaignMemberFactory.create_batch(2, campaign=campaign, is_control=True)
    return campaign


def test_issue_creates_one_bonus_per_treated_member_and_marks_issued(campaign):
    assert campaign_bonuses_issue(campaign_id=campaign.pk) == 3
    campaign.refresh_from_db()
    assert campaign.state == CampaignState.ISSUED
    bonuses = Bonus.objects.filter(campaign=campaign)
    assert {b.member.is_control for b in bonuses} == {False}
    for bonus in bonuses:
        assert len(bonus.code) == CODE_LENGTH
        assert set(bonus.code) <= set(CODE_ALPHABET)
        assert bonus.valid_from == bonus.member.send_on
        assert bonus.valid_to == bonus.member.expires_on
        assert bonus.redemption_cost == Decimal("1.00")


def test_issue_twice_creates_nothing_twice(campaign):
    campaign_bonuses_issue(campaign_id=campaign.pk)
    before = sorted(Bonus.objects.values_list("pk", "code"))
    assert campaign_bonuses_issue(campaign_id=campaign.pk) == 0
    assert campaign_issue_task(campaign.pk) == 0
    assert sorted(Bonus.objects.values_list("pk", "code")) == before


def test_issue_refuses_a_proposed_campaign(retailer):
    campaign = CampaignFactory(retailer=retailer, state=CampaignState.PROPOSED)
    with pytest.raises(TransitionNotAllowed):
        campaign_bonuses_issue(campaign_id=campaign.pk)


def test_issue_retries_a_code_collision(campaign):
    codes = iter(["AAAAAAAAAA", "AAAAAAAAAA", "AAAAAAAAAA", "BBBBBBBBBB", "CCCCCCCCCC"])
    with mock.patch.object(issuance, "bonus_code_generate", side_effect=lambda: next(codes)):
        assert campaign_bonuses_issue(campaign_id=campaign.pk) == 3
    assert sorted(Bonus.objects.values_list("code", flat=True)) == [
        "AAAAAAAAAA",
        "BBBBBBBBBB",
        "CCCCCCCCCC",
    ]


def test_issue_points_bonus_credits_the_ledger_once(retailer):
    campaign = CampaignFactory(retailer=retailer, state=CampaignState.APPROVED)
    points = BonusTypeFactory(retailer=retailer, kind=BonusKind.POINTS, face_value=Decimal("250"))
    member = CampaignMemberFactory(campaign=campaign, bonus_type=points)
    campaign_bonuses_issue(campaign_id=campaign.pk)
    campaign_bonuses_issue(campaign_id=campaign.pk)
    bonus = Bonus.objects.get(member=member)
    assert bonus.points == 250
    assert bonus.redemption_cost == Decimal("0.00")  # booked at issuance, not again at the till
    entries = PointsEntry.objects.filter(customer=member.customer)
    assert list(entries.values_list("kind", "points", "balance_after")) == [("bonus", 250, 250)]
    campaign.refresh_from_db()
    assert campaign.spent == Decimal("2.50")  # 250 x 0.01, booked once


def test_issue_points_cannot_credit_more_than_the_spend_limit(retailer):
    retailer.point_value = Decimal("0.01")
    retailer.save(update_fields=["point_value"])
    campaign = CampaignFactory(
        retailer=retailer,
        state=CampaignState.APPROVED,
        budget=Decimal("500.00"),
        spend_limit=Decimal("500.00"),
    )
    points = BonusTypeFactory(
        retailer=retailer, kind=BonusKind.POINTS, face_value=Decimal("12500")
    )  # 125.00 each: four fit in 500.00, the fifth and sixth do not
    members = CampaignMemberFactory.create_batch(6, campaign=campaign, bonus_type=points)
    campaign_bonuses_issue(campaign_id=campaign.pk)
    campaign_bonuses_issue(campaign_id=campaign.pk)
    campaign.refresh_from_db()
    credited = PointsEntry.objects.filter(customer__in=[m.customer for m in members])
    worth = sum(e.points for e in credited) * retailer.point_value
    assert worth == Decimal("500.00")
    assert campaign.spent == Decimal("500.00") <= campaign.spend_limit
    states = sorted(Bonus.objects.filter(campaign=campaign).values_list("state", flat=True))
    assert states == ["cancelled", "cancelled", "issued", "issued", "issued", "issued"]


def test_issue_costs_by_kind(retailer):
    campaign = CampaignFactory(retailer=retailer, state=CampaignState.APPROVED)
    product = ProductFactory(retailer=retailer, unit_cost=Decimal("0.80"))
    kinds = {
        "free": BonusTypeFactory(retailer=retailer, kind=BonusKind.FREE_PRODUCT, product=product),
        "pct": BonusTypeFactory(
            retailer=retailer, kind=BonusKind.PERCENT_DISCOUNT, face_value=Decimal("10")
        ),
        "fixed": BonusTypeFactory(
            retailer=retailer,
            kind=BonusKind.AMOUNT_DISCOUNT,
            face_value=Decimal("3"),
            redemption_cost=Decimal("2.75"),
        ),
    }
    members = {
        name: CampaignMemberFactory(
            campaign=campaign,
            bonus_type=btype,
            expected_cost=Decimal("0.60"),
            redemption_probability=Decimal("0.2"),
        )
        for name, btype in kinds.items()
    }
    campaign_bonuses_issue(campaign_id=campaign.pk)
    cost = {name: Bonus.objects.get(member=m).redemption_cost for name, m in members.items()}
    assert cost == {"free": Decimal("0.80"), "pct": Decimal("3.00"), "fixed": Decimal("2.75")}


def test_issue_task_issues_an_approved_campaign_once(campaign):
    assert campaign_issue_task(campaign.pk) == 3
    assert campaign_issue_task(campaign.pk) == 0
    assert Bonus.objects.filter(campaign=campaign).count() == 3


def test_rewards_expire_task_expires_bonuses_past_their_last_day(retailer):
    import datetime as dt

    from campaigns.models import BonusState
    from campaigns.tasks import rewards_expire_task
    from tests.campaigns.rewards_factories import TODAY, BonusFactory

    past = BonusFactory(
        member__campaign__retailer=retailer,
        valid_from=TODAY - dt.timedelta(days=10),
        valid_to=TODAY - dt.timedelta(days=2),
    )
    current = BonusFactory(member__campaign__retailer=retailer)
    assert rewards_expire_task()["bonuses"] == 1
    past.refresh_from_db()
    current.refresh_from_db()
    assert (past.state, current.state) == (BonusState.EXPIRED, BonusState.ISSUED)


def test_setup_schedules_is_idempotent():
    from django.core.management import call_command
    from django_q.models import Schedule

    call_command("setup_schedules")
    call_command("setup_schedules")
    schedule = Schedule.objects.get(name="rewards: expire bonuses and points")
    assert (schedule.func, schedule.schedule_type) == (
        "campaigns.tasks.rewards_expire_task",
        Schedule.DAILY,
    )
    results = Schedule.objects.get(name="campaigns: close finished campaigns with their results")
    assert results.func == "optimizer.tasks.campaign_results_task"
    assert Schedule.objects.filter(func="optimizer.tasks.campaign_results_task").count() == 1


def test_a_bonus_whose_planned_window_has_ended_starts_on_the_day_of_issue(retailer):
    """A campaign approved late in its week: the planned three days are over, so the bonus gets
    three days from today instead of being issued already expired (the till would refuse it)."""
    campaign = CampaignFactory(
        retailer=retailer, state=CampaignState.APPROVED, week_start=TODAY - dt.timedelta(days=6)
    )
    ended = CampaignMemberFactory(
        campaign=campaign,
        send_on=TODAY - dt.timedelta(days=6),
        expires_on=TODAY - dt.timedelta(days=4),
    )
    running = CampaignMemberFactory(
        campaign=campaign,
        send_on=TODAY - dt.timedelta(days=6),
        expires_on=TODAY,
    )
    campaign_bonuses_issue(campaign_id=campaign.pk)
    moved = Bonus.objects.get(member=ended)
    assert (moved.valid_from, moved.valid_to) == (TODAY, TODAY + dt.timedelta(days=2))
    kept = Bonus.objects.get(member=running)
    assert (kept.valid_from, kept.valid_to) == (TODAY - dt.timedelta(days=6), TODAY)
