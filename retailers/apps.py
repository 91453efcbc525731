from django.apps import AppConfig


class RetailersConfig(AppConfig):
    name = "retailers"
    verbose_name = "Retailers and products"

    def ready(self) -> None:
        from loyalty_site.workers import connect_worker_signals

        connect_worker_signals()
        _register_import_kinds()


def _register_import_kinds() -> None:
    from retailers.import_kinds import import_kind_register
    from retailers.models import ImportKind
    from retailers.resources import (
        CompetitorPriceResource,
        InventoryResource,
        ProductResource,
        StoreResource,
    )

    import_kind_register(kind=ImportKind.STORES, resource=StoreResource)
    import_kind_register(kind=ImportKind.PRODUCTS, resource=ProductResource)
    import_kind_register(kind=ImportKind.INVENTORY, resource=InventoryResource)
    import_kind_register(kind=ImportKind.COMPETITOR_PRICES, resource=CompetitorPriceResource)
