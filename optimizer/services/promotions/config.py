"""Promotion run options, weeks and engine configs (from settings and the retailer)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import Max
from django.utils import timezone

from customers.models import Transaction
from loyalty_site.money import quantize
from optimizer.engine.promotions import (
    ForecastConfig,
    SelectionConfig,
)
from retailers.models import Product, Retailer
from retailers.weeks import iso_week_monday  # noqa: F401 - re-exported (services.promotions)

EXECUTE_TASK = "optimizer.tasks.promotion_run_execute_task"
SCHEDULE_TASK = "optimizer.tasks.promotion_schedule_task"
SCHEDULE_PREFIX = "weekly-promotions:"
RANDOM_STATE = 0
#: Options of a run and their defaults (see ``docs/promotions.md``, "Running it").
DEFAULT_OPTIONS: dict[str, Any] = {
    "k": 20,
    "max_per_category": 3,
    "discount_budget": None,
    "recent_weeks": 4,
    "pinned": [],
    "banned": [],
    "segments": None,
    "backtest_weeks": 52,
    "excluded_categories": [],
    "pinned_categories": [],
}
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


def _int(options: dict[str, Any], name: str, low: int, high: int, errors: dict) -> int | None:
    value = options.get(name)
    if value is None:
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        errors[name] = f"{name} must be a whole number."
        return None
    if not low <= number <= high:
        errors[name] = f"{name} must lie between {low} and {high}."
    return number


def _skus(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        value = value.replace(",", " ").split()
    return sorted({str(v).strip() for v in value if str(v).strip()})


def _categories(value: Any) -> list[str]:
    """Category names from a list or from text with one name per line (names hold spaces
    and commas, so only a new line or a ``;`` separates them)."""
    if value is None:
        return []
    if isinstance(value, str):
        value = value.replace(";", "\n").splitlines()
    return sorted({str(v).strip() for v in value if str(v).strip()})


def _check_categories(retailer: Retailer, merged: dict[str, Any], errors: dict) -> None:
    for name in ("excluded_categories", "pinned_categories"):
        merged[name] = _categories(merged[name])
    wanted = merged["excluded_categories"] + merged["pinned_categories"]
    if not wanted:
        return
    known = {
        c.casefold()
        for c in Product.objects.for_retailer(retailer)
        .values_list("category", flat=True)
        .distinct()
    }
    for name in ("excluded_categories", "pinned_categories"):
        unknown = [c for c in merged[name] if c.casefold() not in known]
        if unknown:
            what = name.split("_")[0]
            errors[name] = f"Unknown {what} categor(y/ies) at {retailer}: {', '.join(unknown)}."
    folded = {c.casefold() for c in merged["excluded_categories"] + retailer.excluded_category_list}
    clash = [c for c in merged["pinned_categories"] if c.casefold() in folded]
    if clash:
        errors["pinned_categories"] = f"Pinned categories are also excluded: {', '.join(clash)}."


def promotion_options_clean(*, retailer: Retailer, options: dict[str, Any] | None) -> dict:
    """Defaults filled in and every option checked; SKUs must be the retailer's products.

    Raises:
        ValidationError: a value is out of range or a SKU is unknown (message per option).
    """
    merged = {**DEFAULT_OPTIONS, **{k: v for k, v in (options or {}).items() if v is not None}}
    if options and "max_per_category" in options and options["max_per_category"] is None:
        merged["max_per_category"] = None
    errors: dict[str, str] = {}
    merged["k"] = _int(merged, "k", 1, 500, errors)
    merged["max_per_category"] = _int(merged, "max_per_category", 1, 500, errors)
    merged["recent_weeks"] = _int(merged, "recent_weeks", 0, 52, errors)
    merged["backtest_weeks"] = _int(merged, "backtest_weeks", 1, 52, errors)
    if merged["discount_budget"] is not None:
        try:
            budget = quantize(merged["discount_budget"])
        except ValueError:
            budget = Decimal(-1)
        if budget < 0:
            errors["discount_budget"] = "The discount budget must be an amount of at least 0."
        merged["discount_budget"] = str(budget)
    merged["pinned"], merged["banned"] = _skus(merged["pinned"]), _skus(merged["banned"])
    known = set(
        Product.objects.for_retailer(retailer)
        .filter(sku__in=merged["pinned"] + merged["banned"])
        .values_list("sku", flat=True)
    )
    for name in ("pinned", "banned"):
        unknown = [s for s in merged[name] if s not in known]
        if unknown:
            errors[name] = f"Unknown SKU(s) at {retailer}: {', '.join(unknown)}."
    _check_categories(retailer, merged, errors)
    if merged["segments"] is not None:
        merged["segments"] = sorted({str(s) for s in merged["segments"]})
    if errors:
        raise ValidationError(errors)
    return merged


def forecast_config(*, retailer: Retailer, **overrides: Any) -> ForecastConfig:
    """Engine defaults, ``settings.PROMOTION_FORECAST_CONFIG`` and the holiday calendar of the
    retailer's time zone (US zones, London, Berlin, Paris, Amsterdam; else none)."""
    country = "US" if retailer.time_zone in US_ZONES else ZONE_COUNTRIES.get(retailer.time_zone)
    values = {"holiday_country": country, **getattr(settings, "PROMOTION_FORECAST_CONFIG", {})}
    return ForecastConfig(**{**values, **overrides})


def selection_config(*, retailer: Retailer, options: dict[str, Any]) -> SelectionConfig:
    """The MILP's settings from a run's (cleaned) options; the retailer's excluded categories
    always apply, the run's add to them."""
    budget = options.get("discount_budget")
    return SelectionConfig(
        k=options["k"],
        max_per_category=options["max_per_category"],
        discount_budget=None if budget is None else float(budget),
        recent_weeks=options["recent_weeks"],
        excluded_categories=tuple(
            retailer.excluded_category_list + list(options.get("excluded_categories") or [])
        ),
        pinned_categories=tuple(options.get("pinned_categories") or []),
        currency_symbol=CURRENCY_SYMBOLS.get(retailer.currency, f"{retailer.currency} "),
    )


def max_products() -> int:
    """Candidates per proposal (``settings.PROMOTION_MAX_PRODUCTS``, default 3,000)."""
    return int(getattr(settings, "PROMOTION_MAX_PRODUCTS", 3000))


# --- Create ------------------------------------------------------------------------------------
