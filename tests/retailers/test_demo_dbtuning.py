"""Bulk-load session helpers: set-wise foreign key checks, ANALYZE."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from django.db import IntegrityError, connection, transaction

from customers.models import Transaction, TransactionLine
from loyalty_site.bulk import insert_frame
from loyalty_site.site.demo.dbtuning import (
    analyze,
    foreign_keys_checked_in_bulk,
    missing_references,
    note_foreign_keys,
)
from retailers.models import Product
from tests.customers.factories import TransactionFactory
from tests.retailers.factories import ProductFactory

pytestmark = pytest.mark.django_db(transaction=True)


def line_frame(transaction_id: int, product_id: int, retailer_id: int) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "retailer_id": [retailer_id],
            "transaction_id": [transaction_id],
            "line_no": [1],
            "product_id": [product_id],
            "quantity": [1],
            "amount": [2.5],
            "discount": [0.0],
        }
    )


def insert_checked(frame: pd.DataFrame) -> None:
    note_foreign_keys(TransactionLine, frame)
    insert_frame(TransactionLine, frame)


def test_foreign_keys_checked_in_bulk_accepts_valid_rows():
    basket = TransactionFactory()
    product = ProductFactory(retailer=basket.retailer)
    with transaction.atomic(), foreign_keys_checked_in_bulk() as bulk:
        insert_checked(line_frame(basket.pk, product.pk, basket.retailer_id))
    assert bulk is True
    assert TransactionLine.objects.count() == 1
    analyze([TransactionLine])  # and statistics can be refreshed afterwards


def test_foreign_keys_checked_in_bulk_rejects_dangling_references():
    basket = TransactionFactory()
    product = ProductFactory(retailer=basket.retailer)
    with (
        pytest.raises(IntegrityError, match=rf"customers\.Transaction={basket.pk + 10_000}"),
        transaction.atomic(),
        foreign_keys_checked_in_bulk(),
    ):
        insert_checked(line_frame(basket.pk + 10_000, product.pk, basket.retailer_id))
    assert TransactionLine.objects.count() == 0
    with connection.cursor() as cursor:
        cursor.execute("SHOW session_replication_role")
        assert cursor.fetchone()[0] == "origin"


def test_missing_references_reports_one_example_per_model():
    product = ProductFactory()
    refs = {
        Product: [np.array([product.pk]), np.array([product.pk])],
        Transaction: [np.array([123_456_789])],
    }
    assert missing_references(refs) == ["customers.Transaction=123456789"]


def test_note_foreign_keys_outside_a_bulk_check_does_nothing():
    note_foreign_keys(TransactionLine, line_frame(1, 2, 3))  # no error, nothing recorded
