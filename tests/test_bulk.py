import datetime as dt
from decimal import Decimal

import pandas as pd
import pytest

from customers.models import Customer, Transaction
from loyalty_site.bulk import insert_frame
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
