"""Fast all-or-nothing import of the contract files other than transactions (stores, products,
customers, inventory, competitor prices, offers): the admin's rules at tens of thousands of rows/s.

Why not django-import-export's own ``import_data`` here: it looks every row's existing instance
and every foreign key up with a query of its own and checks each model constraint with another
query per row (``Model.validate_constraints``), which made ``import_csv products`` of 60,432 rows
take 231 s. This module keeps the resource as the one statement of the rules -- its cells read the
values, its duplicate-key rule and ``row_checks`` apply (``BaseResource.import_instance``), the
model's field validation and ``clean()`` run (``full_clean``) -- and does the rest set-wise:

* foreign keys and existing rows are loaded with one query per key column / chunk of keys;
* check constraints are evaluated on the row in Python (:func:`constraint_problems`) instead of
  one ``SELECT`` per row; uniqueness holds by construction (one row per natural key in the file,
  existing rows updated in place) and the database constraints still back it;
* new rows are written with bulk ``INSERT``\\s, changed rows with one bulk upsert by primary key.

Results and errors are those of the import-export path: ``{"rows", "new", "updated", "skipped"}``
and :class:`ImportRejected` listing every bad row with its spreadsheet row number and column.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import tablib
from django.core.exceptions import NON_FIELD_ERRORS, FieldDoesNotExist, ValidationError
from django.db import models, transaction
from django.db.models import Q

from retailers.exceptions import ImportRejected, RowError
from retailers.import_kinds import resource_class_for
from retailers.models import Retailer
from retailers.resources import BaseResource, RetailerKey, spreadsheet_row

#: Keys per ``IN (...)`` query (bounds one statement's parameters and its plan).
KEY_CHUNK = 5_000
#: Rows per INSERT / upsert statement.
WRITE_BATCH = 2_000
#: A background import reports its progress every this many rows.
PROGRESS_EVERY = 5_000

Progress = Callable[[int, int | None], None]

_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "exact": operator.eq,
    "gt": operator.gt,
    "gte": operator.ge,
    "lt": operator.lt,
    "lte": operator.le,
}


def _holds(condition: Q | tuple[str, Any], instance: models.Model) -> bool | None:
    """Whether ``condition`` holds on ``instance`` (None: a lookup this evaluator cannot read).

    SQL semantics for NULL: a comparison with NULL is unknown, and a CHECK passes when unknown.
    """
    if isinstance(condition, Q):
        results = [_holds(child, instance) for child in condition.children]
        if any(result is None for result in results):
            return None
        value = all(results) if condition.connector == Q.AND else any(results)
        return not value if condition.negated else value
    lookup, expected = condition
    name, _, kind = lookup.partition("__")
    kind = kind or "exact"
    try:
        field = instance._meta.get_field(name)
    except FieldDoesNotExist:  # a related path: Django checks it with its own query
        return None
    actual = getattr(instance, field.attname)
    if kind == "isnull":
        return (actual is None) == bool(expected)
    if kind == "in":
        return actual in expected
    if isinstance(expected, models.F):  # another column of the same row
        try:
            expected = getattr(instance, instance._meta.get_field(expected.name).attname)
        except FieldDoesNotExist:
            return None
    if kind not in _COMPARE or isinstance(expected, models.expressions.Combinable):
        return None
    if actual is None or expected is None:
        return True  # NULL makes the comparison unknown, which a CHECK lets pass
    return _COMPARE[kind](actual, expected)


def constraint_problems(instance: models.Model) -> list[str]:
    """Messages of the model's check constraints that ``instance`` breaks.

    Conditions are read in Python; one this evaluator cannot read (a related path, an expression)
    is checked by Django with its own query.
    """
    problems = []
    for constraint in instance._meta.constraints:
        if not isinstance(constraint, models.CheckConstraint):
            continue
        holds = _holds(constraint.condition, instance)
        if holds is None:
            try:
                constraint.validate(type(instance), instance)
            except ValidationError as exc:
                problems += exc.messages
        elif not holds:
            problems.append(constraint.get_violation_error_message())
    return problems


def _chunks(values: Sequence[Any], size: int = KEY_CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _preload_keys(resource: BaseResource, rows: list[dict[str, Any]]) -> None:
    """Fill every foreign-key cell's cache with the file's keys, one query per chunk of keys."""
    for field in resource.get_import_fields():
        widget = field.widget
        if not isinstance(widget, RetailerKey) or field.column_name not in rows[0]:
            continue
        widget.preload(sorted({str(row[field.column_name] or "").strip() for row in rows} - {""}))


def _key_of(resource: BaseResource, row: dict[str, Any]) -> tuple[str, ...]:
    return tuple(
        str(row.get(resource.fields[name].column_name) or "").strip()
        for name in resource.get_import_id_fields()
    )


def _existing(resource: BaseResource, rows: list[dict[str, Any]]) -> dict[tuple, models.Model]:
    """Stored rows of the retailer that the file's rows update, by natural key."""
    id_fields = [resource.fields[name] for name in resource.get_import_id_fields()]
    first = id_fields[0]
    related = [f.attribute for f in id_fields if isinstance(f.widget, RetailerKey)]
    table = resource.get_queryset().select_related(*related)
    if isinstance(first.widget, RetailerKey):
        values = sorted({_key_of(resource, row)[0] for row in rows} - {""})
        found = (first.widget.loaded(value) for value in values)
        cached = [row.pk for row in found if row is not None]
        lookup, wanted = f"{first.attribute}_id__in", cached
    else:
        lookup = f"{first.attribute}__in"
        wanted = sorted({_key_of(resource, row)[0] for row in rows} - {""})
    found: dict[tuple, models.Model] = {}
    for chunk in _chunks(wanted):
        for instance in table.filter(**{lookup: chunk}):
            found[tuple(str(f.export(instance)).strip() for f in id_fields)] = instance
    return found


