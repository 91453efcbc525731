"""CSV contract columns <-> customers and basket lines (customers.csv, transactions.csv).

The admin imports this module at every start-up: pandas and the bulk loader are imported by the
transactions import itself (``import_data_inner``), not here.
"""

from __future__ import annotations

from typing import Any, ClassVar

from import_export.fields import Field
from import_export.results import RowResult

from customers.models import Customer, Transaction, TransactionLine
from customers.services.transactions_columns import COLUMNS as TRANSACTION_COLUMNS
from retailers.exceptions import ImportRejected, RowError
from retailers.models import Retailer
from retailers.resources import (
    BaseResource,
    BooleanCell,
    ContractResult,
    DateCell,
    DecimalCell,
    IntegerCell,
    RetailerKey,
    TextCell,
    TimestampCell,
    product_key,
    spreadsheet_row,
    store_key,
)


class CustomerResource(BaseResource):
    customer_id = Field("external_id", "customer_id", TextCell(required=True))
    enrolled_on = Field("enrolled_on", "enrolled_on", DateCell(required=True))
    age_band = Field("age_band", "age_band", TextCell())
    income_band = Field("income_band", "income_band", TextCell())
    household_size = Field("household_size", "household_size", IntegerCell())
    email = Field("email", "email", TextCell())
    marketing_consent = Field("marketing_consent", "marketing_consent", BooleanCell())

    optional_columns = ("age_band", "income_band", "household_size", "email", "marketing_consent")

    class Meta:
        model = Customer
        name = "customers.csv"
        fields = (
            "customer_id",
            "enrolled_on",
            "age_band",
            "income_band",
            "household_size",
            "email",
            "marketing_consent",
        )
        import_id_fields = ("customer_id",)


class TransactionLineResource(BaseResource):
    """transactions.csv: one row per basket line; the rows of a basket share transaction_id.

    Every import of this file goes through the bulk loader
    (``customers.services.transactions_import_frame``): one set of rules, one write path. This
    resource adapts it for import-export: the dataset in, and the admin's preview (a row per line,
    new or skipped) and row errors (spreadsheet rows of the file) out. The columns map the export.
    """

    transaction_id = Field(
        "transaction__external_id", "transaction_id", TextCell(required=True), readonly=True
    )
    customer_id = Field(
        "transaction__customer",
        "customer_id",
        RetailerKey(Customer, "external_id", required=True),
        readonly=True,
    )
    store_id = Field("transaction__store", "store_id", store_key(), readonly=True)
    timestamp = Field(
        "transaction__timestamp", "timestamp", TimestampCell(required=True), readonly=True
    )
    sku = Field("product", "sku", product_key(required=True))
    quantity = Field("quantity", "quantity", DecimalCell(required=True))
    amount = Field("amount", "amount", DecimalCell(required=True))
    discount = Field("discount", "discount", DecimalCell(required=True))

    unique_rows = False
    export_select_related: ClassVar[tuple[str, ...]] = (
        "transaction__customer",
        "transaction__store",
        "transaction__retailer",
        "product",
    )

    class Meta:
        model = TransactionLine
        name = "transactions.csv"
        fields = TRANSACTION_COLUMNS
        import_id_fields = ("transaction_id",)
        # Lines are only ever created: a stored transaction is left as it is (rows skipped).
        force_init_instance = True

    def import_data_inner(self, dataset: Any, *args: Any, **kwargs: Any) -> ContractResult:
        import pandas as pd  # here, not at start-up: see the module docstring

        from customers.services import transactions_import_frame

        retailer = self.retailer
        if retailer is None or self.header_problems(dataset.headers or []):
            return super().import_data_inner(dataset, *args, **kwargs)  # the file's own errors
        numbers = getattr(dataset, "row_numbers", None)
        result = self.get_result_class()()
        result.total_rows, result.row_numbers = len(dataset), numbers
        result.diff_headers = list(dataset.headers)
        result.error_columns = self.error_columns()
        ids = [str(value or "").strip() for value in dataset["transaction_id"]]
        stored = set(
            Transaction.objects.for_retailer(retailer)
            .filter(external_id__in=set(ids))
            .values_list("external_id", flat=True)
        )
        frame = pd.DataFrame([list(row) for row in dataset], columns=dataset.headers, dtype="str")
        try:
            transactions_import_frame(retailer=retailer, frame=frame, progress=self.progress)
        except ImportRejected as exc:  # the loader's rows are frame positions + 2
            result.file_errors = [
                RowError(
                    spreadsheet_row(numbers, e.row - 1) if e.row > 1 else e.row, e.column, e.message
                )
                for e in exc.errors
            ]
            return result
        _preview_rows(result, retailer, dataset, ids, stored)
        return result

    def dehydrate_timestamp(self, line: TransactionLine) -> str:
        transaction = line.transaction
        return transaction.timestamp.astimezone(transaction.retailer.tz).isoformat()


def _preview_rows(
    result: ContractResult, retailer: Retailer, dataset: Any, ids: list[str], stored: set[str]
) -> None:
    """One row result per line, new or skipped, with its written line (the admin's log)."""
    new = [tid for tid in ids if tid not in stored]
    written = {
        (line.transaction.external_id, line.line_no): line
        for line in TransactionLine.objects.for_retailer(retailer)
        .filter(transaction__external_id__in=set(new))
        .select_related("transaction")
    }
    seen: dict[str, int] = {}
    for tid, cells in zip(ids, dataset, strict=True):
        seen[tid] = seen.get(tid, 0) + 1
        row = RowResult()
        row.import_type = RowResult.IMPORT_TYPE_SKIP if tid in stored else RowResult.IMPORT_TYPE_NEW
        row.diff = list(cells)
        row.instance = written.get((tid, seen[tid]))
        result.append_row_result(row)
        result.increment_row_result_total(row)
