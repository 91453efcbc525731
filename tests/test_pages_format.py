"""The staff pages' number filters (loyalty_site/site/templatetags/staff_format.py)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from loyalty_site.site.templatetags.staff_format import DASH, money, percent


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (Decimal("0.0007"), "0.07%"),
        (Decimal("0.00012"), "0.012%"),
        (Decimal("0.012"), "1.2%"),
        (Decimal("0.153"), "15%"),
        (Decimal("0.5"), "50%"),
        (0, "0%"),
        (Decimal("-0.08"), "-8%"),
        (None, DASH),
    ],
)
def test_percent_has_sensible_precision(value, shown):
    assert percent(value) == shown


def test_money_has_two_places_separators_and_the_currency():
    assert money(Decimal("1230.5"), "EUR") == "1,230.50 EUR"
    assert money(None, "EUR") == DASH
