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

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any, ClassVar

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import models
from import_export import resources, widgets
from import_export.fields import Field
from import_export.instance_loaders import ModelInstanceLoader
from import_export.results import Result

from loyalty_site.safe_csv import neutralise_formula
from retailers.exceptions import RowError
from retailers.models import (
    CompetitorPrice,
    InventoryLevel,
    Product,
    Retailer,
    Store,
)
from retailers.tenancy import RetailerOwned

#: A background import reports its progress every this many rows.
PROGRESS_EVERY = 250

_INTEGER = re.compile(r"[+-]?\d+", re.ASCII)
_DECIMAL = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)", re.ASCII)
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_TRUE = {"1", "true", "yes", "y", "t"}
_FALSE = {"0", "false", "no", "n", "f"}


def spreadsheet_row(row_numbers: Sequence[int] | None, number: int) -> int:
    """Spreadsheet row (header = row 1) of import-export's 1-based data row ``number``.

    ``row_numbers`` (from :func:`retailers.services.read_csv`) accounts for skipped blank rows.
    """
    if row_numbers is not None and 0 < number <= len(row_numbers):
        return row_numbers[number - 1]
    return number + 1


class Cell(widgets.Widget):
    """Base of the contract's cell readers.

    Surrounding whitespace is ignored; an empty cell is ``empty`` (or "a value is required");
    anything unreadable raises ``ValueError``, which import-export reports on the cell's column.
    ``is_text`` marks cells whose exported value is free text (and so formula-neutralised).
    """

    empty: Any = None
    is_text = False

    def __init__(self, *, required: bool = False) -> None:
        super().__init__(coerce_to_string=True)
        self.required = required
        self.retailer: Retailer | None = None
        self.column = ""

    def bind(self, *, retailer: Retailer | None, column: str) -> None:
        """Attach the importing retailer and the CSV column name (done per resource instance)."""
        self.retailer = retailer
        self.column = column

    def clean(self, value: Any, row: Any = None, **kwargs: Any) -> Any:
        text = "" if value is None else str(value).strip()
        if not text:
            if self.required:
                raise ValueError("a value is required")
            return self.empty
        return self.parse(text)

    def parse(self, text: str) -> Any:
        return text

    def render(self, value: Any, obj: Any = None, **kwargs: Any) -> Any:
        return "" if value is None else str(value)


class TextCell(Cell):
    empty = ""
    is_text = True


class NumberCell(Cell):
    """A number cell: exported as the number itself, so that the safe CSV writer keeps a
    negative amount as it is (text starting with ``-`` would be neutralised)."""

    def render(self, value: Any, obj: Any = None, **kwargs: Any) -> Any:
        return "" if value is None else value


class IntegerCell(NumberCell):
    def parse(self, text: str) -> int:
        if not _INTEGER.fullmatch(text):
            raise ValueError(f"expected a whole number, got {text!r}")
        return int(text)


class DecimalCell(NumberCell):
    """A plain decimal number ("12.50", "-1"): no exponent, thousands separator or float."""

    def parse(self, text: str) -> Decimal:
        if not _DECIMAL.fullmatch(text):
            raise ValueError(f"expected a number such as 12.50, got {text!r}")
        return Decimal(text)


class DateCell(Cell):
    def parse(self, text: str) -> dt.date:
        try:
            if _DATE.fullmatch(text):
                return dt.date.fromisoformat(text)
        except ValueError:
            pass
        raise ValueError(f"expected a date as YYYY-MM-DD, got {text!r}")

    def render(self, value: Any, obj: Any = None, **kwargs: Any) -> str:
        return value.isoformat() if value else ""


class TimestampCell(Cell):
    """ISO 8601 date and time; without an offset it is in the retailer's time zone."""

    def parse(self, text: str) -> dt.datetime:
        try:
            if len(text) > 10:
                value = dt.datetime.fromisoformat(text)
                if value.tzinfo is None:
                    value = value.replace(tzinfo=self.tz)
                return value
        except ValueError:
            pass
        raise ValueError(
            f"expected an ISO 8601 timestamp such as 2024-06-01T10:15:00, got {text!r}"
        )

    @property
    def tz(self) -> dt.tzinfo:
        return self.retailer.tz if self.retailer is not None else dt.UTC

    def render(self, value: Any, obj: Any = None, **kwargs: Any) -> str:
        return value.astimezone(self.tz).isoformat() if value else ""


class BooleanCell(Cell):
    empty = False

    def parse(self, text: str) -> bool:
        lowered = text.lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        raise ValueError(f"expected 1/0, true/false or yes/no, got {text!r}")

    def render(self, value: Any, obj: Any = None, **kwargs: Any) -> str:
        return "" if value is None else ("true" if value else "false")


