"""Writes of the retailers app: the retailer (tenant) itself."""

from __future__ import annotations

from django.db import transaction

from retailers.models import Locale, Retailer


@transaction.atomic(durable=True)
def retailer_create(
    *,
    slug: str,
    name: str,
    currency: str = "EUR",
    time_zone: str = "UTC",
    locale: str = Locale.EN_US,
) -> Retailer:
    """Create a retailer (tenant).

    Raises:
        django.core.exceptions.ValidationError: a bad or taken slug, currency, time zone or
            locale.
    """
    retailer = Retailer(slug=slug, name=name, currency=currency, time_zone=time_zone, locale=locale)
    retailer.full_clean()
    retailer.save()
    return retailer
