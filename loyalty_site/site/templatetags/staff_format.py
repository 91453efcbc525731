"""Numbers as a marketer reads them on the staff pages: ``{% load staff_format %}``.

- ``{{ share|percent }}``: a fraction as a percentage with sensible precision (``0.0007`` ->
  ``0.07%``, ``0.0153`` -> ``1.5%``, ``0.153`` -> ``15%``), never ``0% (0.0007)``;
- ``{{ figure|chart_bars }}``: a chart's bars (``loyalty_site.charts.chart_bars``);
- ``{{ amount|money:retailer.currency }}``: two decimals, thousands separated, with the
  retailer's currency code (``1,230.50 EUR``).

Django's ``floatformat`` and ``widthratio`` give a fixed number of places; a rate of 0.07 % needs
two places where 15 % needs none, hence these few lines.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from django import template
from django.template.defaultfilters import floatformat

from loyalty_site.charts import chart_bars as _chart_bars

register = template.Library()
DASH = "\u2013"  # en dash, as the templates print a missing figure


def _decimal(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


@register.filter
def percent(value: Any) -> str:
    """``value`` (a fraction) as a percentage: no places from 10 %, one from 1 %, else two
    significant digits; a dash when missing."""
    number = _decimal(value)
    if number is None:
        return DASH
    pct = number * 100
    size = abs(pct)
    if size == 0 or size >= 10:
        places = 0
    elif size >= 1:
        places = 1
    else:
        places = max(2, -size.adjusted() + 1)
    text = f"{pct:.{places}f}"
    if places and "." in text:
        text = text.rstrip("0").rstrip(".")
    return f"{text}%"


@register.filter
def money(value: Any, currency: str = "") -> str:
    """``value`` with two places and thousands separators, followed by ``currency``."""
    number = _decimal(value)
    if number is None:
        return DASH
    text = floatformat(number, "2g")
    return f"{text} {currency}".strip()


@register.filter
def chart_bars(figure: Any) -> dict[str, Any]:
    """The bars ``staff/_chart.html`` draws for a ``figure_data`` figure."""
    return _chart_bars(figure or {})
