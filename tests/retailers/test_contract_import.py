"""retailers.contract_import: the set-wise import of every contract file but transactions."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from campaigns.models import PastOffer
from retailers.contract_checks import constraints_checked
from retailers.contract_import import contract_rows_import
from retailers.exceptions import ImportRejected, RowError
from retailers.models import ImportKind, Product
from retailers.services import read_csv
from tests.customers.factories import CustomerFactory
from tests.retailers.factories import ProductFactory, StoreFactory


@pytest.mark.django_db
def test_check_constraints_are_evaluated_on_the_columns_without_a_query(
    django_assert_num_queries,
):
    columns = {
        "unit_cost": [Decimal("-1.00"), Decimal("1.00"), None],
        "price": [Decimal("2.00"), Decimal("2.00"), Decimal("2.00")],
    }
    offers = {
        "sent_on": [dt.date(2024, 3, 10), dt.date(2024, 3, 1), dt.date(2024, 3, 1)],
        "valid_until": [dt.date(2024, 3, 1), dt.date(2024, 3, 9), dt.date(2024, 3, 9)],
        "redeemed_on": [None, dt.date(2024, 2, 1), dt.date(2024, 3, 2)],
    }
    errors: dict = {}
    with django_assert_num_queries(0):
        constraints_checked(Product, columns, 3, errors, _no_instance)
        # NULL passes, as in SQL; F() compares with another column of the row.
        assert errors == {0: {"__all__": ["Constraint “product_non_negative_money” is violated."]}}
        offer_errors: dict = {}
        constraints_checked(PastOffer, offers, 3, offer_errors, _no_instance)
        assert sorted(offer_errors) == [0, 1]


def _no_instance(row: int):
    raise AssertionError("every condition is read on the columns")


@pytest.mark.django_db
def test_import_reads_keys_and_existing_rows_set_wise(retailer, django_assert_max_num_queries):
    ProductFactory(retailer=retailer, sku="P1", price=Decimal("2.00"))
    ProductFactory(retailer=retailer, sku="P2", price=Decimal("3.00"))
    StoreFactory(retailer=retailer, external_id="S1")
    rows = [f"P{i % 2 + 1},S1,2024-06-{i + 1:02d},{i}" for i in range(20)]
    data = ("sku,store_id,date,on_hand\n" + "\n".join(rows) + "\n").encode()
    # Keys per column, existing rows, one insert batch, savepoints: never a query per row.
    with django_assert_max_num_queries(8):
        counts = contract_rows_import(
            retailer=retailer, kind=ImportKind.INVENTORY, dataset=read_csv([data])
        )
    assert counts == {"rows": 20, "new": 20, "updated": 0, "skipped": 0}
    changed = b"sku,name,category,brand,unit_cost,price\nP1,A,C,B,1.00,2.00\nP2,B,C,B,1.00,9.99\n"
    counts = contract_rows_import(
        retailer=retailer, kind=ImportKind.PRODUCTS, dataset=read_csv([changed])
    )
    assert (counts["new"], counts["updated"]) == (0, 2)
    assert Product.objects.get(retailer=retailer, sku="P2").price == Decimal("9.99")


@pytest.mark.django_db
def test_import_writes_text_nulls_and_dates_back_exactly(retailer):
    name = 'Tea "Earl Grey", 1 kg\nloose'
    data = (
        "sku,name,category,brand,unit_cost,price\n"
        f'P1,"{name.replace(chr(34), chr(34) * 2)}",,B,0.10,2.00\n'
    ).encode()
    contract_rows_import(retailer=retailer, kind=ImportKind.PRODUCTS, dataset=read_csv([data]))
    product = Product.objects.get(retailer=retailer, sku="P1")
    assert (product.name, product.category, product.unit_cost) == (name, "", Decimal("0.10"))
    offers = (
        b"offer_id,customer_id,bonus_type,sent_on,valid_until,redeemed_on\n"
        b"O1,C1,bench-a,2024-06-01,2024-06-08,\n"
    )
    CustomerFactory(retailer=retailer, external_id="C1")
    contract_rows_import(retailer=retailer, kind=ImportKind.OFFERS, dataset=read_csv([offers]))
    offer = PastOffer.objects.get(retailer=retailer)
    assert (offer.sent_on, offer.redeemed_on) == (dt.date(2024, 6, 1), None)


@pytest.mark.django_db
def test_resource_row_checks_name_row_and_column_and_nothing_is_written(retailer):
    CustomerFactory(retailer=retailer, external_id="C1")
    offers = (
        b"offer_id,customer_id,bonus_type,sent_on,valid_until,redeemed_on\n"
        b"O1,C1,b,2024-06-10,2024-06-01,\n"
        b"O2,C1,b,2024-06-10,2024-06-20,2024-06-09\n"
        b"O3,C1,b,2024-06-10,2024-06-20,2024-06-11\n"
    )
    with pytest.raises(ImportRejected) as rejected:
        contract_rows_import(retailer=retailer, kind=ImportKind.OFFERS, dataset=read_csv([offers]))
    assert rejected.value.errors == [
        RowError(2, "valid_until", "is before sent_on"),
        RowError(3, "redeemed_on", "is before sent_on"),
    ]
    assert not PastOffer.objects.filter(retailer=retailer).exists()


@pytest.mark.django_db
def test_duplicate_keys_are_named_only_from_their_second_row(retailer):
    data = b"store_id,name,region\nS1,A,N\nS2,B,N\n S1 ,C,N\nS3,D,N\n"
    with pytest.raises(ImportRejected) as rejected:
        contract_rows_import(retailer=retailer, kind=ImportKind.STORES, dataset=read_csv([data]))
    assert rejected.value.errors == [RowError(4, "store_id", "same store_id as row 2")]
