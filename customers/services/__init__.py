"""Write-side services of the customers app (see ``transactions_import`` for the bulk loader)."""

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
