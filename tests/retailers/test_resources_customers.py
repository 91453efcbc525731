"""customers.csv and the line-per-row transactions.csv resource (customers/resources.py)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from customers.models import Customer, Transaction, TransactionLine
from retailers.exceptions import ImportRejected
from retailers.models import Store
from tests.customers.factories import CustomerFactory, TransactionFactory, TransactionLineFactory
from tests.retailers.factories import ProductFactory, StoreFactory
from tests.retailers.test_resources import csv_bytes, rejected_cells, run_import

pytestmark = pytest.mark.django_db

HEADER = "transaction_id,customer_id,store_id,timestamp,sku,quantity,amount,discount"


@pytest.fixture
def shop(retailer):
    StoreFactory(retailer=retailer, external_id="S1")
    StoreFactory(retailer=retailer, external_id="S2")
    for sku in ("P1", "P2", "P3"):
        ProductFactory(retailer=retailer, sku=sku)
    CustomerFactory(retailer=retailer, external_id="C1")
    CustomerFactory(retailer=retailer, external_id="C2")
    return retailer


def test_customer_import_reads_optional_columns_and_defaults_missing_ones(retailer):
    run_import(
        retailer,
        "customers",
        csv_bytes(
            "customer_id,enrolled_on,household_size,marketing_consent",
            "C1,2024-01-15,3,yes",
            "C2,2024-02-01,,",
        ),
    )
    c1, c2 = Customer.objects.for_retailer(retailer).order_by("external_id")
    assert (c1.household_size, c1.marketing_consent, c1.email) == (3, True, "")
    assert (c2.household_size, c2.marketing_consent) == (None, False)


def test_customer_reimport_without_an_optional_column_keeps_its_values(retailer):
    CustomerFactory(retailer=retailer, external_id="C1", email="kept@example.com")
    summary = run_import(
        retailer, "customers", csv_bytes("customer_id,enrolled_on", "C1,2024-01-15")
    )
    assert summary["skipped"] == 1
    assert Customer.objects.get(external_id="C1").email == "kept@example.com"


def test_transaction_rows_build_baskets_with_line_numbers_in_file_order(shop):
    run_import(
        shop,
        "transactions",
        csv_bytes(
            HEADER,
            "T1,C1,S1,2024-06-01T10:00:00,P1,1,1.00,0.00",
            "T2,C2,,2024-06-01T11:00:00+00:00,P2,2,4.00,0.50",
            "T1,C1,S1,2024-06-01T10:00:00,P3,1,3.00,0.00",
            "T1,C1,S1,2024-06-01T10:00:00,P1,-1,-1.00,0.00",
        ),
    )
    t1 = Transaction.objects.get(retailer=shop, external_id="T1")
    assert t1.timestamp == dt.datetime(2024, 6, 1, 7, 0, tzinfo=dt.UTC)  # Helsinki, summer
    assert [(line.line_no, line.product.sku, line.quantity) for line in t1.lines.all()] == [
        (1, "P1", Decimal("1.000")),
        (2, "P3", Decimal("1.000")),
        (3, "P1", Decimal("-1.000")),
    ]
    t2 = Transaction.objects.get(retailer=shop, external_id="T2")
    assert (t2.store, t2.lines.get().discount) == (None, Decimal("0.50"))


def test_stored_transaction_with_same_header_is_left_as_it_is_and_its_rows_skipped(shop):
    basket = TransactionFactory(
        retailer=shop,
        external_id="T1",
        customer=Customer.objects.get(external_id="C1"),
        store=Store.objects.get(retailer=shop, external_id="S1"),
        timestamp=dt.datetime(2024, 6, 1, 7, 0, tzinfo=dt.UTC),
    )
    TransactionLineFactory(transaction=basket, line_no=1, amount=Decimal("9.99"))
    summary = run_import(
        shop,
        "transactions",
        csv_bytes(
            HEADER,
            "T1,C1,S1,2024-06-01T10:00:00+03:00,P1,1,1.00,0.00",
            "T1,C1,S1,2024-06-01T07:00:00Z,P2,1,2.00,0.00",
            "T2,C2,S2,2024-06-02T10:00:00,P2,1,2.00,0.00",
        ),
    )
    assert summary == {"rows": 3, "new": 1, "updated": 0, "skipped": 2}
    assert [line.amount for line in basket.lines.all()] == [Decimal("9.99")]
    assert TransactionLine.objects.for_retailer(shop).count() == 2


def test_stored_transaction_with_another_header_is_a_row_error(shop):
    TransactionFactory(
        retailer=shop,
        external_id="T1",
        customer=Customer.objects.get(external_id="C1"),
        store=Store.objects.get(retailer=shop, external_id="S1"),
        timestamp=dt.datetime(2024, 6, 1, 7, 0, tzinfo=dt.UTC),
    )
    data = csv_bytes(
        HEADER,
        "T1,C2,S1,2024-06-01T10:00:00,P1,1,1.00,0.00",
        "T1,C1,S1,2024-06-01T11:00:00,P1,1,1.00,0.00",
    )
    # Every row of T1 is refused for the stored customer; row 3 also disagrees with row 2.
    assert rejected_cells(shop, "transactions", data) == {
        (2, "customer_id"),
        (3, "customer_id"),
        (3, "timestamp"),
    }
    stored = "transaction 'T1' already exists with customer_id 'C1'"
    with pytest.raises(ImportRejected, match=stored):
        run_import(shop, "transactions", data)


def test_rows_of_one_basket_must_agree_on_the_header(shop):
    data = csv_bytes(
        HEADER,
        "T1,C1,S1,2024-06-01T10:00:00,P1,1,1.00,0.00",
        "T1,C2,S1,2024-06-01T10:00:00,P2,1,1.00,0.00",
        "T1,C1,S1,2024-06-01T10:05:00,P3,1,1.00,0.00",
    )
    assert rejected_cells(shop, "transactions", data) == {(3, "customer_id"), (4, "timestamp")}
    first = "differs from row 2, the first row of transaction 'T1'"
    with pytest.raises(ImportRejected, match=first):
        run_import(shop, "transactions", data)
    assert not Transaction.objects.exists()


def test_transaction_keys_resolve_only_inside_the_retailer(shop, other_retailer):
    CustomerFactory(retailer=other_retailer, external_id="C-THEIRS")
    StoreFactory(retailer=other_retailer, external_id="S-THEIRS")
    data = csv_bytes(
        HEADER,
        "T1,C-THEIRS,S1,2024-06-01T10:00:00,P1,1,1.00,0.00",
        "T2,C1,S-THEIRS,2024-06-01T10:00:00,P1,1,1.00,0.00",
    )
    assert rejected_cells(shop, "transactions", data) == {(2, "customer_id"), (3, "store_id")}


@pytest.mark.parametrize(
    ("quantity", "amount", "discount", "column"),
    [
        ("2", "3.00", "0.50", None),
        ("-1", "-1.89", "-0.10", None),
        ("-1", "-1.89", "0.00", None),
        ("0", "0.00", "0.00", None),
        ("1", "-1.00", "0.00", "amount"),
        ("-1", "1.00", "0.00", "amount"),
        ("1", "1.00", "-0.10", "discount"),
        ("-1", "-1.00", "0.10", "discount"),
    ],
)
def test_line_signs_follow_the_bulk_loaders_rules(shop, quantity, amount, discount, column):
    data = csv_bytes(HEADER, f"T1,C1,S1,2024-06-01T10:00:00,P1,{quantity},{amount},{discount}")
    if column is None:
        assert run_import(shop, "transactions", data)["new"] == 1
    else:
        assert rejected_cells(shop, "transactions", data) == {(2, column)}


def test_rows_without_a_transaction_id_are_each_one_error(shop):
    data = csv_bytes(
        HEADER,
        ",C1,S1,2024-06-01T10:00:00,P1,1,1.00,0.00",
        ",C2,S2,2024-06-02T10:00:00,P2,1,1.00,0.00",
    )
    assert rejected_cells(shop, "transactions", data) == {
        (2, "transaction_id"),
        (3, "transaction_id"),
    }
