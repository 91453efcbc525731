"""Fast all-or-nothing import of the contract files other than transactions (stores, products,
customers, inventory, competitor prices, offers): the admin's rules at tens of thousands of rows/s.

Why not django-import-export's own ``import_data`` here: it looks every row's existing instance
and every foreign key up with a query of its own and checks each model constraint with another
query per row (``Model.validate_constraints``), which made ``import_csv products`` of 60,432 rows
take 231 s; even one ``full_clean`` per row keeps an import under 10,000 rows/s. This module
keeps the resource and the model as the statement of the rules and applies them column by
column (:mod:`retailers.contract_checks`), then works set-wise:

* foreign keys and existing rows are loaded with one query per key column / chunk of keys, the
  existing rows as plain values (no model instances);
* uniqueness holds by construction (one row per natural key in the file, existing rows updated
  in place) and the database constraints still back it;
* new rows are written with one ``COPY``, changed rows
  with one ``COPY`` into a temporary table and one ``UPDATE ... FROM`` it; PostgreSQL's foreign
  key triggers stay on (the keys were resolved set-wise above, so they never fail in practice).

The rows are written with psycopg's ``COPY`` (:func:`_copy`), without pyarrow, numpy or pandas:
their imports alone cost a quarter of an ``import_csv`` of 60,000 rows.

Results and errors are those of the import-export path: ``{"rows", "new", "updated", "skipped"}``
and :class:`ImportRejected` listing every bad row with its spreadsheet row number and column.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from operator import itemgetter
from typing import Any

import tablib
from django.core.exceptions import NON_FIELD_ERRORS
from django.db import connection, models, transaction
from django.utils import timezone
from psycopg.types.json import Jsonb

from loyalty_site.collector import collector_paused
from retailers.contract_checks import (
    Columns,
    Errors,
    cells_read,
    constraints_checked,
    duplicate_keys,
    field_values_checked,
    import_fields,
    keyed_rows,
    model_clean_checked,
    row_checks,
    stripped,
)
from retailers.exceptions import ImportRejected, RowError
from retailers.import_kinds import resource_class_for
from retailers.models import Retailer
from retailers.resources import BaseResource, spreadsheet_row

#: From this many written rows on, the table's planner statistics are refreshed with the write
#: (the next import looks its keys up with them; autovacuum may lag or be off).
ANALYZE_FROM = 10_000
#: Name of the temporary table the changed rows go through.
STAGE = "contract_import_stage"

Progress = Callable[[int, int | None], None]


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
    total = len(dataset)
    counts = {"rows": total, "new": 0, "updated": 0, "skipped": 0}
    if not total:
        return counts
    numbers = getattr(dataset, "row_numbers", None)
    model = resource._meta.model
    with collector_paused(), transaction.atomic():  # a dataset's worth of rows: see its module
        columns, errors = _checked(resource, dataset, headers, numbers)
        if errors:
            raise ImportRejected(_row_errors(resource, errors, numbers))
        if progress is not None:
            progress(total // 2, total)  # read and checked; what is left is the writing
        fields = [f for f in model._meta.concrete_fields if f.name in columns]
        written = [field.attname for field in fields]
        values = list(zip(*(columns[f.name] for f in fields), strict=True))
        stored = _stored(resource, columns, written)
        created, changed = [], []
        for row, key in enumerate(_keys(resource, columns)):
            found = stored.get(key)
            if found is None:
                created.append(row)
            elif found[1] != values[row]:
                changed.append((found[0], row))
        _insert(model, retailer, columns, created)
        _update(model, written, values, changed)
        if len(created) + len(changed) >= ANALYZE_FROM:
            with connection.cursor() as cursor:  # as loyalty_site.bulk.analyze, without pyarrow
                cursor.execute(f"ANALYZE {connection.ops.quote_name(model._meta.db_table)}")
    counts["new"], counts["updated"] = len(created), len(changed)
    counts["skipped"] = total - len(created) - len(changed)
    if progress is not None:
        progress(total, total)
    return counts


def _checked(
    resource: BaseResource, dataset: tablib.Dataset, headers: list[str], numbers: Any
) -> tuple[Columns, Errors]:
    """Every rule of the resource and the model on the file; ``(columns, errors)``."""
    model = resource._meta.model
    errors: Errors = {}
    columns: Columns = {}
    # Transposed once (``dataset[column]`` costs a Python call per cell, ``dataset[:]`` one per
    # row) and trimmed once for both the widgets and the duplicate-key rule.
    texts = {
        header: stripped(cells)
        for header, cells in zip(headers, zip(*dataset[:], strict=True), strict=True)
    }
    for field in import_fields(resource, headers):
        columns[field.attribute] = cells_read(field, texts[field.column_name], errors)
    duplicate_keys(resource, texts, numbers, errors)
    row_checks(resource, columns, errors)
    for field in model._meta.concrete_fields:
        if not field.is_relation and field.name in columns:
            field_values_checked(field, columns[field.name], errors)

    def instance(row: int) -> models.Model:
        names = {field.name: field.attname for field in model._meta.concrete_fields}
        values = {names[name]: column[row] for name, column in columns.items()}
        return model(retailer=resource.retailer, **values)

    model_clean_checked(model, len(dataset), errors, instance)
    constraints_checked(model, columns, len(dataset), errors, instance)
    return columns, errors


def _row_errors(resource: BaseResource, errors: Errors, numbers: Any) -> list[RowError]:
    """The problems as :class:`RowError` (spreadsheet row, CSV column), ordered by row."""
    columns = resource.error_columns()
    found = []
    for row in sorted(errors):
        where = spreadsheet_row(numbers, row + 1)
        for key, messages in errors[row].items():
            column = columns.get(key, "")
            prefix = "" if column or key == NON_FIELD_ERRORS else f"{key}: "
            found += [RowError(where, column, prefix + text) for text in messages]
    return found


def _keys(resource: BaseResource, columns: Columns) -> list[tuple[Any, ...]]:
    """The natural key of each row, as stored (related rows as primary keys)."""
    names = [resource.fields[name].attribute for name in resource.get_import_id_fields()]
    return list(zip(*(columns[name] for name in names), strict=True))


def _stored(
    resource: BaseResource, columns: Columns, written: Sequence[str]
) -> dict[tuple[Any, ...], tuple[int, tuple[Any, ...]]]:
    """``{natural key: (primary key, written values)}`` of the retailer's rows the file names."""
    model = resource._meta.model
    names = [resource.fields[name].attribute for name in resource.get_import_id_fields()]
    keys = [model._meta.get_field(name).attname for name in names]
    wanted = sorted(set(columns[names[0]]) - {None})
    retailer = resource.retailer
    assert retailer is not None  # noqa: S101 - contract_rows_import binds it
    rows = keyed_rows(model, retailer, keys[0], wanted, ["pk", *keys, *written])
    key, pk, stored = (  # rows are (pk, *keys, *written): sliced in C, not row by row
        itemgetter(slice(1, 1 + len(keys))),
        itemgetter(0),
        itemgetter(slice(1 + len(keys), None)),
    )
    found = zip(map(pk, rows), map(stored, rows), strict=True)
    return dict(zip(map(key, rows), found, strict=True))


