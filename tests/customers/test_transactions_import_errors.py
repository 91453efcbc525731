"""The bulk transaction loader refuses bad files as a whole and says exactly where they are bad."""

from __future__ import annotations

import pandas as pd
import pytest

from customers.models import Customer, Transaction, TransactionLine
from customers.services import transactions_bulk_import, transactions_import_frame
from retailers.exceptions import ImportRejected
from tests.customers.factories import CustomerFactory, TransactionFactory
from tests.customers.test_transactions_import import GOOD, HEADER, write
from tests.retailers.factories import ProductFactory, StoreFactory


@pytest.fixture
def catalogue(retailer):
    StoreFactory(retailer=retailer, external_id="S1")
    for sku in ("A", "B", "C"):
        ProductFactory(retailer=retailer, sku=sku)
    CustomerFactory(retailer=retailer, external_id="C1")
    CustomerFactory(retailer=retailer, external_id="C2")
    return retailer


def rejection(retailer, path, **kwargs) -> ImportRejected:
    with pytest.raises(ImportRejected) as rejected:
        transactions_bulk_import(retailer=retailer, path=path, **kwargs)
    return rejected.value


def where(rejected: ImportRejected) -> list[tuple[int, str]]:
    return [(e.row, e.column) for e in rejected.errors]


def assert_nothing_written():
    assert Transaction.objects.count() == 0
    assert TransactionLine.objects.count() == 0
    assert Customer.objects.count() == 2


def test_transactions_bulk_import_rejects_bad_lines_and_writes_nothing(catalogue, tmp_path):
    path = write(
        tmp_path,
        "T1,C1,S1,2024-06-01T10:00:00,A,1,2.50,0",  # 2 fine
        "T1,C1,S1,2024-02-30T10:00:00,A,1,2.50,0",  # 3 impossible date
        "T2,C1,S1,2024-06-01T10:00:00,A,two,2.50,0",  # 4 not a number
        "T3,C1,S1,2024-06-01T10:00:00,A,1,2.505,0",  # 5 three decimals of money
        f"{'X' * 65},C1,S1,2024-06-01T10:00:00,A,1,1,0",  # 6 id too long
        "T4,C1,S1,2024-06-01T10:00:00,A,1,-1.00,0",  # 7 opposite signs
        "T5,C1,S1,2024-06-01T10:00:00,NOPE,1,1.00,0",  # 8 unknown SKU
        "T6,C9,S9,2024-06-01T10:00:00,A,1,1.00,0",  # 9 unknown customer and store
        "T7,C1,S1,,A,1,1.00,",  # 10 two required values missing
        "T8,C1,S1,2024-06-01T10:00:00,A,1,1.00,-0.50",  # 11 discount sign of a sale
        "T9,C1,S1,2024-06-01T10:00:00,A,12345678901,1.00,0",  # 12 quantity too large
    )
    rejected = rejection(catalogue, path)

    assert where(rejected) == [
        (3, "timestamp"),
        (4, "quantity"),
        (5, "amount"),
        (6, "transaction_id"),
        (7, "amount"),
        (8, "sku"),
        (9, "customer_id"),
        (9, "store_id"),
        (10, "timestamp"),
        (10, "discount"),
        (11, "discount"),
        (12, "quantity"),
    ]
    assert rejected.total_errors == 12
    messages = {(e.row, e.column): e.message for e in rejected.errors}
    assert "'2024-02-30T10:00:00' is not an ISO 8601 date-time" in messages[(3, "timestamp")]
    assert "'two' is not a number" in messages[(4, "quantity")]
    assert "more than 2 decimals" in messages[(5, "amount")]
    assert "longer than 64" in messages[(6, "transaction_id")]
    assert "unknown SKU 'NOPE'" in messages[(8, "sku")]
    assert "too large" in messages[(12, "quantity")]
    assert_nothing_written()


