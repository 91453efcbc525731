import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError

from retailers.models import InventoryLevel, Membership, Product, Retailer, Role
from tests.retailers.factories import ProductFactory, RetailerFactory, StoreFactory

pytestmark = pytest.mark.django_db


def test_retailer_rejects_unknown_time_zone_and_bad_currency():
    retailer = Retailer(slug="x", name="X", currency="eur", time_zone="Mars/Olympus")
    with pytest.raises(ValidationError) as exc:
        retailer.full_clean()
    assert set(exc.value.message_dict) == {"currency", "time_zone"}


def test_role_rank_orders_viewer_to_admin():
    assert [Role.rank(r) for r in Role.values] == [0, 1, 2, 3]
    membership = Membership(role=Role.APPROVER)
    assert membership.has_role(Role.ANALYST)
    assert not membership.has_role(Role.ADMIN)


def test_product_sku_unique_per_retailer_only():
    a, b = RetailerFactory(), RetailerFactory()
    ProductFactory(retailer=a, sku="X1")
    ProductFactory(retailer=b, sku="X1")  # same SKU at another retailer is fine
    with pytest.raises(IntegrityError):
        ProductFactory.create(retailer=a, sku="X1", name="dup")  # no get_or_create on products


def test_product_negative_price_rejected_by_database():
    retailer = RetailerFactory()
    with pytest.raises(IntegrityError):
        Product.objects.create(retailer=retailer, sku="N", price=Decimal("-1.00"))


def test_inventory_unique_per_day_for_chain_and_store_rows():
    product = ProductFactory()
    store = StoreFactory(retailer=product.retailer)
    day = dt.date(2024, 5, 1)
    InventoryLevel.objects.create(retailer=product.retailer, product=product, date=day, on_hand=5)
    InventoryLevel.objects.create(
        retailer=product.retailer, product=product, store=store, date=day, on_hand=2
    )
    with pytest.raises(IntegrityError):
        InventoryLevel.objects.create(
            retailer=product.retailer, product=product, date=day, on_hand=7
        )