def _copyable(values: Sequence[Any]) -> Sequence[Any]:
    """A column as psycopg's ``COPY`` takes it: a JSON field's dicts and lists wrapped as jsonb
    (tested once per column: the other columns go as they are)."""
    if not any(issubclass(kind, dict | list) for kind in set(map(type, values))):
        return values
    return [Jsonb(value) if isinstance(value, dict | list) else value for value in values]


def _copy(cursor: Any, table: str, names: Sequence[str], columns: Sequence[Sequence[Any]]) -> None:
    """``COPY`` the rows (given column by column) into ``table``: psycopg's ``write_row`` quotes
    and escapes each value (text, NULL, dates, Decimal) in its C extension, with no pyarrow,
    numpy or pandas import."""
    quote = connection.ops.quote_name
    listed = ", ".join(quote(name) for name in names)
    with cursor.cursor.copy(f"COPY {quote(table)} ({listed}) FROM STDIN") as copy:
        write = copy.write_row
        for row in zip(*map(_copyable, columns), strict=True):
            write(row)


def _insert(
    model: type[models.Model], retailer: Retailer, columns: Columns, rows: list[int]
) -> None:
    """Write the new rows with one ``COPY``: the file's values, the model's defaults elsewhere."""
    if not rows:
        return
    now = timezone.now()
    table: dict[str, list[Any]] = {}
    for field in model._meta.concrete_fields:
        if field.primary_key:
            continue
        values: list[Any]
        if field.name == "retailer":
            values = [retailer.pk] * len(rows)
        elif field.name in columns:
            column = columns[field.name]
            values = column if len(rows) == len(column) else [column[row] for row in rows]
        elif getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
            values = [now] * len(rows)
        else:
            values = [field.get_default()] * len(rows)
        table[str(field.column)] = values
    with connection.cursor() as cursor:
        _copy(cursor, model._meta.db_table, list(table), list(table.values()))


def _update(
    model: type[models.Model],
    attnames: Sequence[str],
    values: Sequence[tuple[Any, ...]],
    changed: list[tuple[int, int]],
) -> None:
    """Write the changed rows: ``COPY`` into a temporary table, then one ``UPDATE ... FROM``."""
    if not changed:
        return
    pk = model._meta.pk.attname
    by_column = zip(*(values[row] for _, row in changed), strict=True)
    columns = {pk: [key for key, _ in changed]} | dict(zip(attnames, by_column, strict=True))
    quote = connection.ops.quote_name
    names = ", ".join(quote(name) for name in columns)
    target, stage = quote(model._meta.db_table), quote(STAGE)
    assignments = ", ".join(f"{quote(name)} = s.{quote(name)}" for name in attnames)
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TEMPORARY TABLE {stage} ON COMMIT DROP AS "  # noqa: S608
            f"SELECT {names} FROM {target} LIMIT 0"
        )
        _copy(cursor, STAGE, list(columns), list(columns.values()))
        cursor.execute(
            f"UPDATE {target} AS t SET {assignments} FROM {stage} AS s "  # noqa: S608
            f"WHERE t.{quote(pk)} = s.{quote(pk)}"
        )
        cursor.execute(f"DROP TABLE {stage}")
