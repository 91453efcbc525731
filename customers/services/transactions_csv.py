"""Reading transactions.csv in chunks, and collecting row errors with a bounded list.

The text rules (UTF-8, what is refused on row 1, row numbers, where an encoding error or a row
of the wrong width is reported) are the platform's one CSV reader's, ``retailers.csvio``: the
header, and a file that the columnar readers refuse, are read with it. The body of a file is
read with pyarrow's streaming CSV reader (Arrow strings straight from the bytes, about
four times faster than pandas' C parser, whose Python strings are then converted to Arrow). It
reads a blank line as a row of empty cells, as pandas does; anything else it refuses (a row of
spaces, a row with fewer or more fields than the header, a byte that is not UTF-8, an unbalanced
quote) switches the source to the exact reader, ``pandas.read_csv``, whose rules and error
messages are the contract below, and the pass starts again (:class:`ReadAgain`).

Row numbers follow what a spreadsheet shows: the header is row 1 and every CSV *record* after it
is one row, so a quoted field spanning several physical lines is still one row, and a blank line
is a row too (rows whose cells are all empty are skipped, not reported). For a ``DataFrame`` the
row is its position + 2, the same rule. The exception is a byte that is not UTF-8: it is reported
on its physical line, because the file cannot be parsed into records. Problems of the file as a
whole (empty, not text, wrong header) are reported on row 1.
"""

from __future__ import annotations

import codecs
import itertools
import re
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from customers.services.transactions_columns import COLUMNS
from retailers import csvio
from retailers.exceptions import ImportRejected, RowError

#: Lines per chunk: bounds the memory of one validation / load step.
CHUNK_LINES = 100_000
#: At most this many errors are listed (all of them are counted).
MAX_LISTED_ERRORS = 1_000
_SNIFF_BYTES = 64 * 1024
#: Bytes pyarrow parses at a time. Its reader reads up to 32 blocks ahead of the consumer, so
#: this bounds that memory (32 MB); blocks are joined into chunks of ``CHUNK_LINES`` lines.
_ARROW_BLOCK_BYTES = 1 << 20


class ReadAgain(Exception):
    """The fast reader met something only the exact reader handles: start the pass again."""


def file_error(message: str, *, row: int = 1, column: str = "") -> ImportRejected:
    """An ``ImportRejected`` about the file as a whole."""
    return ImportRejected([RowError(row, column, message)], total_errors=1)


class ErrorList:
    """Every error is counted; the ``MAX_LISTED_ERRORS`` first ones (by row, then column) kept."""

    def __init__(self) -> None:
        self.total = 0
        self._items: list[tuple[int, int, RowError]] = []

    def __bool__(self) -> bool:
        return self.total > 0

    def add(self, rows: np.ndarray, column: str, messages: str | Sequence[str]) -> None:
        """Count one error per entry of ``rows`` (ascending row numbers) on ``column``.

        ``messages`` is one text for every row, or one text per row (only the first
        ``MAX_LISTED_ERRORS`` are read, so callers format no more than that).
        """
        count = len(rows)
        if not count:
            return
        self.total += count
        order = COLUMNS.index(column) if column in COLUMNS else -1
        for i in range(min(count, MAX_LISTED_ERRORS)):
            text = messages if isinstance(messages, str) else messages[i]
            self._items.append((int(rows[i]), order, RowError(int(rows[i]), column, text)))
        if len(self._items) > 4 * MAX_LISTED_ERRORS:
            self._items = sorted(self._items, key=lambda item: item[:2])[:MAX_LISTED_ERRORS]

    def rejection(self) -> ImportRejected:
        """The ``ImportRejected`` listing the first errors and counting all of them."""
        listed = sorted(self._items, key=lambda item: item[:2])[:MAX_LISTED_ERRORS]
        return ImportRejected([item[2] for item in listed], total_errors=self.total)


def shorten(value: object, limit: int = 40) -> str:
    """``repr`` of a cell value, cut to ``limit`` characters for error messages."""
    text = str(value)
    return repr(text if len(text) <= limit else text[: limit - 3] + "...")


def check_header(names: Sequence[str]) -> dict[str, str]:
    """Map the file's column names to contract names; raise ``ImportRejected`` when they differ.

    Names are compared after trimming spaces, case-insensitively. Missing, unexpected and
    repeated columns are all errors: an extra column is refused so that a misspelt name does not
    silently drop data.
    """
    normalized = [str(name).strip().lower() for name in names]
    repeated = sorted({n for n in normalized if normalized.count(n) > 1})
    missing = [c for c in COLUMNS if c not in normalized]
    extra = [str(name) for name, n in zip(names, normalized, strict=True) if n not in COLUMNS]
    errors = []
    if repeated:
        errors.append(RowError(1, "", f"repeated column(s): {', '.join(repeated)}"))
    if missing:
        errors.append(RowError(1, "", f"missing column(s): {', '.join(missing)}"))
    if extra:
        hint = ""
        if len(names) == 1 and re.search(r"[;\t|]", str(names[0])):
            hint = " (the file must be comma-separated)"
        shown = ", ".join(repr(name) for name in extra)
        errors.append(RowError(1, "", f"unexpected column(s): {shown}{hint}"))
    if errors:
        expected = ", ".join(COLUMNS)
        errors = [RowError(e.row, e.column, f"{e.message}; expected: {expected}") for e in errors]
        raise ImportRejected(errors, total_errors=len(errors))
    return {str(name): n for name, n in zip(names, normalized, strict=True)}


