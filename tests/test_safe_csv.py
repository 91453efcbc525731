"""The one safe CSV writer (``loyalty_site.safe_csv``), and a guard that every production module
writes CSV through it."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest

from loyalty_site import safe_csv

BASE_DIR = Path(__file__).resolve().parent.parent
#: Not production code: tests, benchmarks, the virtualenv, migrations.
SKIPPED_DIRS = {"tests", "bench", "docs", ".venv", "venv", "migrations", "node_modules"}
#: Ways of writing CSV other than the safe writer.
CSV_WRITES = re.compile(
    r"\bcsv\.(writer|DictWriter)\b"
    r"|from\s+csv\s+import[^\n]*\b(writer|DictWriter)\b"
    r"|\.to_csv\("
    r"|\bwrite_csv\("
    r"|\.export\([^()]*\)\.csv\b"
    r"|\bdataset\.csv\b"
)
#: Modules allowed to write CSV without it, and why.
ALLOWED = {
    "loyalty_site/safe_csv.py": "the safe writer itself",
    "loyalty_site/bulk.py": "a COPY FROM STDIN stream into PostgreSQL, read by no spreadsheet: "
    "neutralising it would change the stored data",
}
DANGEROUS = ["=HYPERLINK(1)", "+cmd|' /C calc'!A0", "-2+3", "@SUM(A1)", "\tx", "\rx"]


def production_modules() -> list[Path]:
    return [
        path
        for path in BASE_DIR.rglob("*.py")
        if not SKIPPED_DIRS.intersection(path.relative_to(BASE_DIR).parts[:-1])
    ]


def test_every_production_module_writes_csv_through_the_safe_writer():
    offenders = []
    for path in production_modules():
        name = path.relative_to(BASE_DIR).as_posix()
        if name in ALLOWED:
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if CSV_WRITES.search(line):
                offenders.append(f"{name}:{number}: {line.strip()}")
    assert offenders == [], "write CSV with loyalty_site.safe_csv:\n" + "\n".join(offenders)


def test_the_guard_sees_the_modules_it_allows_and_the_usual_ways_of_writing_csv():
    names = {path.relative_to(BASE_DIR).as_posix() for path in production_modules()}
    assert set(ALLOWED) <= names
    assert "optimizer/management/commands/export_scores.py" in names
    for line in [
        "w = csv.writer(stream)",
        "csv.DictWriter(f, fields)",
        "from csv import writer",
        "frame.to_csv(path)",
        "pacsv.write_csv(table, sink)",
        "text = resource.export(queryset=qs).csv",
    ]:
        assert CSV_WRITES.search(line), line


@pytest.mark.parametrize("text", DANGEROUS)
def test_text_starting_a_formula_gets_an_apostrophe(text):
    assert safe_csv.safe_cell(text) == "'" + text


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("C0001", "C0001"),
        ("", ""),
        (None, ""),
        (Decimal("-2.50"), Decimal("-2.50")),
        (-3, -3),
        (-0.5, -0.5),
        (True, "True"),
        (dt.date(2024, 6, 1), "2024-06-01"),
    ],
)
def test_numbers_stay_numbers_and_other_cells_are_text(value, expected):
    assert safe_csv.safe_cell(value) == expected


def test_writer_neutralises_text_cells_and_keeps_negative_numbers():
    buffer = io.StringIO()
    out = safe_csv.writer(buffer)
    out.writerows([["id", "amount"], *([text, Decimal("-1.89")] for text in DANGEROUS)])
    rows = list(csv.reader(io.StringIO(buffer.getvalue())))
    assert rows == [["id", "amount"], *(["'" + text, "-1.89"] for text in DANGEROUS)]


def test_write_frame_neutralises_text_columns_only(tmp_path):
    frame = pd.DataFrame({"id": DANGEROUS, "value": [-1.5] * len(DANGEROUS)})
    frame["segment"] = pd.Categorical(["=x"] * len(DANGEROUS))
    target = tmp_path / "out.csv"
    safe_csv.write_frame(frame, target, index=False)
    read = pd.read_csv(target, keep_default_na=False)
    assert list(read["id"]) == ["'" + text for text in DANGEROUS]
    assert list(read["value"]) == [-1.5] * len(DANGEROUS)
    assert set(read["segment"]) == {"'=x"}
