"""Vectorised checks of transaction lines (the validation pass) and the state they build.

Every check works on whole chunk columns (pandas ``str`` columns are Arrow-backed, so the regular
expressions and lengths run in C, and so do the hash look-ups that give distinct values their
integer codes); Python only loops over the at most ``MAX_LISTED_ERRORS`` errors it formats.

The state kept between chunks is per *distinct value*, never per line: an integer code for each
transaction, customer, store and SKU, and for each transaction the header seen on its first row
(row number, customer code, store code, UTC timestamp in microseconds).

Time stamps: extended ISO 8601 date and time (``2024-06-01T10:30[:00[.123]]``, ``T`` or a space),
years 1900-2099; one with an offset (``Z``, ``+03:00``, ``-0500``, ``+03``) is that instant.
One without an offset is local time in the retailer's zone, read like Python's ``zoneinfo`` with
``fold=0``: during the autumn hour that happens twice, the *first* occurrence (summer time) is
meant; a time skipped by the spring change (02:30 when clocks jump from 02:00 to 03:00) is shifted
forward by the length of the gap (to 03:30 local). Sub-microsecond digits are truncated.
"""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from customers.services.transactions_csv import COLUMNS, MAX_LISTED_ERRORS, ErrorList, shorten

#: Longest accepted natural key (the model's ``max_length``).
ID_MAX = 64
#: Code of a missing or invalid value.
INVALID = -1
#: Store code of an empty ``store_id``: an online or unknown store, stored as NULL.
NO_STORE = -2
#: Timestamp sentinel for "missing or invalid" (pandas' NaT as int64).
NAT = np.iinfo(np.int64).min

_QUANTITY = r"[+-]?(?:0*\d{1,9}(?:\.\d{0,3})?|\.\d{1,3})"
_MONEY = r"[+-]?(?:0*\d{1,10}(?:\.\d{0,2})?|\.\d{1,2})"
_NUMBER = r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)"
_ZERO = r"[+-]?0*\.?0*"
#: Extended ISO 8601 / RFC 3339: a date of 1900-2099, a time (hh:mm at least), maybe an offset.
_ISO = (
    r"(?:19|20)\d{2}-\d{2}-\d{2}"
    r"[Tt ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:[Zz]|[+-]\d{2}(?::?\d{2})?)?"
)
_OFFSET = r"[T ]\d.*(?:[Zz]|[+-]\d{2}(?::?\d{2})?)$"
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_NUMBERS = (("quantity", _QUANTITY, 9, 3), ("amount", _MONEY, 10, 2), ("discount", _MONEY, 10, 2))


class Interner:
    """Integer codes 0, 1, 2... for the distinct strings of a column, in order of appearance.

    The strings are kept as Arrow arrays and matched with Arrow's hash kernels
    (``dictionary_encode``, ``index_in``): no Python object per value. ``strings`` builds the
    Python list on demand (for database look-ups and error messages).
    """

    def __init__(self) -> None:
        self._parts: list[pa.Array] = []
        self._known: pa.Array = pa.array([], pa.large_string())
        self._size = 0
        self._strings: list[str] | None = None

    def __len__(self) -> int:
        return self._size

    @property
    def known(self) -> pa.Array:
        """Every string so far, in code order."""
        if self._parts:
            self._known = pa.concat_arrays([self._known, *self._parts])
            self._parts = []
        return self._known

    @property
    def strings(self) -> list[str]:
        """Every string so far, in code order, as a Python list."""
        if self._strings is None or len(self._strings) != self._size:
            self._strings = self.known.to_pylist()
        return self._strings

    def codes_of(self, values: list[str]) -> np.ndarray:
        """The code of each of ``values`` (``INVALID`` for strings never seen)."""
        found = pc.index_in(pa.array(values, pa.large_string()), value_set=self.known)
        return found.fill_null(INVALID).to_numpy().astype(np.int64)

    def encode(self, column: pd.Series, valid: np.ndarray, *, add: bool = True) -> np.ndarray:
        """The code of every value of ``column`` (``INVALID`` where not ``valid``).

        New values get new codes when ``add``; otherwise unknown values are ``INVALID``.
        """
        out = np.full(len(column), INVALID, dtype=np.int64)
        if not valid.any():
            return out
        values = pa.array(column.array, pa.large_string())
        if isinstance(values, pa.ChunkedArray):
            values = values.combine_chunks()
        if not valid.all():
            values = values.filter(pa.array(valid))
        encoded = pc.dictionary_encode(values)
        distinct = encoded.dictionary
        found = pc.index_in(distinct, value_set=self.known).fill_null(INVALID).to_numpy()
        found = found.astype(np.int64)
        if add:
            new = np.flatnonzero(found == INVALID)
            if len(new):
                found[new] = np.arange(self._size, self._size + len(new))
                self._parts.append(distinct.take(pa.array(new)))
                self._size += len(new)
        out[valid] = found[encoded.indices.to_numpy()]
        return out


