"""The one writer of every CSV file the platform hands out, with spreadsheet formulas defused.

A spreadsheet runs a cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return
as a formula (OWASP "CSV injection": ``=HYPERLINK(...)``, ``+cmd|' /C calc'!A0``,
``@SUM(...)``). Such text gets a leading ``'``, which spreadsheets take as "this is text".

A cell is text or a number by its Python type, never guessed from its content: ``int``,
``float`` and ``Decimal`` are written as they are (``-2.50`` is a refund, not a formula),
``None`` is an empty cell, and everything else (``str``, dates, ...) is text and neutralised. So
callers pass numbers as numbers. Records end with CRLF (RFC 4180): with a bare ``\n`` terminator
Python's ``csv`` leaves a carriage return inside a cell unquoted, and it splits the row.

Management commands write through :func:`writer` or :func:`write_frame`, the admin's exports
through :func:`dataset_text` (``retailers.admin.ContractCSV``). ``tests/test_safe_csv.py`` fails
when a production module writes CSV any other way. pandas is imported by :func:`write_frame`
only: the admin imports this module at every start-up, which pandas would slow by 0.4 s.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from decimal import Decimal
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd
    from _typeshed import SupportsWrite

#: First characters that make a spreadsheet treat a text cell as a formula (OWASP).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def neutralise_formula(text: str) -> str:
    """Prefix ``text`` with an apostrophe when a spreadsheet would run it as a formula."""
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


def safe_cell(value: Any) -> Any:
    """``value`` as a CSV cell: numbers unchanged, ``None`` empty, anything else safe text."""
    if value is None:
        return ""
    if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        return value
    return neutralise_formula(str(value))


class SafeWriter:
    """``csv.writer`` (CRLF records) whose rows go through :func:`safe_cell`."""

    def __init__(self, stream: SupportsWrite[str]) -> None:
        self._writer = csv.writer(stream, lineterminator="\r\n")

    def writerow(self, row: Iterable[Any]) -> Any:
        return self._writer.writerow([safe_cell(value) for value in row])

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for row in rows:
            self.writerow(row)


def writer(stream: SupportsWrite[str]) -> SafeWriter:
    """A CSV writer on ``stream`` (opened with ``newline=""``) that defuses formulas."""
    return SafeWriter(stream)


def dataset_text(headers: Iterable[Any], rows: Iterable[Iterable[Any]]) -> str:
    """The CSV text of a header row and data rows (e.g. a tablib ``Dataset``'s)."""
    buffer = io.StringIO()
    out = writer(buffer)
    out.writerow(headers)
    out.writerows(rows)
    return buffer.getvalue()


def write_frame(frame: pd.DataFrame, target: Any, **to_csv: Any) -> None:
    """``frame.to_csv(target, **to_csv)`` with every column that is not numeric, boolean or a
    timestamp neutralised cell by cell."""
    import pandas as pd  # here, not at start-up: see the module docstring

    safe = frame.copy(deep=False)
    for name in safe.columns:
        column = safe[name]
        typed = (
            pd.api.types.is_numeric_dtype(column)
            or pd.api.types.is_bool_dtype(column)
            or pd.api.types.is_datetime64_any_dtype(column)
        )
        if not typed:
            safe[name] = column.astype(object).map(lambda v: v if pd.isna(v) else safe_cell(v))
    safe.to_csv(target, **{"lineterminator": "\r\n", **to_csv})
