"""Move The Complete Journey into the present by whole weeks.

The data covers 2017; campaigns allocated on it would start in 2018 and every bonus would be
expired at the till. ``load_demo`` therefore moves every date of the source tables by the same
whole number of weeks, so that the data's last day falls in the latest complete week before
today: weekdays, the weekly rhythm and (within a day or two of the calendar) seasonality stay as
they were, and the scores' default as-of date, the default allocation week and the default
promotion week land in the present.

Timestamps are moved on the *local* wall clock (a basket at 17:30 in New York stays at 17:30
after crossing a daylight-saving change), then stored as naive UTC again, the source's
convention, so every transformation after this one is unchanged. Pure pandas, no Django import.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import numpy as np
import pandas as pd

from loyalty_site.site.demo.completejourney import RETAILER_TIME_ZONE, SOURCE_TIME_ZONE, local_dates
from loyalty_site.site.demo.completejourney_files import RawTables
from retailers.weeks import latest_complete_week, week_start_on_or_before


def source_last_day(raw: RawTables, time_zone: str = RETAILER_TIME_ZONE) -> dt.date:
    """The local date of the data's last basket."""
    return local_dates(raw.transactions["transaction_timestamp"], time_zone).max().date()


def shift_weeks_for(last_day: dt.date, today: dt.date, week_start_day: int = 0) -> int:
    """Whole weeks that move ``last_day`` into the latest complete week before ``today``
    (the retailer's local date). 0 when it is already there."""
    target_first, _ = latest_complete_week(today, week_start_day)
    return (target_first - week_start_on_or_before(last_day, week_start_day)).days // 7


def shift_timestamps(
    naive_utc: pd.Series, weeks: int, time_zone: str = RETAILER_TIME_ZONE
) -> pd.Series:
    """Naive UTC timestamps moved by ``weeks`` on ``time_zone``'s wall clock, naive UTC again.

    A wall-clock time that does not exist on the new date (the spring-forward hour) moves
    forward; one that exists twice (the autumn hour) takes standard time."""
    local = pd.to_datetime(naive_utc).dt.tz_localize(SOURCE_TIME_ZONE).dt.tz_convert(time_zone)
    moved = local.dt.tz_localize(None) + pd.Timedelta(weeks=weeks)
    back = moved.dt.tz_localize(
        time_zone, ambiguous=np.zeros(len(moved), dtype=bool), nonexistent="shift_forward"
    )
    return back.dt.tz_convert(SOURCE_TIME_ZONE).dt.tz_localize(None)


def shift_raw_tables(raw: RawTables, weeks: int, time_zone: str = RETAILER_TIME_ZONE) -> RawTables:
    """``raw`` with every date moved by ``weeks`` weeks: basket timestamps (on the local wall
    clock), campaign start and end dates and coupon redemption dates. The ``week`` numbers stay:
    the promotions' week 1 is derived from the (moved) baskets."""
    if weeks == 0:
        return raw
    delta = pd.Timedelta(weeks=weeks)
    transactions = raw.transactions.assign(
        transaction_timestamp=shift_timestamps(
            raw.transactions["transaction_timestamp"], weeks, time_zone
        )
    )
    descriptions = raw.campaign_descriptions.assign(
        start_date=raw.campaign_descriptions["start_date"] + delta,
        end_date=raw.campaign_descriptions["end_date"] + delta,
    )
    redemptions = raw.coupon_redemptions.assign(
        redemption_date=raw.coupon_redemptions["redemption_date"] + delta
    )
    return replace(
        raw,
        transactions=transactions,
        campaign_descriptions=descriptions,
        coupon_redemptions=redemptions,
    )
