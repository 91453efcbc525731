"""The strict cells of the CSV contract (import-export widgets) and the spreadsheet row helper.

Cells read strictly (ISO dates, Decimal money, no silent coercion) and name the column in their
errors; :class:`RetailerKey` looks foreign keys up inside one retailer.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

from import_export import widgets

from retailers.models import Retailer
from retailers.tenancy import RetailerOwned

_INTEGER = re.compile(r"[+-]?\d+", re.ASCII)
_DECIMAL = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)", re.ASCII)
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_TRUE = {"1", "true", "yes", "y", "t"}
_FALSE = {"0", "false", "no", "n", "f"}


def spreadsheet_row(row_numbers: Sequence[int] | None, number: int) -> int:
    """Spreadsheet row (header = row 1) of import-export's 1-based data row ``number``.

    ``row_numbers`` (from :func:`retailers.services.read_csv`) accounts for skipped blank rows.
    """
    if row_numbers is not None and 0 < number <= len(row_numbers):
        return row_numbers[number - 1]
    return number + 1


class Cell(widgets.Widget):
    """Base of the contract's cell readers.

    Surrounding whitespace is ignored; an empty cell is ``empty`` (or "a value is required");
    anything unreadable raises ``ValueError``, which import-export reports on the cell's column.
    ``is_text`` marks cells whose exported value is free text (and so formula-neutralised).
    """

    empty: Any = None
    is_text = False

    def __init__(self, *, required: bool = False) -> None:
        super().__init__(coerce_to_string=True)
        self.required = required
        self.retailer: Retailer | None = None
        self.column = ""

    def bind(self, *, retailer: Retailer | None, column: str) -> None:
        """Attach the importing retailer and the CSV column name (done per resource instance)."""
        self.retailer = retailer
        self.column = column

    def clean(self, value: Any, row: Any = None, **kwargs: Any) -> Any:
        text = "" if value is None else str(value).strip()
        if not text:
            if self.required:
                raise ValueError("a value is required")
            return self.empty
        return self.parse(text)

    def parse(self, text: str) -> Any:
        return text

    def render(self, value: Any, obj: Any = None, **kwargs: Any) -> Any:
        return "" if value is None else str(value)


class TextCell(Cell):
    empty = ""
    is_text = True


class NumberCell(Cell):
    """A number cell: exported as the number itself, so that the safe CSV writer keeps a
    negative amount as it is (text starting with ``-`` would be neutralised)."""

    def render(self, value: Any, obj: Any = None, **kwargs: Any) -> Any:
        return "" if value is None else value


class IntegerCell(NumberCell):
    def parse(self, text: str) -> int:
        if not _INTEGER.fullmatch(text):
            raise ValueError(f"expected a whole number, got {text!r}")
        return int(text)


class DecimalCell(NumberCell):
    """A plain decimal number ("12.50", "-1"): no exponent, thousands separator or float."""

    def parse(self, text: str) -> Decimal:
        if not _DECIMAL.fullmatch(text):
            raise ValueError(f"expected a number such as 12.50, got {text!r}")
        return Decimal(text)


class DateCell(Cell):
    def parse(self, text: str) -> dt.date:
        try:
            if _DATE.fullmatch(text):
                return dt.date.fromisoformat(text)
        except ValueError:
            pass
        raise ValueError(f"expected a date as YYYY-MM-DD, got {text!r}")

    def render(self, value: Any, obj: Any = None, **kwargs: Any) -> str:
        return value.isoformat() if value else ""


class TimestampCell(Cell):
    """ISO 8601 date and time; without an offset it is in the retailer's time zone."""

    def parse(self, text: str) -> dt.datetime:
        try:
            if len(text) > 10:
                value = dt.datetime.fromisoformat(text)
                if value.tzinfo is None:
                    value = value.replace(tzinfo=self.tz)
                return value
        except ValueError:
            pass
        raise ValueError(
            f"expected an ISO 8601 timestamp such as 2024-06-01T10:15:00, got {text!r}"
        )

    @property
    def tz(self) -> dt.tzinfo:
        return self.retailer.tz if self.retailer is not None else dt.UTC

    def render(self, value: Any, obj: Any = None, **kwargs: Any) -> str:
        return value.astimezone(self.tz).isoformat() if value else ""


class BooleanCell(Cell):
    empty = False

    def parse(self, text: str) -> bool:
        lowered = text.lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        raise ValueError(f"expected 1/0, true/false or yes/no, got {text!r}")

    def render(self, value: Any, obj: Any = None, **kwargs: Any) -> str:
        return "" if value is None else ("true" if value else "false")


class RetailerKey(Cell):
    """A natural key (SKU, store id, customer id, code) of a row of the importing retailer.

    Looked up only inside that retailer, so another retailer's id is "unknown". ``create`` (a
    callable ``(retailer=..., key=...) -> row``) makes unknown keys instead of rejecting them.
    """

    is_text = True

    def __init__(
        self,
        model: type[RetailerOwned],
        field: str,
        *,
        required: bool = False,
        create: Callable[..., RetailerOwned] | None = None,
    ) -> None:
        super().__init__(required=required)
        self.model = model
        self.field = field
        self.create = create
        self._cache: dict[str, RetailerOwned] = {}

    def preload(self, keys: Sequence[str], *, chunk: int = 5_000) -> None:
        """Look ``keys`` up in one query per ``chunk`` (instead of one per row when parsed)."""
        if self.retailer is None:
            return
        rows = self.model.objects.for_retailer(self.retailer)
        for start in range(0, len(keys), chunk):
            for found in rows.filter(**{f"{self.field}__in": keys[start : start + chunk]}):
                self._cache[str(getattr(found, self.field))] = found

    def loaded(self, key: str) -> RetailerOwned | None:
        """The row of ``key`` if it was looked up already."""
        return self._cache.get(key)

    def parse(self, text: str) -> RetailerOwned:
        if text not in self._cache and self.retailer is not None:
            rows = self.model.objects.for_retailer(self.retailer)
            found = rows.filter(**{self.field: text}).first()
            if found is None and self.create is not None:
                found = self.create(retailer=self.retailer, key=text)
            if found is not None:
                self._cache[text] = found
        if text not in self._cache:
            raise ValueError(f"unknown {self.column} {text!r}")
        return self._cache[text]

    def render(self, value: Any, obj: Any = None, **kwargs: Any) -> str:
        return "" if value is None else str(getattr(value, self.field))