class CsvSource:
    """A transactions CSV file on disk, read twice (validation, then load) in equal chunks."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        with self.path.open("rb") as fh:
            head = fh.read(_SNIFF_BYTES)
        if not head.removeprefix(codecs.BOM_UTF8).strip():
            raise file_error("the file is empty")
        csvio.sniff(head)
        _, header = next(csvio.records(csvio.file_chunks(self.path)))
        self.rename = check_header(header)
        self.header = header
        #: Read with pandas (see the module docstring); set when pyarrow refuses the file.
        self.exact = False

    def chunks(self, columns: Sequence[str] = COLUMNS) -> Iterator[tuple[int, pd.DataFrame]]:
        """Yield ``(row number of the first line, chunk)`` with stripped ``str`` columns.

        Raises:
            ReadAgain: pyarrow refused the file after some chunks were yielded; the source now
                reads with pandas, and the caller starts its pass again.
        """
        if self.exact:
            yield from self._exact_chunks(columns)
            return
        yielded = False
        try:
            for item in self._arrow_chunks(columns):
                yielded = True
                yield item
        except pa.ArrowInvalid:
            self.exact = True
            if yielded:
                raise ReadAgain from None
            yield from self._exact_chunks(columns)

    def _arrow_chunks(self, columns: Sequence[str]) -> Iterator[tuple[int, pd.DataFrame]]:
        names = {norm: name for name, norm in self.rename.items()}
        raw = [names[column] for column in columns]
        reader = pacsv.open_csv(
            self.path,
            read_options=pacsv.ReadOptions(
                block_size=_ARROW_BLOCK_BYTES, skip_rows=1, column_names=self.header
            ),
            parse_options=pacsv.ParseOptions(newlines_in_values=True, ignore_empty_lines=False),
            convert_options=pacsv.ConvertOptions(
                column_types=dict.fromkeys(self.header, pa.string()),
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
                include_columns=raw,
            ),
        )
        row, batches, count = 2, [], 0
        with reader:
            for batch in itertools.chain(reader, [None]):  # None: the end
                if batch is not None and batch.num_rows:
                    batches.append(batch)
                    count += batch.num_rows
                if count and (count >= CHUNK_LINES or batch is None):
                    table = pa.Table.from_batches(batches).combine_chunks()
                    trimmed = {
                        column: pc.utf8_trim_whitespace(table.column(name))
                        for column, name in zip(columns, raw, strict=True)
                    }
                    yield row, pa.table(trimmed).to_pandas()
                    row, batches, count = row + count, [], 0

    def _exact_chunks(self, columns: Sequence[str]) -> Iterator[tuple[int, pd.DataFrame]]:
        wanted = set(columns)
        # usecols makes pandas ignore surplus fields: only the (validated) load pass uses it.
        usecols = None
        if wanted != set(COLUMNS):
            usecols = [name for name, norm in self.rename.items() if norm in wanted]
        reader = pd.read_csv(
            self.path,
            dtype=str,
            keep_default_na=False,
            na_filter=False,
            skip_blank_lines=False,
            encoding="utf-8-sig",
            chunksize=CHUNK_LINES,
            usecols=usecols,
        )
        row = 2
        try:
            with reader:
                for chunk in reader:
                    chunk = chunk.rename(columns=self.rename)
                    yield row, strip_columns(chunk, columns)
                    row += len(chunk)
        except UnicodeDecodeError:
            raise self._encoding_error() from None
        except pd.errors.ParserError as exc:
            raise self._field_count_errors(exc) from None

    def _encoding_error(self) -> ImportRejected:
        """The error of the first byte that is not UTF-8, on its physical line."""
        try:
            for _ in csvio.text_lines(csvio.file_chunks(self.path)):
                pass
        except ImportRejected as exc:
            return exc
        return file_error("the file is not UTF-8 text")  # pandas refused what csvio reads

    def _field_count_errors(self, exc: pd.errors.ParserError) -> ImportRejected:
        """List every record with more fields than the header (pandas stops at the first)."""
        errors = ErrorList()
        expected = len(self.rename)
        rows = csvio.records(csvio.file_chunks(self.path))
        next(rows)  # the header
        for row, record in rows:
            if len(record) > expected:
                message = f"has {len(record)} fields, the header has {expected}"
                errors.add(np.array([row]), "", message)
        if not errors:  # not a field count: an unbalanced quote, typically
            reason = str(exc).removeprefix("Error tokenizing data. C error: ").strip()
            return file_error(f"the file is not valid CSV: {reason}")
        return errors.rejection()


class FrameSource:
    """A DataFrame with the contract's columns; row numbers are frame position + 2."""

    def __init__(self, frame: pd.DataFrame) -> None:
        if frame.empty and len(frame.columns) == 0:
            raise file_error("the file is empty")
        self.rename = check_header(list(frame.columns))
        self.frame = frame.rename(columns=self.rename)

    def chunks(self, columns: Sequence[str] = COLUMNS) -> Iterator[tuple[int, pd.DataFrame]]:
        """Yield ``(row number of the first line, chunk)`` with stripped ``str`` columns."""
        for start in range(0, len(self.frame), CHUNK_LINES):
            chunk = self.frame.iloc[start : start + CHUNK_LINES]
            yield start + 2, strip_columns(chunk, columns)


def strip_columns(chunk: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """``columns`` of ``chunk`` as trimmed ``str`` Series (missing values become "")."""
    out = {}
    for name in columns:
        column = chunk[name]
        if column.dtype != "str":
            column = column.astype("str")
        out[name] = column.fillna("").str.strip()
    return pd.DataFrame(out)
