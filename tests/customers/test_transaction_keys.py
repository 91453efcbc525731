"""The transaction's customer and retailer are one foreign key in the database,
``(customer_id, retailer_id) -> customer (id, retailer_id)``: one per-row trigger check per
transaction the bulk loader writes instead of two, and the customer must be the retailer's own."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import IntegrityError, connection, transaction

from customers.models import Customer, Transaction
from tests.customers.factories import CustomerFactory, TransactionFactory
from tests.retailers.factories import RetailerFactory

STAMP = dt.datetime(2024, 6, 1, 10, 0, tzinfo=dt.UTC)


def insert_transaction(*, retailer_id: int, customer_id: int) -> None:
    """Write a transaction as the bulk loader does: SQL only, no model validation."""
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute(
            "INSERT INTO customers_transaction (retailer_id, external_id, customer_id, timestamp)"
            " VALUES (%s, 'T1', %s, %s)",
            [retailer_id, customer_id, STAMP],
        )


@pytest.mark.django_db
def test_transaction_key_refuses_a_customer_of_another_retailer():
    acme, other = RetailerFactory(slug="acme"), RetailerFactory(slug="other")
    stranger = CustomerFactory(retailer=other)
    with (
        pytest.raises(IntegrityError, match="transaction_customer_same_retailer_fk"),
        transaction.atomic(),
    ):
        insert_transaction(retailer_id=acme.pk, customer_id=stranger.pk)


@pytest.mark.django_db
def test_transaction_key_refuses_an_unknown_customer_or_retailer():
    customer = CustomerFactory()
    for retailer_id, customer_id in ((customer.retailer_id, customer.pk + 1000), (999_999, 1)):
        with (
            pytest.raises(IntegrityError, match="transaction_customer_same_retailer_fk"),
            transaction.atomic(),
        ):
            insert_transaction(retailer_id=retailer_id, customer_id=customer_id)
    assert not Transaction.objects.exists()


@pytest.mark.django_db
def test_transaction_key_accepts_the_retailers_own_customer():
    customer = CustomerFactory()
    with transaction.atomic():
        insert_transaction(retailer_id=customer.retailer_id, customer_id=customer.pk)
    assert Transaction.objects.get().customer == customer


@pytest.mark.django_db
def test_transaction_key_keeps_a_customer_with_transactions_from_a_sql_delete():
    bought = TransactionFactory()

    def delete_customer() -> None:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute("DELETE FROM customers_customer WHERE id = %s", [bought.customer_id])

    with pytest.raises(IntegrityError, match="transaction_customer_same_retailer_fk"):
        delete_customer()
    assert Customer.objects.filter(pk=bought.customer_id).exists()


@pytest.mark.django_db
def test_transaction_rows_are_checked_by_two_foreign_keys_customer_and_store():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid = 'customers_transaction'::regclass AND contype = 'f' ORDER BY 1"
        )
        keys = cursor.fetchall()
    assert len(keys) == 2
    assert keys[0][0].startswith("customers_transaction_store_id")
    assert keys[1] == (
        "transaction_customer_same_retailer_fk",
        "FOREIGN KEY (customer_id, retailer_id) REFERENCES customers_customer(id, retailer_id) "
        "DEFERRABLE INITIALLY DEFERRED",
    )
