import datetime as dt
import threading
from decimal import Decimal

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext

from customers.models import Customer, Transaction, TransactionLine
from loyalty_site.bulk import (
    allocate_ids,
    insert_chunks,
    insert_frame,
    references_checked_in_bulk,
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


# --- foreign keys checked set-wise ------------------------------------------------------------


def test_references_checked_in_bulk_skips_rows_created_in_the_block():
    from tests.customers.factories import CustomerFactory
    from tests.retailers.factories import ProductFactory

    customer = CustomerFactory()
    product = ProductFactory(retailer=customer.retailer)
    with (
        CaptureQueriesContext(connection) as queries,
        transaction.atomic(),
        references_checked_in_bulk() as set_wise,
    ):
        [tx_id] = allocate_ids(Transaction, 1)
        insert_frame(
            Transaction,
            pd.DataFrame(
                {
                    "id": [tx_id],
                    "retailer_id": [customer.retailer_id],
                    "external_id": ["T1"],
                    "customer_id": [customer.pk],
                    "store_id": pd.array([None], dtype="Int64"),
                    "timestamp": pd.to_datetime(["2024-06-01T10:00:00Z"]),
                }
            ),
        )
        insert_frame(TransactionLine, line_frame(tx_id, product.pk, customer.retailer_id))

    assert set_wise is True
    locked = [q["sql"] for q in queries if "FOR KEY SHARE" in q["sql"]]
    assert any("customers_customer" in sql for sql in locked)
    assert any("retailers_product" in sql for sql in locked)
    assert not any("customers_transaction" in sql for sql in locked)  # created here
    assert TransactionLine.objects.get().transaction_id == tx_id


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


@pytest.mark.django_db(transaction=True)
def test_references_checked_in_bulk_holds_the_parent_rows_until_commit():
    """The check ends with the parents locked FOR KEY SHARE: another session cannot delete a
    product the new lines reference before they are committed."""
    from retailers.models import Product
    from tests.customers.factories import TransactionFactory
    from tests.retailers.factories import ProductFactory

    basket = TransactionFactory()
    product = ProductFactory(retailer=basket.retailer)
    refused: list[BaseException] = []

    def delete_product() -> None:
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute("SET LOCAL lock_timeout = '200ms'")
                cursor.execute("DELETE FROM retailers_product WHERE id = %s", [product.pk])
        except DatabaseError as exc:
            refused.append(exc)
        finally:
            connection.close()

    with transaction.atomic():
        with references_checked_in_bulk() as set_wise:
            insert_frame(TransactionLine, line_frame(basket.pk, product.pk, basket.retailer_id))
        other = threading.Thread(target=delete_product)
        other.start()
        other.join(10)

    assert set_wise is True
    assert len(refused) == 1
    assert "lock timeout" in str(refused[0])
    assert Product.objects.filter(pk=product.pk).exists()
