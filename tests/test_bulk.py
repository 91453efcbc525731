import datetime as dt
from decimal import Decimal

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from django.db import IntegrityError, connection, transaction

from customers.models import Customer, Transaction, TransactionLine
from loyalty_site.bulk import (
    allocate_ids,
    insert_chunks,
    insert_frame,
    timestamp_text,
)
from tests.retailers.factories import RetailerFactory

pytestmark = pytest.mark.django_db


def test_insert_frame_writes_rows_with_nulls_dates_and_aware_datetimes():
    retailer = RetailerFactory()
    customers = pd.DataFrame(
        {
            "retailer_id": [retailer.pk, retailer.pk],
            "external_id": ["A", "B"],
            "enrolled_on": [dt.date(2024, 1, 2), dt.date(2024, 2, 3)],
            "age_band": ["25-34", ""],
            "income_band": ["", ""],
            "household_size": pd.array([2, None], dtype="Int64"),
            "email": ["", ""],
            "marketing_consent": [True, False],
            "created_at": pd.Timestamp("2024-03-01T12:00:00Z"),
        }
    )
    assert insert_frame(Customer, customers) == 2
    a, b = Customer.objects.order_by("external_id")
    assert (a.enrolled_on, a.household_size, a.marketing_consent) == (dt.date(2024, 1, 2), 2, True)
    assert b.household_size is None

    stamps = pd.to_datetime(["2024-06-01 10:30:00+03:00"], utc=True)
    insert_frame(
        Transaction,
        pd.DataFrame(
            {
                "retailer_id": [retailer.pk],
                "external_id": ["T1"],
                "customer_id": [a.pk],
                "store_id": [None],
                "timestamp": stamps,
            }
        ),
    )
    txn = Transaction.objects.get()
    assert txn.timestamp == dt.datetime(2024, 6, 1, 7, 30, tzinfo=dt.UTC)
    assert txn.store_id is None


def test_insert_frame_keeps_decimal_money_exact():
    from customers.models import TransactionLine
    from tests.customers.factories import TransactionFactory
    from tests.retailers.factories import ProductFactory

    txn = TransactionFactory()
    product = ProductFactory(retailer=txn.retailer)
    insert_frame(
        TransactionLine,
        pd.DataFrame(
            {
                "retailer_id": [txn.retailer_id],
                "transaction_id": [txn.pk],
                "line_no": [1],
                "product_id": [product.pk],
                "quantity": [Decimal("1.500")],
                "amount": [Decimal("10.10")],
                "discount": [Decimal("0.30")],
            }
        ),
    )
    line = TransactionLine.objects.get()
    assert (line.quantity, line.amount, line.discount) == (
        Decimal("1.500"),
        Decimal("10.10"),
        Decimal("0.30"),
    )


# --- COPY text, chunks and the background writer ---------------------------------------------


def test_insert_frame_takes_a_pyarrow_table_and_keeps_text_exact():
    retailer = RetailerFactory()
    awkward = ['comma, "quote"', "new\nline\ttab \\N", "", "=1+2"]
    table = pa.table(
        {
            "retailer_id": pa.array([retailer.pk] * 4, pa.int64()),
            "external_id": pa.array(["A", "B", "C", "D"]),
            "enrolled_on": pa.array([dt.date(2024, 1, 2)] * 4),
            "age_band": pa.array(awkward),
            "income_band": pa.array([""] * 4),
            "household_size": pa.array([1, None, 3, None], pa.int64()),
            "email": pa.array([""] * 4),
            "marketing_consent": pa.array([True, False, True, False]),
            "created_at": pa.array([1_717_227_000_500_000] * 4, pa.timestamp("us", tz="UTC")),
        }
    )

    assert insert_frame(Customer, table) == 4

    rows = list(Customer.objects.order_by("external_id").values_list("age_band", "household_size"))
    assert rows == [(awkward[0], 1), (awkward[1], None), ("", 3), (awkward[3], None)]
    assert Customer.objects.get(external_id="A").created_at == dt.datetime(
        2024, 6, 1, 7, 30, 0, 500_000, tzinfo=dt.UTC
    )


def test_timestamp_text_writes_microseconds_offsets_and_nulls():
    aware = pa.array([0, -1_500_000, 1_717_227_000_000_001, None], pa.timestamp("us", tz="UTC"))
    naive = pa.array([86_400_000_000], pa.timestamp("us"))

    assert timestamp_text(aware, aware.type).to_pylist() == [
        "1970-01-01 00:00:00.000000+00",
        "1969-12-31 23:59:58.500000+00",
        "2024-06-01 07:30:00.000001+00",
        None,
    ]
    assert timestamp_text(naive, naive.type).to_pylist() == ["1970-01-02 00:00:00.000000"]