class RetailerKey(Cell):
    """A natural key (SKU, store id, customer id, code) of a row of the importing retailer.

    Looked up only inside that retailer, so another retailer's id is "unknown". ``create`` (a
    callable ``(retailer=..., key=...) -> row``) makes unknown keys instead of rejecting them.
    """

    is_text = True

    def __init__(
        self,
        model: type[RetailerOwned],
        field: str,
        *,
        required: bool = False,
        create: Callable[..., RetailerOwned] | None = None,
    ) -> None:
        super().__init__(required=required)
        self.model = model
        self.field = field
        self.create = create
        self._cache: dict[str, RetailerOwned] = {}

    def preload(self, keys: Sequence[str], *, chunk: int = 5_000) -> None:
        """Look ``keys`` up in one query per ``chunk`` (instead of one per row when parsed)."""
        if self.retailer is None:
            return
        rows = self.model.objects.for_retailer(self.retailer)
        for start in range(0, len(keys), chunk):
            for found in rows.filter(**{f"{self.field}__in": keys[start : start + chunk]}):
                self._cache[str(getattr(found, self.field))] = found

    def loaded(self, key: str) -> RetailerOwned | None:
        """The row of ``key`` if it was looked up already."""
        return self._cache.get(key)

    def parse(self, text: str) -> RetailerOwned:
        if text not in self._cache and self.retailer is not None:
            rows = self.model.objects.for_retailer(self.retailer)
            found = rows.filter(**{self.field: text}).first()
            if found is None and self.create is not None:
                found = self.create(retailer=self.retailer, key=text)
            if found is not None:
                self._cache[text] = found
        if text not in self._cache:
            raise ValueError(f"unknown {self.column} {text!r}")
        return self._cache[text]

    def render(self, value: Any, obj: Any = None, **kwargs: Any) -> str:
        return "" if value is None else str(getattr(value, self.field))


class RetailerInstanceLoader(ModelInstanceLoader):
    """Finds the row to update by the natural key, inside the retailer (``get_queryset``).

    A key cell that cannot be read (e.g. an unknown SKU) means "new row": the cell's error is
    then reported, with the row's other errors, when the fields are imported.
    """

    def get_instance(self, row: dict[str, Any]) -> models.Model | None:
        try:
            return super().get_instance(row)
        except ValueError:
            return None