def _values(instance: models.Model, names: Sequence[str]) -> tuple[Any, ...]:
    return tuple(getattr(instance, name) for name in names)


def contract_rows_import(
    *,
    retailer: Retailer,
    kind: str,
    dataset: tablib.Dataset,
    progress: Progress | None = None,
) -> dict[str, int]:
    """Import a dataset (from ``read_csv``) of ``kind`` into ``retailer``, all or nothing.

    Returns the counts of rows: ``{"rows", "new", "updated", "skipped"}`` (skipped: a stored row
    the file repeats unchanged). A header-only dataset imports nothing and returns zeros.

    Raises:
        ImportRejected: the header lacks or has unknown columns, or any row is invalid (every bad
            row is listed; nothing was written).
    """
    resource = resource_class_for(kind)(retailer=retailer)
    headers = list(dataset.headers or [])
    problems = resource.header_problems(headers)
    if problems:
        raise ImportRejected(problems)
    rows = [dict(zip(headers, values, strict=True)) for values in dataset]
    counts = {"rows": len(rows), "new": 0, "updated": 0, "skipped": 0}
    if not rows:
        return counts
    numbers = getattr(dataset, "row_numbers", None)
    with transaction.atomic():
        _preload_keys(resource, rows)
        existing = _existing(resource, rows)
        columns = resource.error_columns()
        attnames = _written_attnames(resource, headers)
        created, changed, errors = [], [], []
        for number, row in enumerate(rows, 1):
            instance = existing.get(_key_of(resource, row))
            before = _values(instance, attnames) if instance is not None else None
            instance = instance or resource.init_instance(row)
            row_errors = _row_errors(resource, instance, row, number)
            if row_errors:
                where = spreadsheet_row(numbers, number)
                for key, messages in row_errors.items():
                    column = columns.get(key, "")
                    prefix = "" if column or key == NON_FIELD_ERRORS else f"{key}: "
                    errors += [RowError(where, column, prefix + text) for text in messages]
            elif before is None:
                created.append(instance)
            elif _values(instance, attnames) != before:
                changed.append(instance)
            else:
                counts["skipped"] += 1
            if progress is not None and number % PROGRESS_EVERY == 0:
                progress(number, len(rows))
        if errors:
            raise ImportRejected(errors)
        model = type(resource.init_instance())
        model._default_manager.bulk_create(created, batch_size=WRITE_BATCH)
        if changed:
            model._default_manager.bulk_create(
                changed,
                batch_size=WRITE_BATCH,
                update_conflicts=True,
                unique_fields=["pk"],
                update_fields=attnames,
            )
    counts["new"], counts["updated"] = len(created), len(changed)
    if progress is not None:
        progress(len(rows), len(rows))
    return counts


def _written_attnames(resource: BaseResource, headers: Sequence[str]) -> list[str]:
    """Model columns the file's cells write (``product_id`` for the ``sku`` column)."""
    model = resource._meta.model
    names = []
    for field in resource.get_import_fields():
        if field.readonly or field.column_name not in headers or not field.attribute:
            continue
        names.append(model._meta.get_field(field.attribute).attname)
    return names


def _row_errors(
    resource: BaseResource, instance: models.Model, row: dict[str, Any], number: int
) -> dict[str, list[str]]:
    """The resource's and the model's problems with one row, ``{key: [message]}``."""
    errors: dict[str, Any] = {}
    try:
        resource.import_instance(instance, row, row_number=number)
    except ValidationError as exc:
        errors = exc.update_error_dict(errors)
    # Foreign keys are excluded from the field checks: Django's would query each one per row
    # (``ForeignKey.validate``), and every one here is a row this import just read from the
    # database inside the retailer (the retailer itself, or a key cell's preloaded row).
    relations = [f.name for f in instance._meta.concrete_fields if f.is_relation]
    try:
        instance.full_clean(
            exclude=[*errors, *relations], validate_unique=False, validate_constraints=False
        )
    except ValidationError as exc:
        errors = exc.update_error_dict(errors)
    if not errors:
        for message in constraint_problems(instance):
            errors.setdefault(NON_FIELD_ERRORS, []).append(message)
    return {
        key: [text for error in values for text in ValidationError(error).messages]
        for key, values in errors.items()
    }
