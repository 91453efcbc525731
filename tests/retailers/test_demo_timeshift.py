"""Moving the Complete Journey into the present: the pure date arithmetic (no database)."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from loyalty_site.site.demo import completejourney as cj
from loyalty_site.site.demo import timeshift
from loyalty_site.site.demo.completejourney_files import RawTables
from retailers.weeks import latest_complete_week, week_label, week_start_on_or_before

SOURCE_END = dt.date(2017, 12, 31)  # a Sunday: the data's last day


@pytest.mark.parametrize(
    ("today", "target_end"),
    [
        (dt.date(2026, 12, 6), dt.date(2026, 11, 29)),  # Sunday: its own week is not complete
        (dt.date(2026, 12, 7), dt.date(2026, 12, 6)),  # Monday: yesterday ended a week
        (dt.date(2026, 12, 9), dt.date(2026, 12, 6)),  # Wednesday
        (dt.date(2027, 1, 2), dt.date(2026, 12, 27)),  # Saturday, across the new year
    ],
)
def test_shift_weeks_puts_the_last_day_in_the_latest_complete_week(today, target_end):
    weeks = timeshift.shift_weeks_for(SOURCE_END, today)
    moved = SOURCE_END + dt.timedelta(weeks=weeks)
    assert moved == target_end
    assert moved.weekday() == SOURCE_END.weekday()
    first, last = latest_complete_week(today)
    assert first <= moved <= last < today


def test_shift_weeks_keeps_a_mid_week_last_day_mid_week():
    wednesday = dt.date(2017, 12, 27)
    weeks = timeshift.shift_weeks_for(wednesday, dt.date(2026, 12, 6))
    assert wednesday + dt.timedelta(weeks=weeks) == dt.date(2026, 11, 25)


def test_shift_weeks_follows_the_week_start_day():
    # Weeks starting on Sunday: Sunday 2026-12-06 begins a new week, so the latest complete
    # one is Sunday 2026-11-29 .. Saturday 2026-12-05, and the last Sunday lands on its first day.
    weeks = timeshift.shift_weeks_for(SOURCE_END, dt.date(2026, 12, 6), week_start_day=6)
    assert SOURCE_END + dt.timedelta(weeks=weeks) == dt.date(2026, 11, 29)


def test_shift_timestamps_keeps_the_local_wall_clock_across_daylight_saving():
    # 2017-10-01 21:30 UTC is 17:30 in New York (EDT); six weeks later New York is on EST.
    summer = pd.Series([pd.Timestamp("2017-10-01 21:30")])
    moved = timeshift.shift_timestamps(summer, 6)
    local = moved.dt.tz_localize("UTC").dt.tz_convert(cj.RETAILER_TIME_ZONE).iloc[0]
    assert (local.date(), local.hour, local.minute) == (dt.date(2017, 11, 12), 17, 30)
    assert moved.iloc[0] == pd.Timestamp("2017-11-12 22:30")  # one hour later in UTC


def test_shift_timestamps_moves_a_missing_spring_hour_forward():
    # Sunday 2017-03-12 02:30 does not exist in New York (clocks went from 02:00 to 03:00).
    missing = pd.Series([pd.Timestamp("2017-03-05 07:30")])  # Sun 02:30 EST
    moved = timeshift.shift_timestamps(missing, 1)  # -> Sun 2017-03-12 02:30: does not exist
    local = moved.dt.tz_localize("UTC").dt.tz_convert(cj.RETAILER_TIME_ZONE).iloc[0]
    assert local.date() == dt.date(2017, 3, 12)
    assert local.hour == 3


def tiny_raw() -> RawTables:
    return RawTables(
        transactions=pd.DataFrame(
            {
                "household_id": [1, 1],
                "week": [1, 53],
                "transaction_timestamp": pd.to_datetime(["2016-12-26 15:00", "2017-12-31 22:00"]),
            }
        ),
        demographics=pd.DataFrame({"household_id": [1]}),
        products=pd.DataFrame({"product_id": [5]}),
        campaigns=pd.DataFrame({"campaign_id": [1], "household_id": [1]}),
        campaign_descriptions=pd.DataFrame(
            {
                "campaign_id": [1],
                "campaign_type": ["Type A"],
                "start_date": pd.to_datetime(["2017-06-01"]),
                "end_date": pd.to_datetime(["2017-07-01"]),
            }
        ),
        coupon_redemptions=pd.DataFrame(
            {
                "household_id": [1],
                "campaign_id": [1],
                "redemption_date": pd.to_datetime(["2017-06-10"]),
            }
        ),
    )


def test_shift_raw_tables_moves_every_date_and_keeps_week_numbers():
    raw = tiny_raw()
    assert timeshift.source_last_day(raw) == SOURCE_END  # 17:00 local
    moved = timeshift.shift_raw_tables(raw, 465)
    delta = dt.timedelta(weeks=465)
    assert timeshift.source_last_day(moved) == SOURCE_END + delta
    assert cj.week_one_monday(moved.transactions) == cj.week_one_monday(raw.transactions) + delta
    assert list(moved.transactions["week"]) == [1, 53]
    descriptions = moved.campaign_descriptions.iloc[0]
    assert descriptions["start_date"].date() == dt.date(2017, 6, 1) + delta
    assert descriptions["end_date"].date() == dt.date(2017, 7, 1) + delta
    redeemed = moved.coupon_redemptions["redemption_date"].iloc[0].date()
    assert redeemed == dt.date(2017, 6, 10) + delta
    assert redeemed.weekday() == dt.date(2017, 6, 10).weekday()
    assert timeshift.shift_raw_tables(raw, 0) is raw


@pytest.mark.parametrize(
    ("start", "label"),
    [
        (dt.date(2026, 12, 7), "Week 50, 7-13 Dec 2026"),
        (dt.date(2026, 11, 30), "Week 49, 30 Nov-6 Dec 2026"),
        (dt.date(2026, 12, 28), "Week 53, 28 Dec 2026-3 Jan 2027"),
    ],
)
def test_week_label_names_the_iso_week_and_its_days(start, label):
    assert week_label(start) == label


def test_week_start_on_or_before_uses_the_week_start_day():
    wednesday = dt.date(2026, 12, 9)
    assert week_start_on_or_before(wednesday) == dt.date(2026, 12, 7)
    assert week_start_on_or_before(wednesday, 6) == dt.date(2026, 12, 6)
    assert week_start_on_or_before(wednesday, 2) == wednesday