def parse_timestamps(values: pd.Series, tz: zoneinfo.ZoneInfo) -> np.ndarray:
    """UTC microseconds since the epoch of each ISO 8601 string (``NAT`` when invalid).

    Only the extended form with a time is accepted (``2024-06-01T10:30``,
    ``2024-06-01 10:30:00.5+03:00``), with a year from 1900 to 2099: pandas alone would also
    take "now", "today", a bare date or a bare year.
    """
    out = np.full(len(values), NAT, dtype=np.int64)
    shaped = values.str.fullmatch(_ISO).to_numpy(dtype=bool)
    if not shaped.all():
        out[shaped] = parse_timestamps(values[shaped], tz) if shaped.any() else []
        return out
    has_offset = values.str.contains(_OFFSET).to_numpy(dtype=bool)
    if has_offset.any():
        aware = pd.to_datetime(values[has_offset], format="ISO8601", utc=True, errors="coerce")
        out[has_offset] = pd.DatetimeIndex(aware).as_unit("us").asi8
    if not has_offset.all():
        naive = pd.DatetimeIndex(
            pd.to_datetime(values[~has_offset], format="ISO8601", errors="coerce")
        )
        local = naive.tz_localize(tz, ambiguous=np.ones(len(naive), bool), nonexistent="NaT")
        micros = local.as_unit("us").asi8.copy()
        for i in np.flatnonzero(local.isna() & ~naive.isna()):  # in a spring-forward gap
            moment = naive[i].to_pydatetime(warn=False).replace(tzinfo=tz).astimezone(dt.UTC)
            micros[i] = (moment - _EPOCH) // dt.timedelta(microseconds=1)
        out[~has_offset] = micros
    return out


def _number_problem(value: str, digits: int, decimals: int) -> str:
    """Why ``value`` failed the number pattern (for the error message)."""
    shown = shorten(value)
    if not re.fullmatch(_NUMBER, value):
        return f"{shown} is not a number (use digits and a dot, e.g. 12.50)"
    _, _, fraction = value.lstrip("+-").partition(".")
    if len(fraction) > decimals:
        return f"{shown} has more than {decimals} decimals"
    return f"{shown} is too large (at most {digits} digits before the dot)"


