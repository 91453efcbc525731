"""The base of every contract resource (:class:`BaseResource`) and its result and loader.

See :mod:`retailers.resources` for what the base guarantees.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, ClassVar

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import models
from import_export import resources
from import_export.fields import Field
from import_export.instance_loaders import ModelInstanceLoader
from import_export.results import Result

from loyalty_site.safe_csv import neutralise_formula
from retailers.exceptions import RowError
from retailers.models import Retailer
from retailers.resources.widgets import Cell, spreadsheet_row

#: A background import reports its progress every this many rows.
PROGRESS_EVERY = 250


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
