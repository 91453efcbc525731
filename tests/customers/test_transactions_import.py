"""The bulk transaction loader: what a good file writes, and idempotent re-imports."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from decimal import Decimal

import pandas as pd
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from customers.models import Customer, Transaction, TransactionLine
from customers.services import (
    TransactionImportResult,
    transactions_bulk_import,
    transactions_import_frame,
)
from customers.services import transactions_load as module
from retailers.exceptions import ImportRejected
from tests.customers.factories import CustomerFactory, TransactionFactory
from tests.retailers.factories import ProductFactory, StoreFactory

HEADER = "transaction_id,customer_id,store_id,timestamp,sku,quantity,amount,discount"
HELSINKI = zoneinfo.ZoneInfo("Europe/Helsinki")


def write(tmp_path, *lines: str, header: str = HEADER, name: str = "t.csv", bom: bool = False):
    """Write a CSV file of ``lines`` under ``header`` and return its path."""
    path = tmp_path / name
    text = "\n".join([header, *lines]) + "\n"
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode())
    return path


@pytest.fixture
def catalogue(retailer):
    """Two stores, three products and two customers of ``retailer`` (time zone Helsinki)."""
    assert retailer.time_zone == "Europe/Helsinki"
    StoreFactory(retailer=retailer, external_id="S1")
    StoreFactory(retailer=retailer, external_id="S2")
    for sku in ("A", "B", "C"):
        ProductFactory(retailer=retailer, sku=sku)
    CustomerFactory(retailer=retailer, external_id="C1")
    CustomerFactory(retailer=retailer, external_id="C2")
    return retailer


GOOD = (
    "T1,C1,S1,2024-06-01T10:00:00,A,1,2.50,0.10",
    "T2,C2,,2024-06-01T08:15:30.5+00:00,C,0.750,3.1,0",
    "T1,C1,S1,2024-06-01T10:00:00,B,2.5,+12.00,1.99",
    "T1,C1,S1,2024-06-01T10:00:00,A,-1,-2.50,-0.10",
)


def lines_of(retailer):
    return list(
        TransactionLine.objects.filter(retailer=retailer)
        .order_by("transaction__external_id", "line_no")
        .values_list(
            "transaction__external_id", "line_no", "product__sku", "quantity", "amount", "discount"
        )
    )


def test_transactions_bulk_import_writes_exact_rows(catalogue, tmp_path):
    result = transactions_bulk_import(retailer=catalogue, path=write(tmp_path, *GOOD))

    assert isinstance(result, TransactionImportResult)
    assert result.as_dict() == {
        "transactions_created": 2,
        "lines_created": 4,
        "customers_created": 0,
        "transactions_skipped": 0,
        "lines_read": 4,
        "seconds": result.seconds,
    }
    assert lines_of(catalogue) == [
        ("T1", 1, "A", Decimal("1.000"), Decimal("2.50"), Decimal("0.10")),
        ("T1", 2, "B", Decimal("2.500"), Decimal("12.00"), Decimal("1.99")),
        ("T1", 3, "A", Decimal("-1.000"), Decimal("-2.50"), Decimal("-0.10")),
        ("T2", 1, "C", Decimal("0.750"), Decimal("3.10"), Decimal("0.00")),
    ]
    t1, t2 = Transaction.objects.filter(retailer=catalogue).order_by("external_id")
    # Naive times are Helsinki local time (UTC+3 in June); explicit offsets are kept.
    assert t1.timestamp == dt.datetime(2024, 6, 1, 7, 0, tzinfo=dt.UTC)
    assert t2.timestamp == dt.datetime(2024, 6, 1, 8, 15, 30, 500_000, tzinfo=dt.UTC)
    assert (t1.customer.external_id, t1.store.external_id) == ("C1", "S1")
    assert (t2.customer.external_id, t2.store) == ("C2", None)


def test_transactions_bulk_import_is_idempotent(catalogue, tmp_path):
    path = write(tmp_path, *GOOD)
    transactions_bulk_import(retailer=catalogue, path=path)

    again = transactions_bulk_import(retailer=catalogue, path=path)

    assert (again.transactions_created, again.lines_created, again.transactions_skipped) == (
        0,
        0,
        2,
    )
    assert Transaction.objects.count() == 2
    assert TransactionLine.objects.count() == 4


def test_transactions_bulk_import_loads_only_new_transactions_of_a_longer_file(catalogue, tmp_path):
    transactions_bulk_import(retailer=catalogue, path=write(tmp_path, *GOOD[:2]))

    result = transactions_bulk_import(retailer=catalogue, path=write(tmp_path, *GOOD, name="b"))

    assert (result.transactions_created, result.transactions_skipped) == (0, 2)
    assert result.lines_created == 0  # T1 already existed: its other lines are not added


def test_transactions_bulk_import_creates_missing_customers_when_asked(catalogue, tmp_path):
    path = write(
        tmp_path,
        "T1,NEW,S1,2024-06-03T12:00:00,A,1,1.00,0",
        "T2,NEW,S1,2024-06-01T23:30:00Z,A,1,1.00,0",  # 02:30 on June 2nd in Helsinki
        "T3,C1,S2,2024-06-01T12:00:00,B,1,1.00,0",
    )
    with pytest.raises(ImportRejected) as rejected:
        transactions_bulk_import(retailer=catalogue, path=path)
    assert [(e.row, e.column) for e in rejected.value.errors] == [
        (2, "customer_id"),
        (3, "customer_id"),
    ]

    result = transactions_bulk_import(retailer=catalogue, path=path, create_missing_customers=True)

    assert (result.customers_created, result.transactions_created) == (1, 3)
    new = Customer.objects.get(retailer=catalogue, external_id="NEW")
    assert new.enrolled_on == dt.date(2024, 6, 2)
    assert new.marketing_consent is False
    assert new.transactions.count() == 2


def test_transactions_bulk_import_reads_naive_times_in_the_retailer_zone_across_dst(
    catalogue, tmp_path
):
    ambiguous, gap = "2024-10-27T03:30:00", "2024-03-31T03:30:00"  # Helsinki DST changes
    transactions_bulk_import(
        retailer=catalogue,
        path=write(tmp_path, f"T1,C1,S1,{ambiguous},A,1,1,0", f"T2,C1,S1,{gap},A,1,1,0"),
    )

    stamps = dict(Transaction.objects.values_list("external_id", "timestamp"))
    # Like zoneinfo with fold=0: the first of a repeated hour, a skipped time pushed forward.
    for tid, text in (("T1", ambiguous), ("T2", gap)):
        expected = dt.datetime.fromisoformat(text).replace(tzinfo=HELSINKI).astimezone(dt.UTC)
        assert stamps[tid] == expected
    assert stamps["T1"] == dt.datetime(2024, 10, 27, 0, 30, tzinfo=dt.UTC)
    assert stamps["T2"] == dt.datetime(2024, 3, 31, 1, 30, tzinfo=dt.UTC)


def test_transactions_bulk_import_accepts_bom_quotes_spaces_and_blank_lines(catalogue, tmp_path):
    path = write(
        tmp_path,
        ' T1 , C1 ,"S1", 2024-06-01 10:00 ,"A",1,"1,00",0',
        "",
        "T1,C1,S1,2024-06-01T10:00:00,B,1,2,0",
        header=" Transaction_ID,customer_id,store_id,timestamp,SKU,quantity,amount,discount",
        bom=True,
    )
    with pytest.raises(ImportRejected) as rejected:
        transactions_bulk_import(retailer=catalogue, path=path)
    # The decimal comma is refused (row 2); the blank line still counts as row 3.
    assert [(e.row, e.column) for e in rejected.value.errors] == [(2, "amount")]

    path.write_bytes(path.read_bytes().replace(b'"1,00"', b"1.00"))
    result = transactions_bulk_import(retailer=catalogue, path=path)
    assert (result.lines_read, result.lines_created) == (2, 2)


def test_transactions_import_frame_uses_frame_positions_as_rows(catalogue):
    frame = pd.DataFrame([line.split(",") for line in GOOD], columns=HEADER.split(","))
    frame.loc[2, "quantity"] = "abc"
    with pytest.raises(ImportRejected) as rejected:
        transactions_import_frame(retailer=catalogue, frame=frame)
    assert [(e.row, e.column) for e in rejected.value.errors] == [(4, "quantity")]

    frame.loc[2, "quantity"] = "2.5"
    assert transactions_import_frame(retailer=catalogue, frame=frame).lines_created == 4
    assert lines_of(catalogue)[1][3] == Decimal("2.500")


def test_transactions_import_frame_reports_progress_of_both_passes(catalogue, monkeypatch):
    monkeypatch.setattr("customers.services.transactions_csv.CHUNK_LINES", 2)
    frame = pd.DataFrame([line.split(",") for line in GOOD], columns=HEADER.split(","))
    calls = []

    transactions_import_frame(
        retailer=catalogue, frame=frame, progress=lambda done, total: calls.append((done, total))
    )

    assert calls == [(2, None), (4, None), (0, 4), (2, 4), (4, 4)]
    assert [line[:2] for line in lines_of(catalogue)] == [
        ("T1", 1),
        ("T1", 2),
        ("T1", 3),
        ("T2", 1),
    ]


def test_transactions_bulk_import_uses_a_constant_number_of_queries(catalogue, tmp_path):
    lines = [f"T{i // 3},C1,S1,2024-06-01T10:00:00,A,1,1,0" for i in range(300)]
    with CaptureQueriesContext(connection) as queries:
        result = transactions_bulk_import(retailer=catalogue, path=write(tmp_path, *lines))

    assert (result.transactions_created, result.lines_created) == (100, 300)
    # Bulk statements, not one per row (COPY is not captured; on PostgreSQL the set-wise
    # reference check adds one locking query per referenced table).
    assert len(queries) < 25


def test_transactions_bulk_import_copies_and_rolls_back_atomically_on_postgres(
    catalogue, tmp_path, monkeypatch
):
    path = write(tmp_path, *GOOD, "T3,NEW,S2,2024-06-01T12:00:00,A,1,1.00,0")
    real_insert, real_chunks = module.insert_frame, module.insert_chunks
    copied = []

    def insert_and_record(model, frame, **kwargs):
        count = real_insert(model, frame, **kwargs)
        copied.append((model.__name__, count))
        return count

    def insert_then_fail(model, columns, chunks, **kwargs):
        copied.append((model.__name__, real_chunks(model, columns, chunks, **kwargs)))
        raise RuntimeError("connection lost after the lines were copied")

    monkeypatch.setattr(module, "insert_frame", insert_and_record)
    monkeypatch.setattr(module, "insert_chunks", insert_then_fail)
    with pytest.raises(RuntimeError):
        transactions_bulk_import(retailer=catalogue, path=path, create_missing_customers=True)

    assert copied == [("Customer", 1), ("Transaction", 3), ("TransactionLine", 5)]
    assert Transaction.objects.count() == 0
    assert TransactionLine.objects.count() == 0
    assert not Customer.objects.filter(external_id="NEW").exists()

    monkeypatch.setattr(module, "insert_chunks", real_chunks)
    result = transactions_bulk_import(retailer=catalogue, path=path, create_missing_customers=True)
    assert (result.transactions_created, result.lines_created, result.customers_created) == (
        3,
        5,
        1,
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT sum(amount), sum(quantity) FROM customers_transactionline")
        assert cursor.fetchone() == (Decimal("16.10"), Decimal("4.250"))


def test_transactions_bulk_import_handles_an_existing_transaction_of_another_retailer(
    catalogue, other_retailer, tmp_path
):
    TransactionFactory(retailer=other_retailer, external_id="T1")

    result = transactions_bulk_import(retailer=catalogue, path=write(tmp_path, *GOOD))

    assert (result.transactions_created, result.transactions_skipped) == (2, 0)
