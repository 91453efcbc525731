"""CSV contract columns <-> model fields (django-import-export resources) for the retailer side.

Every contract resource derives from :class:`BaseResource`, which

* forces rows into one retailer and looks existing rows and foreign keys up only inside it;
* reads cells strictly (ISO dates, Decimal money, no silent coercion) with the ``*Cell`` widgets;
* reports problems as :class:`retailers.exceptions.RowError` with spreadsheet row numbers;
* neutralises spreadsheet formulas in exported text cells (OWASP CSV injection) with
  :mod:`loyalty_site.safe_csv`, and exports numbers as numbers, which that writer keeps as they are.

Resources only map columns: the checks live in the models (``clean_model_instances``) and in the
small ``row_checks`` helpers.
"""

from retailers.resources.base import (
    PROGRESS_EVERY,
    BaseResource,
    ContractResult,
    RetailerInstanceLoader,
)
from retailers.resources.contract import (
    CompetitorPriceResource,
    InventoryResource,
    ProductResource,
    StoreResource,
    product_key,
    store_key,
)
from retailers.resources.widgets import (
    BooleanCell,
    Cell,
    DateCell,
    DecimalCell,
    IntegerCell,
    NumberCell,
    RetailerKey,
    TextCell,
    TimestampCell,
    spreadsheet_row,
)

__all__ = [
    "PROGRESS_EVERY",
    "BaseResource",
    "BooleanCell",
    "Cell",
    "CompetitorPriceResource",
    "ContractResult",
    "DateCell",
    "DecimalCell",
    "IntegerCell",
    "InventoryResource",
    "NumberCell",
    "ProductResource",
    "RetailerInstanceLoader",
    "RetailerKey",
    "StoreResource",
    "TextCell",
    "TimestampCell",
    "product_key",
    "spreadsheet_row",
    "store_key",
]
