"""Write-side services of the customers app (see ``transactions_import`` for the bulk loader).

The bulk loader's names are re-exported lazily (PEP 562 ``__getattr__``): it imports pandas,
numpy and pyarrow, and the admin imports this package at every start-up (``customers.admin`` ->
``customers.resources``), where those 0.4 s would be paid by every command and web worker.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from customers.services.transactions_import import (
        TransactionImportResult,
        transactions_bulk_import,
        transactions_import_frame,
    )

__all__ = [
    "TransactionImportResult",
    "transactions_bulk_import",
    "transactions_import_frame",
]


def __getattr__(name: str) -> Any:
    if name in __all__:
        module = importlib.import_module("customers.services.transactions_import")
        return getattr(module, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