class Validator:
    """The validation pass: feed it every chunk, then read ``errors`` and the header arrays."""

    def __init__(self, tz: zoneinfo.ZoneInfo) -> None:
        self.tz = tz
        self.errors = ErrorList()
        self.lines = 0
        self.transactions = Interner()
        self.customers = Interner()
        self.stores = Interner()
        self.skus = Interner()
        #: Per transaction code: its first row, customer code, store code and UTC microseconds.
        self.first_row = np.empty(0, dtype=np.int64)
        self.customer = np.empty(0, dtype=np.int64)
        self.store = np.empty(0, dtype=np.int64)
        self.timestamp = np.empty(0, dtype=np.int64)
        #: Per transaction code: its number of lines.
        self.line_count = np.empty(0, dtype=np.int64)

    def _report(self, mask: np.ndarray, rows: np.ndarray, column: str, message: str) -> None:
        self.errors.add(rows[mask], column, message)

    def validate(self, first_row: int, chunk: pd.DataFrame) -> None:
        """Check one chunk (stripped ``str`` columns) whose first line is row ``first_row``."""
        rows = np.arange(first_row, first_row + len(chunk), dtype=np.int64)
        lengths = {name: chunk[name].str.len().to_numpy(dtype=np.int64) for name in COLUMNS}
        live = ~np.logical_and.reduce([lengths[name] == 0 for name in COLUMNS])  # blank rows
        self.lines += int(live.sum())

        codes = {}
        for name, interner in (
            ("transaction_id", self.transactions),
            ("customer_id", self.customers),
            ("store_id", self.stores),
            ("sku", self.skus),
        ):
            empty = live & (lengths[name] == 0)
            long = live & (lengths[name] > ID_MAX)
            nul = live & chunk[name].str.contains("\x00", regex=False).to_numpy(dtype=bool)
            if name != "store_id":
                self._report(empty, rows, name, "is required")
            self._report(long, rows, name, f"is longer than {ID_MAX} characters")
            self._report(nul & ~long, rows, name, "contains a NUL character")
            codes[name] = interner.encode(chunk[name], live & ~empty & ~long & ~nul)
        codes["store_id"][live & (lengths["store_id"] == 0)] = NO_STORE

        stamps = self._timestamps(chunk["timestamp"], live, lengths["timestamp"], rows)
        self._numbers(chunk, live, lengths, rows)
        self._headers(rows, codes, stamps)

    def _timestamps(
        self, column: pd.Series, live: np.ndarray, lengths: np.ndarray, rows: np.ndarray
    ) -> np.ndarray:
        present = live & (lengths > 0)
        self._report(live & ~present, rows, "timestamp", "is required")
        stamps = np.full(len(column), NAT, dtype=np.int64)
        if present.any():
            codes, uniques = pd.factorize(column[present])
            stamps[present] = parse_timestamps(pd.Series(uniques, dtype="str"), self.tz)[codes]
        bad = np.flatnonzero(present & (stamps == NAT))
        messages = [
            f"{shorten(value)} is not an ISO 8601 date-time of 1900-2099 "
            "(e.g. 2024-06-01T10:30:00 or 2024-06-01T10:30:00+03:00)"
            for value in column.iloc[bad[:MAX_LISTED_ERRORS]].tolist()
        ]
        self.errors.add(rows[bad], "timestamp", messages)
        return stamps

    def _numbers(
        self,
        chunk: pd.DataFrame,
        live: np.ndarray,
        lengths: dict[str, np.ndarray],
        rows: np.ndarray,
    ) -> None:
        valid, sign = {}, {}
        for name, pattern, digits, decimals in _NUMBERS:
            column = chunk[name]
            present = live & (lengths[name] > 0)
            self._report(live & ~present, rows, name, "is required")
            valid[name] = present & column.str.fullmatch(pattern).to_numpy(dtype=bool)
            bad = np.flatnonzero(present & ~valid[name])
            if len(bad):
                shown = column.iloc[bad[:MAX_LISTED_ERRORS]].tolist()
                messages = [_number_problem(v, digits, decimals) for v in shown]
                self.errors.add(rows[bad], name, messages)
            negative = column.str.startswith("-").to_numpy(dtype=bool)
            zero = column.str.fullmatch(_ZERO).to_numpy(dtype=bool)
            sign[name] = np.where(zero, 0, np.where(negative, -1, 1))
        quantity, amount, discount = sign["quantity"], sign["amount"], sign["discount"]
        checked = valid["quantity"] & valid["amount"]
        self._report(
            checked & (quantity * amount < 0),
            rows,
            "amount",
            "has the opposite sign of the quantity (a return has a negative quantity and a "
            "negative amount)",
        )
        line_sign = np.where(amount != 0, amount, quantity)
        self._report(
            checked & valid["discount"] & (quantity * amount >= 0) & (discount * line_sign < 0),
            rows,
            "discount",
            "has the opposite sign of the line (a discount is >= 0 on a sale, <= 0 on a return)",
        )

    def _headers(self, rows: np.ndarray, codes: dict[str, np.ndarray], stamps: np.ndarray) -> None:
        """Record each new transaction's header and flag rows that disagree with it."""
        tx = codes["transaction_id"]
        known = len(self.first_row)
        total = len(self.transactions)
        if total > known:
            grow = total - known
            self.first_row = np.concatenate([self.first_row, np.zeros(grow, np.int64)])
            self.customer = np.concatenate([self.customer, np.full(grow, INVALID)])
            self.store = np.concatenate([self.store, np.full(grow, INVALID)])
            self.timestamp = np.concatenate([self.timestamp, np.full(grow, NAT)])
            self.line_count = np.concatenate([self.line_count, np.zeros(grow, np.int64)])
            new = np.flatnonzero(tx >= known)
            first_codes, first = np.unique(tx[new], return_index=True)
            at = new[first]
            self.first_row[first_codes] = rows[at]
            self.customer[first_codes] = codes["customer_id"][at]
            self.store[first_codes] = codes["store_id"][at]
            self.timestamp[first_codes] = stamps[at]

        has_tx = np.flatnonzero(tx >= 0)
        tx_codes = tx[has_tx]
        present, counts = np.unique(tx_codes, return_counts=True)  # O(chunk), not O(file)
        self.line_count[present] += counts
        for name, values, header, invalid in (
            ("customer_id", codes["customer_id"], self.customer, INVALID),
            ("store_id", codes["store_id"], self.store, INVALID),
            ("timestamp", stamps, self.timestamp, NAT),
        ):
            mine, theirs = values[has_tx], header[tx_codes]
            differ = (mine != theirs) & (mine != invalid) & (theirs != invalid)
            at = has_tx[differ]
            firsts = tx[at[:MAX_LISTED_ERRORS]]
            messages = [
                f"differs from row {self.first_row[c]}, the first row of transaction "
                f"{self.transactions.strings[c]!r}: all rows of a transaction share its "
                "customer_id, store_id and timestamp"
                for c in firsts
            ]
            self.errors.add(rows[at], name, messages)
