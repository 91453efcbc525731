"""Decimal helpers for money. Pure Python: no Django import.

Money is ``Decimal`` with two places everywhere in models and the API. Database aggregates (a
``SUM`` or ``AVG`` of ``numeric`` comes back with more places) pass through :func:`quantize`
before they are shown or compared.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import TypedDict

CENT = Decimal("0.01")
ZERO = Decimal("0.00")


class MoneyDigits(TypedDict):
    """Digits of every money ``DecimalField`` (typed so that ``**`` unpacking type-checks)."""

    max_digits: int
    decimal_places: int


class MoneyFieldKwargs(MoneyDigits):
    """The keyword arguments in :data:`MONEY_FIELD`."""

    default: Decimal


#: Digits only, for a money field without the zero default: ``DecimalField(**MONEY_DIGITS, ...)``.
MONEY_DIGITS: MoneyDigits = {"max_digits": 12, "decimal_places": 2}


#: Keyword arguments for every money ``DecimalField``: ``DecimalField(**MONEY_FIELD)``.
MONEY_FIELD: MoneyFieldKwargs = {**MONEY_DIGITS, "default": ZERO}


def quantize(value: Decimal | float | int | str | None) -> Decimal:
    """Round ``value`` to cents, half up. ``None`` becomes ``0.00``.

    Floats go through ``str`` first so that 0.1 + 0.2 style noise does not leak into cents.

    Raises:
        ValueError: if ``value`` is not a number.
    """
    if value is None:
        return ZERO
    try:
        dec = value if isinstance(value, Decimal) else Decimal(str(value))
        return dec.quantize(CENT, rounding=ROUND_HALF_UP)
    except InvalidOperation as exc:
        raise ValueError(f"not an amount of money: {value!r}") from exc
