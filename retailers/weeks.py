"""A retailer's weeks: they start on its ``week_start_day``, in its time zone.

Plain date arithmetic on local business dates (``date.weekday()`` numbering, 0 = Monday), so the
campaign pages, the allocation service, its command and the demo loader agree on what "a week"
is. Callers turn "now" into the retailer's local date first (``retailer_today``).
"""

from __future__ import annotations

import datetime as dt

WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def week_start_on_or_before(day: dt.date, week_start_day: int = 0) -> dt.date:
    """First day of the week that contains ``day``."""
    return day - dt.timedelta(days=(day.weekday() - week_start_day) % 7)


def week_start_on_or_after(day: dt.date, week_start_day: int = 0) -> dt.date:
    """``day`` if a week starts on it, else the start of the next week."""
    return day + dt.timedelta(days=(week_start_day - day.weekday()) % 7)


def latest_complete_week(today: dt.date, week_start_day: int = 0) -> tuple[dt.date, dt.date]:
    """(first, last) day of the latest week that ended before ``today``: today's own week is
    not complete yet, even on its last day."""
    first = week_start_on_or_before(today, week_start_day) - dt.timedelta(weeks=1)
    return first, first + dt.timedelta(days=6)


def upcoming_week_starts(today: dt.date, week_start_day: int = 0, count: int = 8) -> list[dt.date]:
    """Starts of the current week (a campaign may still start in it) and the ``count - 1`` after."""
    first = week_start_on_or_before(today, week_start_day)
    return [first + dt.timedelta(weeks=n) for n in range(count)]


def week_number(start: dt.date) -> int:
    """The ISO week number of the week beginning on ``start``; for weeks that do not start on
    Monday, that of their fourth day (the ISO rule's Thursday for Monday weeks)."""
    return (start + dt.timedelta(days=3)).isocalendar().week


def week_label(start: dt.date) -> str:
    """'Week 50, 7-13 Dec 2026'; 'Week 49, 30 Nov-6 Dec 2026'; 'Week 53, 28 Dec 2026-3 Jan 2027'."""
    end = start + dt.timedelta(days=6)
    if start.year != end.year:
        span = f"{start.day} {start:%b %Y}-{end.day} {end:%b %Y}"
    elif start.month != end.month:
        span = f"{start.day} {start:%b}-{end.day} {end:%b %Y}"
    else:
        span = f"{start.day}-{end.day} {end:%b %Y}"
    return f"Week {week_number(start)}, {span}"


def weeks_between(earlier: dt.date, later: dt.date) -> int:
    """Whole weeks from ``earlier`` to ``later`` (rounded down; negative when later is before)."""
    return (later - earlier).days // 7


def week_start_error(day: dt.date, week_start_day: int = 0) -> str | None:
    """Why ``day`` cannot start a campaign week, or ``None`` when it can."""
    if day.weekday() == week_start_day:
        return None
    return (
        f"{day} is a {WEEKDAY_NAMES[day.weekday()]}: campaign weeks start on a "
        f"{WEEKDAY_NAMES[week_start_day]} (the retailer's week-start day)."
    )


def scores_age_note(as_of: dt.date, week_start: dt.date, max_weeks: int) -> str | None:
    """A warning when a campaign week starts more than ``max_weeks`` weeks after the scores'
    as-of date (visit and churn forecasts age: the customers have moved on), else ``None``."""
    weeks = weeks_between(as_of, week_start)
    if weeks <= max_weeks:
        return None
    return (
        f"The scores are {weeks} weeks old for this week: they are as of {as_of}, and "
        f"the week starts on {week_start}. Score the customers again first."
    )


def iso_week_monday(text: str) -> dt.date:
    """The Monday of an ISO week written ``YYYY-Www`` (``2018-W01`` -> 2018-01-01).

    Raises:
        ValueError: not a valid ISO week.
    """
    year, _, week = text.strip().upper().partition("-W")
    try:
        return dt.date.fromisocalendar(int(year), int(week), 1)
    except ValueError as exc:
        raise ValueError(f"{text!r} is not an ISO week such as 2018-W01") from exc