def test_transactions_bulk_import_rejects_rows_disagreeing_on_the_header(catalogue, tmp_path):
    path = write(
        tmp_path,
        "T1,C1,S1,2024-06-01T10:00:00,A,1,1,0",
        "T2,C1,S1,2024-06-01T10:00:00,A,1,1,0",
        "T1,C2,,2024-06-01T10:00:01,B,1,1,0",
        "T1,C1,S1,2024-06-01T07:00:00Z,B,1,1,0",  # the same instant, written in UTC
    )
    rejected = rejection(catalogue, path)

    assert where(rejected) == [(4, "customer_id"), (4, "store_id"), (4, "timestamp")]
    assert "differs from row 2, the first row of transaction 'T1'" in rejected.errors[0].message
    assert_nothing_written()


def test_transactions_bulk_import_rejects_an_existing_transaction_with_another_header(
    catalogue, tmp_path
):
    TransactionFactory(
        retailer=catalogue,
        external_id="T1",
        customer=Customer.objects.get(external_id="C2"),
        store=None,
    )
    rejected = rejection(catalogue, write(tmp_path, *GOOD[:1], GOOD[2].replace(",B,", ",A,")))

    assert where(rejected) == [(2, "customer_id"), (3, "customer_id")]
    assert "transaction 'T1' already exists with customer_id 'C2'" in rejected.errors[0].message
    assert TransactionLine.objects.count() == 0


def test_transactions_bulk_import_treats_another_retailers_keys_as_unknown(
    catalogue, other_retailer, tmp_path
):
    ProductFactory(retailer=other_retailer, sku="THEIRS")
    CustomerFactory(retailer=other_retailer, external_id="THEM")
    StoreFactory(retailer=other_retailer, external_id="THERE")

    rejected = rejection(
        catalogue, write(tmp_path, "T1,THEM,THERE,2024-06-01T10:00:00,THEIRS,1,1,0")
    )

    assert where(rejected) == [(2, "customer_id"), (2, "store_id"), (2, "sku")]
    assert Transaction.objects.count() == 0


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (HEADER.replace(",discount", ""), "missing column(s): discount"),
        (HEADER + ",note", "unexpected column(s): 'note'"),
        (HEADER.replace("store_id", "stor_id"), "unexpected column(s): 'stor_id'"),
        (HEADER.replace(",", ";"), "the file must be comma-separated"),
        (HEADER + ",sku", "repeated column(s): sku"),
        (HEADER + ",", "unexpected column(s): ''"),
    ],
)
def test_transactions_bulk_import_names_missing_and_extra_columns(
    catalogue, tmp_path, header, expected
):
    rejected = rejection(catalogue, write(tmp_path, GOOD[0], header=header))

    assert any(expected in e.message and e.row == 1 for e in rejected.errors), rejected.errors


def test_transactions_bulk_import_names_both_missing_and_unexpected_columns(catalogue, tmp_path):
    rejected = rejection(catalogue, write(tmp_path, header=HEADER.replace("sku", "product")))

    assert [e.message.split(";")[0] for e in rejected.errors] == [
        "missing column(s): sku",
        "unexpected column(s): 'product'",
    ]


@pytest.mark.parametrize(
    ("content", "row", "expected"),
    [
        (b"", 1, "the file is empty"),
        (b"\xef\xbb\xbf\r\n", 1, "the file is empty"),
        ("\n".join([HEADER, GOOD[0]]).encode("utf-16"), 1, "UTF-16 text, not UTF-8"),
        (b"PK\x03\x04\x14\x00\x06\x00", 1, "spreadsheet workbook"),
        (HEADER.encode() + b"\n" + GOOD[0].encode() + b"\x00\n", 1, "NUL bytes"),
        (("\n".join([HEADER, GOOD[0], GOOD[1]]) + "\n").encode() + b"T3,C\xe9\n", 4, "not UTF-8"),
        (b"\xff\xfe" + HEADER.encode(), 1, "not UTF-8"),
    ],
)
def test_transactions_bulk_import_rejects_files_that_are_not_utf8_csv(
    catalogue, tmp_path, content, row, expected
):
    path = tmp_path / "t.csv"
    path.write_bytes(content)

    rejected = rejection(catalogue, path)

    assert rejected.total_errors == 1
    assert rejected.errors[0].row == row
    assert expected in rejected.errors[0].message


