"""A bonus is valid at the till from the first minute of its first day in the retailer's zone,
including just after local midnight, when the UTC date is still the day before."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest
import time_machine

from campaigns.models import BonusState
from tests.campaigns.rewards_factories import BonusFactory, token_client
from tests.retailers.factories import TIME_ZONE

pytestmark = pytest.mark.django_db
HELSINKI = zoneinfo.ZoneInfo(TIME_ZONE)
FIRST_DAY = dt.date(2026, 12, 7)  # a Monday: the campaign week's first day
URL = "/api/v1/redemptions/"


@pytest.fixture
def bonus(retailer):
    return BonusFactory(
        member__campaign__retailer=retailer,
        member__campaign__week_start=FIRST_DAY,
        member__campaign__week_end=FIRST_DAY + dt.timedelta(days=6),
        valid_from=FIRST_DAY,
        valid_to=FIRST_DAY + dt.timedelta(days=13),
    )


def redeem(api_client, retailer, code: str, key: str):
    client = token_client(api_client, retailer)[0]
    return client.post(URL, {"code": code}, format="json", HTTP_IDEMPOTENCY_KEY=key)


def test_bonus_redeems_at_00_30_local_on_its_first_day_while_utc_is_the_day_before(
    api_client, retailer, bonus
):
    just_after_midnight = dt.datetime.combine(FIRST_DAY, dt.time(0, 30), tzinfo=HELSINKI)
    assert just_after_midnight.astimezone(dt.UTC).date() == FIRST_DAY - dt.timedelta(days=1)
    with time_machine.travel(just_after_midnight, tick=False):
        response = redeem(api_client, retailer, bonus.code, "first-minute")
    assert response.status_code == 201, response.json()
    bonus.refresh_from_db()
    assert bonus.state == BonusState.REDEEMED


def test_bonus_is_not_yet_valid_at_23_30_local_the_evening_before(api_client, retailer, bonus):
    evening_before = dt.datetime.combine(
        FIRST_DAY - dt.timedelta(days=1), dt.time(23, 30), tzinfo=HELSINKI
    )
    with time_machine.travel(evening_before, tick=False):
        response = redeem(api_client, retailer, bonus.code, "too-early")
    assert response.status_code == 409, response.json()
    assert "valid from 2026-12-07" in response.json()["error"]["message"]
    bonus.refresh_from_db()
    assert bonus.uses == 0
