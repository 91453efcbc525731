"""The platform's one CSV reader: every contract file (stores, products, inventory, prices,
customers, transactions) is decoded and split into records by these rules.

- UTF-8 with or without BOM; a spreadsheet workbook, UTF-16 text or binary is refused on row 1
  with what to do (:func:`sniff`), a byte that is not UTF-8 on its physical line.
- Row numbers are what a spreadsheet shows: the header is row 1 and each CSV record is one row,
  even when a quoted cell spans lines; blank rows keep their number.
- Column names are compared trimmed and case-insensitively.

:func:`read_csv` gives the row-by-row imports a ``tablib.Dataset`` (admin preview, import-export
resources, ``contract_rows_import``); :func:`inspect_csv` counts rows without keeping them. The
bulk transactions loader (``customers.services.transactions_csv``) reads its header, locates
encoding errors and rows of the wrong width with :func:`records` / :func:`text_lines`, and only
the body of a valid file with its columnar engine (pyarrow, pandas for irregular files), which
is tens of times faster on millions of lines. Python's ``csv`` module is the parser here:
records are read one at a time, so memory does not grow with the file.
"""

from __future__ import annotations

import codecs
import csv
import dataclasses
from collections.abc import Iterable, Iterator
from pathlib import Path

import tablib

from retailers.exceptions import ImportRejected, RowError

#: Bytes read at a time from a file.
CHUNK_BYTES = 1 << 16


@dataclasses.dataclass(frozen=True)
class CsvInfo:
    """What a quick pass over a CSV file found: its header and how many data rows follow."""

    headers: list[str]
    data_rows: int


def _reject(row: int, message: str) -> ImportRejected:
    return ImportRejected([RowError(row, "", message)])


def sniff(head: bytes) -> None:
    """Refuse the first bytes of a file that is not UTF-8 text: a spreadsheet workbook, UTF-16
    text, or binary (NUL bytes). Errors are on row 1.

    Raises:
        ImportRejected: what the file is instead, and how to save it.
    """
    if head.startswith(b"PK\x03\x04"):
        raise _reject(1, "this is a spreadsheet workbook, not CSV: save it as CSV UTF-8")
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise _reject(1, "the file is UTF-16 text, not UTF-8: save it as CSV UTF-8")
    if b"\x00" in head:
        raise _reject(1, "this is not a text file (it contains NUL bytes)")


def text_lines(chunks: Iterable[bytes]) -> Iterator[str]:
    """Decode UTF-8 (with or without BOM) and yield lines with their line endings.

    Raises:
        ImportRejected: see :func:`sniff`; or a byte that is not UTF-8, on its physical line.
    """
    decoder = codecs.getincrementaldecoder("utf-8-sig")("strict")
    pending, line, first = "", 1, True
    for chunk in chunks:
        if first and chunk:
            first = False
            sniff(chunk)
        try:
            pending += decoder.decode(chunk)
        except UnicodeDecodeError as exc:
            bad = line + pending.count("\n") + chunk[: exc.start].count(b"\n")
            byte = chunk[exc.start : exc.start + 1].hex().upper() or "?"
            raise _reject(
                bad,
                f"the file is not UTF-8 text (byte 0x{byte} on line {bad}): save it as CSV UTF-8",
            ) from None
        *lines, pending = pending.split("\n")
        for text in lines:
            line += 1
            yield text + "\n"
    pending += decoder.decode(b"", final=True)
    if pending:
        yield pending


def records(chunks: Iterable[bytes]) -> Iterator[tuple[int, list[str]]]:
    """``(spreadsheet row, cells)`` of every CSV record: the header is row 1, and a record is one
    row even when a quoted cell spans several lines.

    Raises:
        ImportRejected: see :func:`text_lines`; or a record that is not CSV.
    """
    reader = csv.reader(text_lines(chunks))
    number = 0
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise _reject(number + 1, f"cannot be read as CSV: {exc}") from None
        number += 1
        yield number, cells


def header(rows: Iterator[tuple[int, list[str]]]) -> list[str]:
    """The normalised column names of the first record (trimmed, lower case).

    Raises:
        ImportRejected: no header, or a column named twice.
    """
    first = next(rows, None)
    # Column names are compared trimmed and case-insensitively (as the bulk loader does).
    headers = [cell.strip().lower() for cell in first[1]] if first else []
    if not any(headers):
        raise _reject(1, "the file is empty: the first row must name the columns")
    duplicates = sorted({h for h in headers if headers.count(h) > 1})
    if duplicates:
        raise ImportRejected([RowError(1, h, "column appears more than once") for h in duplicates])
    return headers


def file_chunks(path: str | Path) -> Iterator[bytes]:
    """The bytes of the file at ``path``, in chunks."""
    with open(path, "rb") as stream:
        yield from iter(lambda: stream.read(CHUNK_BYTES), b"")


def inspect_csv(chunks: Iterable[bytes]) -> CsvInfo:
    """Check that a file is CSV text in UTF-8 with a header, and count its data rows.

    Streams the file (nothing is kept in memory). Blank rows are not counted.

    Raises:
        ImportRejected: the file is empty, not UTF-8 text, or not CSV.
    """
    rows = records(chunks)
    headers = header(rows)
    count = sum(1 for _, cells in rows if any(cell.strip() for cell in cells))
    return CsvInfo(headers=headers, data_rows=count)


def read_csv(chunks: Iterable[bytes]) -> tablib.Dataset:
    """Read a whole contract CSV file into a dataset for the import resources.

    Blank rows are dropped; ``dataset.row_numbers`` keeps each row's spreadsheet row number so
    that errors still name the right row.

    Raises:
        ImportRejected: the file is empty (not even a header), not UTF-8 text, not CSV, or has
            rows of a different width than the header (every such row is listed). A header with
            no data rows is a valid, empty dataset (a nightly export with nothing new).
    """
    rows = records(chunks)
    headers = header(rows)
    kept: list[list[str]] = []
    numbers: list[int] = []
    errors: list[RowError] = []
    for number, cells in rows:
        if not "".join(cells).strip():  # a blank row (faster than testing cell by cell)
            continue
        while len(cells) > len(headers) and not cells[-1].strip():
            cells.pop()  # trailing empty cells, as some spreadsheets write them
        if len(cells) != len(headers):
            errors.append(
                RowError(number, "", f"has {len(cells)} cells, the header has {len(headers)}")
            )
            continue
        kept.append(cells)
        numbers.append(number)
    if errors:
        raise ImportRejected(errors)
    # Built at once: Dataset.append checks each row's width again (a third of the read time).
    dataset = tablib.Dataset(*kept, headers=headers)
    dataset.row_numbers = numbers
    return dataset