def test_transactions_bulk_import_lists_rows_with_too_many_fields(catalogue, tmp_path):
    path = write(
        tmp_path,
        GOOD[0],
        GOOD[0] + ",extra",
        '"T\n2",C1,S1,2024-06-01 10:00,A,1,1,0',
        "a,b,c,d,e,f,g,h,i",
    )

    rejected = rejection(catalogue, path)

    assert where(rejected) == [(3, ""), (5, "")]
    assert rejected.errors[0].message == "has 9 fields, the header has 8"


def test_transactions_bulk_import_counts_rows_by_record_with_quoted_newlines(catalogue, tmp_path):
    path = write(
        tmp_path,
        '"T1",C1,S1,2024-06-01T10:00:00,"A\nB",1,1,0',  # row 2 spans two physical lines
        "T2,C1,S1,2024-06-01T10:00:00,A,1,x,0",  # row 3
    )
    assert where(rejection(catalogue, path)) == [(2, "sku"), (3, "amount")]


def test_transactions_import_frame_lists_1000_errors_and_counts_them_all(catalogue):
    frame = pd.DataFrame(
        [["T1", "C1", "S1", "2024-06-01 10:00", "A", "1", "bad", "0"]] * 1_500,
        columns=HEADER.split(","),
    )
    frame.loc[1_200, "sku"] = "NOPE"

    with pytest.raises(ImportRejected) as rejected:
        transactions_import_frame(retailer=catalogue, frame=frame)

    assert rejected.value.total_errors == 1_501
    assert len(rejected.value.errors) == 1_000
    assert rejected.value.errors[0].row == 2
    assert rejected.value.errors[-1].row == 1_001
    assert "1501 invalid row(s)" in str(rejected.value)


def test_transactions_bulk_import_rejects_an_unbalanced_quote(catalogue, tmp_path):
    path = write(tmp_path, GOOD[0], 'T2,"C1,S1,2024-06-01T10:00:00,A,1,1,0', GOOD[0])

    rejected = rejection(catalogue, path)

    assert rejected.total_errors == 1
    assert "not valid CSV" in rejected.errors[0].message
    assert "EOF inside string" in rejected.errors[0].message


def test_transactions_bulk_import_turns_a_concurrent_import_into_a_rejection(
    catalogue, tmp_path, monkeypatch
):
    from customers.services import transactions_load as module

    real_insert = module.insert_frame

    def another_import_wins(model, frame, **kwargs):
        if model is Transaction:  # the same transaction lands between our check and our insert
            first = frame.column("external_id")[0].as_py()  # a pyarrow Table
            TransactionFactory(retailer=catalogue, external_id=first)
        return real_insert(model, frame, **kwargs)

    monkeypatch.setattr(module, "insert_frame", another_import_wins)
    rejected = rejection(catalogue, write(tmp_path, *GOOD))

    assert rejected.errors[0].row == 0
    assert "import the file again" in rejected.errors[0].message
    assert Transaction.objects.count() == 0
    assert TransactionLine.objects.count() == 0


@pytest.mark.parametrize(
    "stamp",
    [
        "now",
        "today",
        "2024",
        "2024-06-01",
        "10:00",
        "2024-06-01T25:00",
        "0001-01-01T00:00",
        "1/6/2024",
    ],
)
def test_transactions_import_frame_rejects_what_is_not_an_iso_date_time(catalogue, stamp):
    frame = pd.DataFrame([["T1", "C1", "S1", stamp, "A", "1", "1", "0"]], columns=HEADER.split(","))

    with pytest.raises(ImportRejected) as rejected:
        transactions_import_frame(retailer=catalogue, frame=frame)

    assert where(rejected.value) == [(2, "timestamp")]


def test_transactions_import_frame_rejects_nul_characters_in_keys(catalogue):
    frame = pd.DataFrame(
        [["T1", "C1", "S1", "2024-06-01 10:00", "A\x00", "1", "1", "0"]], columns=HEADER.split(",")
    )

    with pytest.raises(ImportRejected) as rejected:
        transactions_import_frame(retailer=catalogue, frame=frame)

    assert [(e.row, e.column, e.message) for e in rejected.value.errors] == [
        (2, "sku", "contains a NUL character")
    ]