class ContractResult(Result):
    """An import-export result that lists its problems as :class:`RowError`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.file_errors: list[RowError] = []
        self.row_numbers: Sequence[int] | None = None
        self.error_columns: dict[str, str] = {}

    def has_errors(self) -> bool:
        return bool(self.file_errors) or super().has_errors()

    def row_error_list(self) -> list[RowError]:
        """Every problem of the import, ordered by row."""
        errors = list(self.file_errors)
        errors += [RowError(1, "", str(error.error)) for error in self.base_errors]
        for invalid in self.invalid_rows:
            row = spreadsheet_row(self.row_numbers, invalid.number)
            for key, messages in invalid.error_dict.items():
                column = self.error_columns.get(key, "")
                prefix = "" if column or key == NON_FIELD_ERRORS else f"{key}: "
                errors += [RowError(row, column, prefix + message) for message in messages]
        for error_row in self.error_rows:
            row = spreadsheet_row(self.row_numbers, error_row.number)
            errors += [RowError(row, "", str(error.error)) for error in error_row.errors]
        return sorted(errors, key=lambda error: error.row)


class BaseResource(resources.ModelResource):
    """Base of every contract resource: one retailer, strict cells, RowErrors, safe exports.

    Subclasses declare one ``Field`` per contract column (``Meta.fields`` lists the columns in
    contract order) and ``Meta.import_id_fields`` (the natural key).
    """

    #: Columns a file may leave out (the others must all be in the header).
    optional_columns: ClassVar[tuple[str, ...]] = ()
    #: Reject a second row with the same natural key in one file.
    unique_rows: ClassVar[bool] = True
    #: Relations exported cells read (avoids one query per row).
    export_select_related: ClassVar[tuple[str, ...]] = ()

    class Meta:
        clean_model_instances = True
        skip_unchanged = True
        report_skipped = True
        use_transactions = True
        instance_loader_class = RetailerInstanceLoader

    def __init__(
        self,
        *,
        retailer: Retailer | None = None,
        progress: Callable[[int, int | None], None] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.retailer = retailer
        self.progress = progress
        self._total_rows = 0
        self._seen_keys: dict[tuple[str, ...], int] = {}
        self._row_numbers: Sequence[int] | None = None
        for field in self.fields.values():
            if isinstance(field.widget, Cell):
                field.widget.bind(retailer=retailer, column=field.column_name)

    @classmethod
    def get_result_class(cls) -> type[ContractResult]:
        return ContractResult

    @classmethod
    def contract_columns(cls) -> list[str]:
        """The file's columns in contract order."""
        return [cls.fields[name].column_name for name in cls._meta.fields]

    @classmethod
    def header_problems(cls, headers: Sequence[str]) -> list[RowError]:
        """Missing required columns and unknown columns of a header row (row 1)."""
        columns = cls.contract_columns()
        expected = ", ".join(columns)
        problems = [
            RowError(1, column, "required column is missing")
            for column in columns
            if column not in headers and column not in cls.optional_columns
        ]
        problems += [
            RowError(1, header, f"unknown column (the columns are: {expected})")
            for header in headers
            if header not in columns
        ]
        return problems

    def get_queryset(self) -> models.QuerySet:
        manager = self._meta.model.objects
        return manager.for_retailer(self.retailer) if self.retailer else manager.none()

    def init_instance(self, row: dict[str, Any] | None = None) -> models.Model:
        return self._meta.model(retailer=self.retailer)

    def spreadsheet_row(self, number: int) -> int:
        return spreadsheet_row(self._row_numbers, number)

    def error_columns(self) -> dict[str, str]:
        """Maps error keys (columns, resource attributes, model fields) to CSV columns."""
        mapping: dict[str, str] = {}
        for field in self.fields.values():
            attribute = field.attribute or ""
            for key in (field.column_name, attribute, attribute.split("__")[0]):
                mapping.setdefault(key, field.column_name)
        return mapping

    def import_data_inner(self, dataset: Any, *args: Any, **kwargs: Any) -> ContractResult:
        problems = self.header_problems(dataset.headers or [])
        if self.retailer is None:
            problems.insert(0, RowError(1, "", "no retailer chosen for the import"))
        self._row_numbers = getattr(dataset, "row_numbers", None)
        self._total_rows = len(dataset)
        self._seen_keys = {}
        if problems:
            result = self.get_result_class()()
            result.total_rows = len(dataset)
            result.file_errors = problems
        else:
            result = super().import_data_inner(dataset, *args, **kwargs)
        result.row_numbers = self._row_numbers
        result.error_columns = self.error_columns()
        return result

    def import_row(self, row: dict[str, Any], instance_loader: Any, **kwargs: Any) -> Any:
        row_result = super().import_row(row, instance_loader, **kwargs)
        number = kwargs["row_number"]
        if self.progress is not None and number % PROGRESS_EVERY == 0:
            self.progress(number, self._total_rows)
        return row_result

    def import_instance(self, instance: models.Model, row: dict[str, Any], **kwargs: Any) -> None:
        errors: dict[str, list[Any]] = {}
        try:
            super().import_instance(instance, row, **kwargs)
        except ValidationError as exc:
            errors = exc.update_error_dict(errors)
        if self.unique_rows and not self._key_errors(errors):
            errors.update(self._duplicate_key_errors(row, kwargs["row_number"]))
        for column, message in self.row_checks(instance).items():
            errors.setdefault(column, []).append(message)
        if errors:
            raise ValidationError(errors)

    def row_checks(self, instance: models.Model) -> dict[str, str]:
        """Checks across cells that neither the model fields nor its constraints phrase well.

        Returns ``{column: message}``; fields whose cells failed to read are ``None`` here.
        """
        return {}

    def _key_errors(self, errors: dict[str, Any]) -> bool:
        """Whether a natural-key cell of the row could not be read (then it is no duplicate)."""
        keys = [self.fields[name] for name in self.get_import_id_fields()]
        return any(field.attribute in errors or field.column_name in errors for field in keys)

    def _duplicate_key_errors(self, row: dict[str, Any], number: int) -> dict[str, list[str]]:
        columns = [self.fields[name].column_name for name in self.get_import_id_fields()]
        key = tuple(str(row.get(column) or "").strip() for column in columns)
        first = self._seen_keys.setdefault(key, number)
        if first == number:
            return {}
        where = self.spreadsheet_row(first)
        return {columns[0]: [f"same {' + '.join(columns)} as row {where}"]}

    def after_import(self, dataset: Any, result: Any, **kwargs: Any) -> None:
        # ModelResource resets the table's id sequence to max(id) here; ids always come from the
        # sequence, and a reset could hand out ids a concurrent load already took.
        return None

    def filter_export(self, queryset: models.QuerySet, **kwargs: Any) -> models.QuerySet:
        return queryset.select_related("retailer", *self.export_select_related)

    def export_field(self, field: Field, instance: models.Model, **kwargs: Any) -> Any:
        value = super().export_field(field, instance, **kwargs)
        if isinstance(value, str) and getattr(field.widget, "is_text", True):
            return neutralise_formula(value)
        return value


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
