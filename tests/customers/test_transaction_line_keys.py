"""A line's transaction and product are checked once per statement (migration 0007), not by a
per-row foreign key trigger: what the foreign keys refused is still refused, with SQLSTATE 23503,
and the line's retailer must be its transaction's and its product's."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.models import ProtectedError

from customers.models import Transaction, TransactionLine
from retailers.models import Product
from tests.customers.factories import TransactionFactory, TransactionLineFactory
from tests.retailers.factories import ProductFactory, RetailerFactory


def run(sql: str, params: list[object]) -> None:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)


def insert_line(*, retailer_id: int, transaction_id: int, product_id: int, line_no: int = 9):
    run(
        "INSERT INTO customers_transactionline "
        "(retailer_id, transaction_id, line_no, product_id, quantity, amount, discount) "
        "VALUES (%s, %s, %s, %s, 1, 2.50, 0)",
        [retailer_id, transaction_id, line_no, product_id],
    )


@pytest.mark.django_db
def test_line_keys_accept_the_transactions_and_products_of_the_lines_retailer():
    basket = TransactionFactory()
    product = ProductFactory(retailer=basket.retailer)
    insert_line(retailer_id=basket.retailer_id, transaction_id=basket.pk, product_id=product.pk)
    assert TransactionLine.objects.get().product == product


@pytest.mark.django_db
@pytest.mark.parametrize("wrong", ["unknown product", "unknown transaction", "other's product"])
def test_line_keys_refuse_a_line_whose_key_is_missing_or_of_another_retailer(wrong):
    basket = TransactionFactory()
    product = ProductFactory(retailer=basket.retailer)
    stranger = ProductFactory(retailer=RetailerFactory(slug="other"))
    values = {
        "retailer_id": basket.retailer_id,
        "transaction_id": basket.pk,
        "product_id": product.pk,
    }
    if wrong == "unknown product":
        values["product_id"] = stranger.pk + 1000
    elif wrong == "unknown transaction":
        values["transaction_id"] = basket.pk + 1000
    else:
        values["product_id"] = stranger.pk
    key = "transaction" if wrong == "unknown transaction" else "product"
    with pytest.raises(IntegrityError, match=f"1 {key}") as failure:
        insert_line(**values)
    assert failure.value.__cause__.sqlstate == "23503"
    assert not TransactionLine.objects.exists()


@pytest.mark.django_db
def test_line_keys_refuse_a_line_whose_retailer_is_not_its_transactions():
    basket = TransactionFactory()
    other = RetailerFactory(slug="other")
    product = ProductFactory(retailer=other)
    with pytest.raises(IntegrityError, match="1 transaction"):
        insert_line(retailer_id=other.pk, transaction_id=basket.pk, product_id=product.pk)


@pytest.mark.django_db
def test_line_keys_keep_a_product_or_transaction_on_a_line_from_sql_deletes_and_key_changes():
    line = TransactionLineFactory()
    statements = [
        ("DELETE FROM retailers_product WHERE id = %s", line.product_id, "a product is still"),
        ("UPDATE retailers_product SET id = id + 1000 WHERE id = %s", line.product_id, "product"),
        ("DELETE FROM customers_transaction WHERE id = %s", line.transaction_id, "a transaction"),
        (
            "UPDATE customers_transaction SET id = id + 1000 WHERE id = %s",
            line.transaction_id,
            "a transaction",
        ),
    ]
    for sql, key, message in statements:
        with pytest.raises(IntegrityError, match=message):
            run(sql, [key])
    assert TransactionLine.objects.filter(pk=line.pk).exists()


@pytest.mark.django_db
def test_line_keys_let_rows_on_lines_change_other_columns_and_unused_rows_go():
    line = TransactionLineFactory()
    spare = ProductFactory(retailer=line.retailer)
    Product.objects.filter(pk=line.product_id).update(name="Renamed")
    Transaction.objects.filter(pk=line.transaction_id).update(external_id="T-renamed")
    TransactionLine.objects.filter(pk=line.pk).update(quantity=3)
    spare.delete()
    assert Product.objects.get(pk=line.product_id).name == "Renamed"


@pytest.mark.django_db
def test_line_keys_leave_the_orm_rules_protect_product_and_cascade_transaction():
    line = TransactionLineFactory()
    with pytest.raises(ProtectedError):
        line.product.delete()
    line.transaction.delete()
    assert not TransactionLine.objects.exists()
