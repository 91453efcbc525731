"""Serializer fields every API input of money, quantities and times uses.

DRF's own ``DecimalField`` reads ``"1e3"`` as 1000 and ``DateTimeField`` gives a time without a
zone the server's zone; a till that sends either has a bug that must surface as a 400, not as a
basket recorded a thousand times too large or two hours off. Times are also kept inside a range
where adding a retailer's validity period or converting to its zone cannot overflow Python's
``datetime`` (``9999-12-31T23:59:59Z`` plus a day used to be a 500).
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Any

from rest_framework import serializers

#: Plain decimal notation only: optional sign, digits, optional fraction. No exponent, no
#: thousands separators, no NaN / Infinity.
_PLAIN_DECIMAL = re.compile(r"-?\d+(\.\d+)?")
#: Inputs of times and dates outside these years are refused whatever the retailer's window.
MIN_YEAR, MAX_YEAR = 1900, 2999


class PlainDecimalField(serializers.DecimalField):
    """A decimal sent as a JSON string or number in plain notation, with at most
    ``decimal_places`` decimals. Refuses exponents (``"1e3"``, ``1e3``), booleans and floats
    whose shortest representation has more decimals than allowed (``2.675``)."""

    default_error_messages = {
        "plain": "Send a plain decimal number such as 12.50 (no exponent).",
    }

    def to_internal_value(self, data: Any) -> Decimal:
        if isinstance(data, bool):
            self.fail("invalid")
        if isinstance(data, float):
            text = repr(data)
        elif isinstance(data, int | Decimal):
            text = str(data)
        elif isinstance(data, str):
            text = data.strip()
        else:
            self.fail("invalid")
        if len(text) > 40 or not _PLAIN_DECIMAL.fullmatch(text):
            self.fail("plain")
        return super().to_internal_value(text)


class MoneyField(PlainDecimalField):
    """An amount of money: the model's ``MONEY_FIELD`` (12 digits, 2 places)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_digits", 12)
        kwargs.setdefault("decimal_places", 2)
        super().__init__(**kwargs)


class QuantityField(PlainDecimalField):
    """A quantity of units (12 digits, 3 places)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_digits", 12)
        kwargs.setdefault("decimal_places", 3)
        super().__init__(**kwargs)


class AwareDateTimeField(serializers.DateTimeField):
    """An ISO 8601 date-time that must carry its zone (``Z`` or ``+02:00``), years 1900-2999."""

    default_error_messages = {
        "naive": "Send the time with its zone, e.g. 2025-11-24T10:31:00+02:00 or ...Z.",
        "range": f"The year must be between {MIN_YEAR} and {MAX_YEAR}.",
    }

    def to_internal_value(self, value: Any) -> dt.datetime:
        if isinstance(value, str) and len(value) > 64:
            self.fail("invalid", format="ISO 8601")
        parsed = super().to_internal_value(value)
        if isinstance(value, str) and _is_naive(value):
            self.fail("naive")
        if not MIN_YEAR <= parsed.year <= MAX_YEAR:
            self.fail("range")
        return parsed


class BoundedDateField(serializers.DateField):
    """An ISO 8601 date in the years 1900-2999."""

    default_error_messages = {"range": AwareDateTimeField.default_error_messages["range"]}

    def to_internal_value(self, value: Any) -> dt.date:
        if isinstance(value, str) and len(value) > 32:
            self.fail("invalid", format="YYYY-MM-DD")
        parsed = super().to_internal_value(value)
        if not MIN_YEAR <= parsed.year <= MAX_YEAR:
            self.fail("range")
        return parsed


def _is_naive(text: str) -> bool:
    """True when the ISO 8601 ``text`` has no zone designator after its time."""
    time_part = text.strip().partition("T")[2] or text.strip().partition(" ")[2]
    return not (time_part.endswith(("Z", "z")) or re.search(r"[+-]\d{2}(:?\d{2})?$", time_part))
