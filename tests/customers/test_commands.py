"""Management commands of the customers app."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from customers.models import Transaction, TransactionLine
from tests.customers.factories import CustomerFactory
from tests.customers.test_transactions_import import GOOD, write
from tests.retailers.factories import ProductFactory, StoreFactory


@pytest.fixture
def catalogue(retailer):
    StoreFactory(retailer=retailer, external_id="S1")
    for sku in ("A", "B", "C"):
        ProductFactory(retailer=retailer, sku=sku)
    CustomerFactory(retailer=retailer, external_id="C1")
    CustomerFactory(retailer=retailer, external_id="C2")
    return retailer


def run(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("import_transactions", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_import_transactions_prints_a_one_line_summary(catalogue, tmp_path):
    out, _ = run(str(write(tmp_path, *GOOD)), "--retailer", "acme")

    assert out.count("\n") == 1
    assert out.startswith("acme: 4 lines in 2 new transactions, 0 already imported (skipped)")
    assert TransactionLine.objects.count() == 4


def test_import_transactions_creates_missing_customers_when_asked(catalogue, tmp_path):
    path = write(tmp_path, "T9,NEW,,2024-06-01T10:00:00,A,1,1,0")

    out, _ = run(str(path), "--retailer", "acme", "--create-missing-customers")

    assert "1 new customers" in out


def test_import_transactions_prints_row_and_column_of_each_error_and_fails(catalogue, tmp_path):
    path = write(tmp_path, GOOD[0], "T1,C1,S1,2024-06-01T10:00:00,A,1,x,0")
    err = StringIO()

    with pytest.raises(CommandError, match=r"1 error\(s\), nothing was imported"):
        call_command("import_transactions", str(path), "--retailer", "acme", stderr=err)

    assert err.getvalue().splitlines() == [
        "row 3, column amount: 'x' is not a number (use digits and a dot, e.g. 12.50)"
    ]
    assert Transaction.objects.count() == 0


def test_import_transactions_says_how_many_errors_are_not_listed(catalogue, tmp_path):
    bad = [f"T{i},C1,S1,2024-06-01T10:00:00,A,1,x,0" for i in range(1_003)]
    err = StringIO()

    with pytest.raises(CommandError):
        call_command(
            "import_transactions", str(write(tmp_path, *bad)), "--retailer", "acme", stderr=err
        )

    lines = err.getvalue().splitlines()
    assert len(lines) == 1_001
    assert lines[0].startswith("row 2, column amount:")
    assert lines[-1] == "and 3 more"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--retailer", "nobody"], "no retailer with slug 'nobody'"),
        (["--retailer", "acme", "--create-missing-customers"], None),
    ],
)
def test_import_transactions_refuses_unknown_retailers_and_files(
    catalogue, tmp_path, args, message
):
    missing = tmp_path / "missing.csv"
    with pytest.raises(CommandError, match=message or "is not a file"):
        run(str(missing if message is None else write(tmp_path, *GOOD)), *args)


def test_import_transactions_of_a_header_only_file_imports_nothing_and_succeeds(
    catalogue, tmp_path
):
    out, _ = run(str(write(tmp_path)), "--retailer", "acme")
    assert out == (
        "acme: the file has a header and no data rows: nothing new to import (0 lines imported)\n"
    )
    assert TransactionLine.objects.count() == 0
