"""Promotion run options, weeks and engine configs (from settings and the retailer)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import Max
from django.utils import timezone

from customers.models import Transaction
from optimizer.engine.promotions import (
    ForecastConfig,
    SelectionConfig,
)
from optimizer.engine.settings import PromotionSettings, SettingsInvalid
from retailers.models import Product, Retailer
from retailers.weeks import iso_week_monday  # noqa: F401 - re-exported (services.promotions)

EXECUTE_TASK = "optimizer.tasks.promotion_run_execute_task"
SCHEDULE_TASK = "optimizer.tasks.promotion_schedule_task"
SCHEDULE_PREFIX = "weekly-promotions:"
RANDOM_STATE = 0
#: Holiday calendar of the engine per retailer time zone (others: no holiday features).
ZONE_COUNTRIES = {"Europe/London": "GB", "Europe/Berlin": "DE", "Europe/Paris": "FR"} | {
    "Europe/Amsterdam": "NL"
}
US_ZONES = ("America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles")
CURRENCY_SYMBOLS = {"EUR": "€", "USD": "$", "GBP": "£"}


# --- Options, weeks, configs -------------------------------------------------------------------
def monday_after(day: dt.date) -> dt.date:
    """The first Monday strictly after ``day``."""
    return day + dt.timedelta(days=7 - day.weekday())


def promotion_default_week(*, retailer: Retailer, now: dt.datetime | None = None) -> dt.date:
    """The week to propose: the Monday after today (retailer's time zone); for historical data
    (latest transaction more than 2 weeks before today) the Monday after that transaction."""
    today = (now or timezone.now()).astimezone(retailer.tz).date()
    latest = Transaction.objects.for_retailer(retailer).aggregate(m=Max("timestamp"))["m"]
    if latest is not None:
        last_day = latest.astimezone(retailer.tz).date()
        if last_day < today - dt.timedelta(weeks=2):
            return monday_after(last_day)
    return monday_after(today)


def _check_categories(retailer: Retailer, settings: PromotionSettings, errors: dict) -> None:
    wanted = settings.excluded_categories + settings.pinned_categories
    if not wanted:
        return
    known = {
        c.casefold()
        for c in Product.objects.for_retailer(retailer)
        .values_list("category", flat=True)
        .distinct()
    }
    for name in ("excluded_categories", "pinned_categories"):
        unknown = [c for c in getattr(settings, name) if c.casefold() not in known]
        if unknown:
            what = name.split("_")[0]
            errors[name] = f"Unknown {what} categor(y/ies) at {retailer}: {', '.join(unknown)}."
    folded = {
        c.casefold() for c in settings.excluded_categories + tuple(retailer.excluded_category_list)
    }
    clash = [c for c in settings.pinned_categories if c.casefold() in folded]
    if clash:
        errors["pinned_categories"] = f"Pinned categories are also excluded: {', '.join(clash)}."


def promotion_options_clean(
    *, retailer: Retailer, options: dict[str, Any] | None
) -> PromotionSettings:
    """The typed settings of ``options``, checked against the retailer's products: pinned
    and banned SKUs and named categories must exist.

    Raises:
        ValidationError: a value is out of range or a SKU is unknown (message per option).
    """
    try:
        settings, errors = PromotionSettings.from_json(options), {}
    except SettingsInvalid as exc:
        # Check the SKUs and categories too, so that one answer names every bad option.
        errors = dict(exc.errors)
        rest = {k: v for k, v in (options or {}).items() if k not in errors}
        settings = PromotionSettings.from_json(rest)
    known = set(
        Product.objects.for_retailer(retailer)
        .filter(sku__in=settings.pinned + settings.banned)
        .values_list("sku", flat=True)
    )
    for name in ("pinned", "banned"):
        unknown = [s for s in getattr(settings, name) if s not in known]
        if unknown:
            errors[name] = f"Unknown SKU(s) at {retailer}: {', '.join(unknown)}."
    _check_categories(retailer, settings, errors)
    if errors:
        raise ValidationError(errors)
    return settings


def forecast_config(*, retailer: Retailer, **overrides: Any) -> ForecastConfig:
    """Engine defaults, ``settings.PROMOTION_FORECAST_CONFIG`` and the holiday calendar of the
    retailer's time zone (US zones, London, Berlin, Paris, Amsterdam; else none)."""
    country = "US" if retailer.time_zone in US_ZONES else ZONE_COUNTRIES.get(retailer.time_zone)
    values = {"holiday_country": country, **getattr(settings, "PROMOTION_FORECAST_CONFIG", {})}
    return ForecastConfig(**{**values, **overrides})


def selection_config(*, retailer: Retailer, settings: PromotionSettings) -> SelectionConfig:
    """The MILP's settings from a run's typed settings; the retailer's excluded categories
    always apply, the run's add to them."""
    budget = settings.discount_budget
    return SelectionConfig(
        k=settings.k,
        max_per_category=settings.max_per_category,
        discount_budget=None if budget is None else float(budget),
        recent_weeks=settings.recent_weeks,
        excluded_categories=tuple(retailer.excluded_category_list) + settings.excluded_categories,
        pinned_categories=settings.pinned_categories,
        currency_symbol=CURRENCY_SYMBOLS.get(retailer.currency, f"{retailer.currency} "),
    )


def max_products() -> int:
    """Candidates per proposal (``settings.PROMOTION_MAX_PRODUCTS``, default 3,000)."""
    return int(getattr(settings, "PROMOTION_MAX_PRODUCTS", 3000))


# --- Create ------------------------------------------------------------------------------------