def customer_chunk(retailer, names):
    return pd.DataFrame(
        {
            "retailer_id": retailer.pk,
            "external_id": names,
            "enrolled_on": dt.date(2024, 1, 2),
            "age_band": "",
            "income_band": "",
            "email": "",
            "marketing_consent": False,
            "created_at": pd.Timestamp("2024-03-01T12:00:00Z"),
        }
    )


CUSTOMER_COLUMNS = list(customer_chunk(RetailerFactory.build(pk=1), ["x"]).columns)


def test_insert_chunks_writes_every_chunk_of_a_generator():
    retailer = RetailerFactory()
    chunks = (customer_chunk(retailer, [f"C{i}", f"D{i}"]) for i in range(5))

    assert insert_chunks(Customer, CUSTOMER_COLUMNS, chunks) == 10
    assert Customer.objects.filter(retailer=retailer).count() == 10


def test_insert_chunks_writes_nothing_when_the_producer_fails_half_way():
    retailer = RetailerFactory()

    def chunks():
        yield customer_chunk(retailer, ["A"])
        raise RuntimeError("the file went away")

    with pytest.raises(RuntimeError, match="went away"), transaction.atomic():
        insert_chunks(Customer, CUSTOMER_COLUMNS, chunks())
    assert not Customer.objects.exists()


def test_insert_chunks_raises_what_the_database_refuses():
    retailer = RetailerFactory()
    chunks = [customer_chunk(retailer, ["A"]), customer_chunk(retailer, ["B", "A"])]
    errors = (IntegrityError, connection.Database.IntegrityError)  # COPY's come unwrapped

    with pytest.raises(errors, match=r"customer_unique_external_id|UNIQUE"), transaction.atomic():
        insert_chunks(Customer, CUSTOMER_COLUMNS, chunks)
    assert not Customer.objects.exists()


def test_allocate_ids_takes_distinct_ids_from_the_sequence():
    ids = allocate_ids(Transaction, 5)
    assert len(set(ids.tolist())) == 5
    assert (ids == np.arange(ids[0], ids[0] + 5)).all()  # nobody else inserting


# --- foreign keys: the database's own per-row checks -----------------------------------------


def line_frame(transaction_id: int, product_id: int, retailer_id: int) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "retailer_id": [retailer_id],
            "transaction_id": [transaction_id],
            "line_no": [1],
            "product_id": [product_id],
            "quantity": ["1"],
            "amount": ["2.50"],
            "discount": ["0"],
        }
    )


@pytest.mark.parametrize("statement_per_chunk", [False, True])
def test_insert_chunks_raises_a_foreign_key_refused_at_the_end_of_its_copy(statement_per_chunk):
    """With the constraints IMMEDIATE the foreign keys are checked when a COPY ends, after the
    writer thread sent its last buffer: the error still reaches the caller (no hang)."""
    from tests.customers.factories import TransactionFactory
    from tests.retailers.factories import ProductFactory

    basket = TransactionFactory()
    product = ProductFactory(retailer=basket.retailer)
    chunks = [
        line_frame(basket.pk, product.pk, basket.retailer_id),
        line_frame(basket.pk + 10_000, product.pk, basket.retailer_id),  # no such transaction
    ]
    columns = list(chunks[0].columns)
    errors = (IntegrityError, connection.Database.IntegrityError)
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        with pytest.raises(errors, match="customers_transaction"):
            insert_chunks(TransactionLine, columns, chunks, statement_per_chunk=statement_per_chunk)
        transaction.set_rollback(True)
    assert not TransactionLine.objects.exists()


@pytest.mark.parametrize(("statement_per_chunk", "statements"), [(False, 1), (True, 3)])
def test_insert_chunks_writes_one_copy_statement_per_chunk_when_asked(
    monkeypatch, statement_per_chunk, statements
):
    import psycopg

    retailer = RetailerFactory()
    copies: list[str] = []
    real_copy = psycopg.Cursor.copy

    def counted(cursor, statement, *args, **kwargs):
        copies.append(str(statement))
        return real_copy(cursor, statement, *args, **kwargs)

    monkeypatch.setattr(psycopg.Cursor, "copy", counted)
    chunks = [customer_chunk(retailer, [f"C{i}"]) for i in range(3)]

    written = insert_chunks(
        Customer, CUSTOMER_COLUMNS, chunks, statement_per_chunk=statement_per_chunk
    )

    assert written == Customer.objects.filter(retailer=retailer).count() == 3
    assert len(copies) == statements
