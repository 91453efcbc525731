"""The retailer-side contract resources: stores, products, inventory and competitor prices."""

from __future__ import annotations

from typing import Any

from import_export.fields import Field

from retailers.models import CompetitorPrice, InventoryLevel, Product, Store
from retailers.resources.base import BaseResource
from retailers.resources.widgets import DateCell, DecimalCell, IntegerCell, RetailerKey, TextCell


def product_key(**kwargs: Any) -> RetailerKey:
    return RetailerKey(Product, "sku", **kwargs)


def store_key(**kwargs: Any) -> RetailerKey:
    return RetailerKey(Store, "external_id", **kwargs)


class StoreResource(BaseResource):
    store_id = Field("external_id", "store_id", TextCell(required=True))
    name = Field("name", "name", TextCell())
    region = Field("region", "region", TextCell())

    class Meta:
        model = Store
        name = "stores.csv"
        fields = ("store_id", "name", "region")
        import_id_fields = ("store_id",)


class ProductResource(BaseResource):
    sku = Field("sku", "sku", TextCell(required=True))
    name = Field("name", "name", TextCell())
    category = Field("category", "category", TextCell())
    brand = Field("brand", "brand", TextCell())
    unit_cost = Field("unit_cost", "unit_cost", DecimalCell(required=True))
    price = Field("price", "price", DecimalCell(required=True))

    class Meta:
        model = Product
        name = "products.csv"
        fields = ("sku", "name", "category", "brand", "unit_cost", "price")
        import_id_fields = ("sku",)


class InventoryResource(BaseResource):
    sku = Field("product", "sku", product_key(required=True))
    store_id = Field("store", "store_id", store_key())
    date = Field("date", "date", DateCell(required=True))
    on_hand = Field("on_hand", "on_hand", IntegerCell(required=True))

    export_select_related = ("product", "store")

    class Meta:
        model = InventoryLevel
        name = "inventory.csv"
        fields = ("sku", "store_id", "date", "on_hand")
        import_id_fields = ("sku", "store_id", "date")


class CompetitorPriceResource(BaseResource):
    sku = Field("product", "sku", product_key(required=True))
    competitor = Field("competitor", "competitor", TextCell(required=True))
    date = Field("date", "date", DateCell(required=True))
    price = Field("price", "price", DecimalCell(required=True))

    export_select_related = ("product",)

    class Meta:
        model = CompetitorPrice
        name = "competitor_prices.csv"
        fields = ("sku", "competitor", "date", "price")
        import_id_fields = ("sku", "competitor", "date")
