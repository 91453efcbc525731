"""CSV contract columns <-> customers and basket lines (customers.csv, transactions.csv)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, ClassVar, cast

from django.core.exceptions import ValidationError
from django.db import models
from import_export.fields import Field

from customers.models import Customer, Transaction, TransactionLine
from customers.services.transactions_csv import COLUMNS as TRANSACTION_COLUMNS
from retailers.resources import (
    BaseResource,
    BooleanCell,
    DateCell,
    DecimalCell,
    IntegerCell,
    RetailerKey,
    TextCell,
    TimestampCell,
    product_key,
    store_key,
)

#: The basket header columns, which every row of one transaction_id repeats.
HEADER_COLUMNS = ("customer_id", "store_id", "timestamp")
#: Basket columns -> ``Transaction`` fields, and back.
HEADER_FIELDS = {
    "transaction_id": "external_id",
    "customer_id": "customer",
    "store_id": "store",
    "timestamp": "timestamp",
}
HEADER_COLUMN_OF = {field: column for column, field in HEADER_FIELDS.items()}


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


def _sign(value: Decimal) -> int:
    return (value > 0) - (value < 0)


def line_sign_problems(
    quantity: Decimal | None, amount: Decimal | None, discount: Decimal | None
) -> dict[str, str]:
    """Sign rules of a basket line, as the bulk loader checks them.

    A return has a negative quantity AND a negative amount; the discount has the line's sign
    (>= 0 on a sale, <= 0 on a return). Returns ``{column: message}``.
    """
    if quantity is None or amount is None:
        return {}
    if _sign(quantity) * _sign(amount) < 0:
        return {"amount": "has the opposite sign of the quantity (a return has both negative)"}
    line = _sign(amount) or _sign(quantity)
    if discount is not None and _sign(discount) * line < 0:
        return {"discount": "has the opposite sign of the line (>= 0 on a sale, <= 0 on a return)"}
    return {}


class TransactionLineResource(BaseResource):
    """transactions.csv: one row per basket line; the rows of a basket share transaction_id.

    The basket (``Transaction``) is created with its first valid row; ``line_no`` is the row's
    position among its basket's rows in the file. A transaction_id already stored for the retailer
    is left as it is: its rows are skipped when they repeat the stored header (customer_id,
    store_id, timestamp) and are errors when they do not. The bulk loader
    (``customers.services.transactions_bulk_import``) applies the same rules to big files.
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

    def before_import(self, dataset: Any, **kwargs: Any) -> None:
        ids = [str(value or "").strip() for value in dataset["transaction_id"]]
        self._line_no: dict[int, int] = {}
        self._first_row: dict[str, int] = {}
        counts: dict[str, int] = {}
        for number, tid in enumerate(ids, 1):
            counts[tid] = counts.get(tid, 0) + 1
            self._line_no[number] = counts[tid]
            self._first_row.setdefault(tid, number)
        scoped = (
            Transaction.objects.for_retailer(self.retailer)
            if self.retailer is not None
            else Transaction.objects.none()  # what retailer=None matched: nothing
        )
        stored = scoped.filter(external_id__in=set(ids))
        self._stored = {t.external_id: t for t in stored.select_related("customer", "store")}
        self._stored_pks = {t.pk for t in self._stored.values()}
        self._headers: dict[str, tuple[dict[str, Any], dict[str, str]]] = {}  # first rows
        self._created: dict[str, Transaction] = {}

    def import_instance(self, instance: models.Model, row: dict[str, Any], **kwargs: Any) -> None:
        line = cast(TransactionLine, instance)  # Meta.model
        number = kwargs["row_number"]
        errors: dict[str, list[Any]] = {}
        header: dict[str, Any] = {}  # the cells read; a cell that cannot be read is left out
        raw = {column: str(row.get(column) or "").strip() for column in HEADER_FIELDS}
        for column in HEADER_FIELDS:
            try:
                header[column] = self.fields[column].clean(row)
            except ValueError as exc:
                errors[column] = [str(exc)]
        tid = header.get("transaction_id") or ""
        stored = self._stored.get(tid)
        if stored is not None:
            line.transaction = stored
            line_errors = self._line_errors(line, row, **kwargs)
            differing = self._differing((header, {}), (self._header_of(stored), {}))
            if not differing and not errors:
                return  # the stored basket stays as it is: skip_row() skips this row
            for column in differing:
                errors[column] = [f"transaction {tid} already exists with another {column}"]
            raise ValidationError({**line_errors, **errors})
        first = self._first_row.get(tid, number)
        if first == number:
            self._headers[tid] = (header, raw)
        elif tid:  # rows without a transaction_id are errors already, not one basket
            for column in self._differing((header, raw), self._headers.get(tid, ({}, {}))):
                where = self.spreadsheet_row(first)
                errors[column] = [f"differs from row {where}, the first row of transaction {tid}"]
        line.transaction = self._created.get(tid) or Transaction(
            retailer=self.retailer,
            external_id=tid,
            customer=header.get("customer_id"),
            store=header.get("store_id"),
            # None when the cell could not be read: the row then fails and is never saved.
            timestamp=header.get("timestamp"),  # type: ignore[misc]
        )
        line.line_no = self._line_no[number]
        errors = {**self._line_errors(line, row, **kwargs), **errors}
        if errors:
            raise ValidationError(errors)

    def _line_errors(self, instance: Any, row: dict[str, Any], **kwargs: Any) -> dict[str, list]:
        """Read the line's own cells (sku, quantity, amount, discount) into ``instance``."""
        try:
            super().import_instance(instance, row, **kwargs)
        except ValidationError as exc:
            return exc.update_error_dict({})
        return {}

    @staticmethod
    def _header_of(transaction: Transaction) -> dict[str, Any]:
        return {
            "customer_id": transaction.customer,
            "store_id": transaction.store,
            "timestamp": transaction.timestamp,
        }

    @staticmethod
    def _differing(mine: tuple[dict, dict], other: tuple[dict, dict]) -> list[str]:
        """Header columns whose values differ: compared as read (a timestamp's instant, a
        customer), or as cell text where a cell could not be read; ``(values, texts)`` pairs."""
        (values, texts), (other_values, other_texts) = mine, other
        differing = []
        for column in HEADER_COLUMNS:
            if column in values and column in other_values:
                if values[column] != other_values[column]:
                    differing.append(column)
            elif column in texts and column in other_texts and texts[column] != other_texts[column]:
                differing.append(column)
        return differing

    def row_checks(self, instance: models.Model) -> dict[str, str]:
        line = cast(TransactionLine, instance)  # Meta.model
        return line_sign_problems(line.quantity, line.amount, line.discount)

    def skip_row(self, instance: Any, original: Any, row: Any, import_validation_errors=None):
        return not import_validation_errors and instance.transaction_id in self._stored_pks

    def validate_instance(self, instance: Any, import_validation_errors=None, validate_unique=True):
        errors = dict(import_validation_errors or {})
        header = instance.transaction
        if header.pk in self._stored_pks:  # a conflict with a stored basket: already an error
            raise ValidationError(errors)
        if header.pk is None:  # a new basket: its first valid row creates it
            try:
                header.full_clean(exclude=[HEADER_FIELDS[c] for c in errors if c in HEADER_FIELDS])
            except ValidationError as exc:
                for key, messages in exc.message_dict.items():
                    errors.setdefault(HEADER_COLUMN_OF.get(key, key), []).extend(messages)
        try:
            # The basket is checked above; the sign constraint is row_checks()'s message.
            instance.full_clean(
                exclude=[*errors, "transaction"], validate_unique=False, validate_constraints=False
            )
        except ValidationError as exc:
            errors = exc.update_error_dict(errors)
        if errors:
            raise ValidationError(errors)

    def before_save_instance(self, instance: Any, row: Any, **kwargs: Any) -> None:
        header = instance.transaction
        if header.pk is None:
            header.save()
            self._created[header.external_id] = header
        instance.transaction = header

    def dehydrate_timestamp(self, line: TransactionLine) -> str:
        transaction = line.transaction
        return transaction.timestamp.astimezone(transaction.retailer.tz).isoformat()
