"""retailers.contract_import: the set-wise import of every contract file but transactions."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from retailers.contract_import import constraint_problems, contract_rows_import
from retailers.models import ImportKind, Product
from retailers.services import read_csv
from tests.campaigns.factories import PastOfferFactory
from tests.retailers.factories import ProductFactory, StoreFactory


@pytest.mark.django_db
def test_check_constraints_are_evaluated_on_the_row_without_a_query(django_assert_num_queries):
    cheap = ProductFactory.build(unit_cost=Decimal("-1.00"))
    fine = ProductFactory.build()
    offer = PastOfferFactory.build(sent_on=dt.date(2024, 3, 10), valid_until=dt.date(2024, 3, 1))
    open_ended = PastOfferFactory.build(redeemed_on=None)
    with django_assert_num_queries(0):
        assert constraint_problems(cheap) == [
            "Constraint “product_non_negative_money” is violated."
        ]
        assert constraint_problems(fine) == []
        # F() compares with another column of the row; NULL passes, as in SQL.
        assert len(constraint_problems(offer)) == 1
        assert constraint_problems(open_ended) == []


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
