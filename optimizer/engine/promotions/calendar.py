"""A small, offline holiday calendar and the week-level seasonality features built from it.

Objective: give the forecast the retail holidays that move grocery demand (Christmas,
Thanksgiving, Easter, ...) without any external service or package.

Constraints: pure functions of the year; the built-in lists are short on purpose (the holidays
that change what people buy, not every public holiday). Other calendars are passed in as
``(date, name)`` pairs. Weeks are Monday-based (``week_start`` is a Monday).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta

import numpy as np
import pandas as pd

#: Countries of the built-in calendar.
COUNTRIES: tuple[str, ...] = ("US", "GB", "DE", "FR", "NL")


def easter_sunday(year: int) -> date:
    """Gregorian Easter Sunday (anonymous Gregorian algorithm, Meeus/Jones/Butcher)."""
    a = year % 19
    b, c = divmod(year, 100)
    d, e = divmod(b, 4)
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    ell = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * ell) // 451
    month, day = divmod(h + ell - 7 * m + 114, 31)
    return date(year, month, day + 1)


def _nth_weekday(year: int, month: int, weekday: int, n: int) -> date:
    """The n-th ``weekday`` (0 = Monday) of the month; ``n = -1`` is the last one."""
    if n > 0:
        first = date(year, month, 1)
        return first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))
    nxt = date(year + (month == 12), month % 12 + 1, 1)
    last = nxt - timedelta(days=1)
    return last - timedelta(days=(last.weekday() - weekday) % 7)


def holidays(country: str, year: int) -> dict[date, str]:
    """The retail-relevant holidays of ``country`` (ISO 3166 alpha-2, see COUNTRIES) in ``year``.

    Raises:
        ValueError: the country has no built-in calendar (pass ``holiday_dates`` instead).
    """
    easter = easter_sunday(year)
    common = {
        date(year, 1, 1): "New Year",
        date(year, 12, 24): "Christmas Eve",
        date(year, 12, 25): "Christmas",
        date(year, 12, 31): "New Year's Eve",
    }
    if country == "US":
        return {
            **common,
            date(year, 2, 14): "Valentine's Day",
            _nth_weekday(year, 2, 6, 2 if year >= 2022 else 1): "Super Bowl",
            easter: "Easter",
            _nth_weekday(year, 5, 0, -1): "Memorial Day",
            date(year, 7, 4): "Independence Day",
            _nth_weekday(year, 9, 0, 1): "Labor Day",
            date(year, 10, 31): "Halloween",
            _nth_weekday(year, 11, 3, 4): "Thanksgiving",
        }
    if country in ("GB", "DE", "FR", "NL"):
        out = {
            **common,
            easter - timedelta(days=2): "Good Friday",
            easter: "Easter",
            easter + timedelta(days=49): "Pentecost",
        }
        if country == "GB":
            out[date(year, 12, 26)] = "Boxing Day"
            out[_nth_weekday(year, 5, 0, -1)] = "Spring Bank Holiday"
        elif country == "DE":
            out[date(year, 12, 26)] = "Second Christmas Day"
        elif country == "FR":
            out[date(year, 7, 14)] = "Bastille Day"
            out[date(year, 8, 15)] = "Assumption"
        else:
            out[date(year, 4, 27)] = "King's Day"
            out[date(year, 12, 5)] = "Sinterklaas"
        return out
    raise ValueError(f"no built-in holiday calendar for {country!r}; known: {COUNTRIES}")


def holiday_table(
    country: str | None, years: Iterable[int], extra: Iterable[tuple[date, str]] = ()
) -> dict[date, str]:
    """Built-in holidays of ``country`` (if any) over ``years`` merged with ``extra`` pairs."""
    out: dict[date, str] = {}
    if country is not None:
        for year in sorted(set(years)):
            out.update(holidays(country, year))
    out.update(dict(extra))
    return out


def monday(day: date) -> date:
    """The Monday that starts ``day``'s week."""
    return day - timedelta(days=day.weekday())


def week_features(weeks: pd.Series, table: dict[date, str]) -> pd.DataFrame:
    """Seasonality columns for Monday-based weeks.

    Args:
        weeks: ``datetime64`` week starts (Mondays).
        table: holiday date -> name (from :func:`holiday_table`).

    Returns:
        Frame aligned with ``weeks``: ``week_of_year`` int (ISO week), ``holiday_week`` 0/1
        (a holiday falls Monday-Sunday), ``pre_holiday_week`` 0/1 (one falls the next week),
        ``holiday_name`` str (empty when none).
    """
    unique = pd.to_datetime(pd.Series(weeks.unique()))
    by_week: dict[pd.Timestamp, str] = {}
    for day, name in sorted(table.items()):
        start = pd.Timestamp(monday(day))
        by_week.setdefault(start, name)
    names = unique.map(lambda w: by_week.get(w, ""))
    nxt = unique.map(lambda w: by_week.get(w + pd.Timedelta(days=7), ""))
    per_week = pd.DataFrame(
        {
            "week_of_year": unique.dt.isocalendar().week.astype(np.int64).to_numpy(),
            "holiday_week": (names != "").astype(np.int64).to_numpy(),
            "pre_holiday_week": (nxt != "").astype(np.int64).to_numpy(),
            "holiday_name": names.astype("str").to_numpy(),
        },
        index=unique.to_numpy(),
    )
    return per_week.reindex(pd.to_datetime(weeks).to_numpy()).reset_index(drop=True)
