"""Column-wise checks of a contract file (every kind but transactions): the resource's and the
model's rules applied to whole columns instead of one model instance per row.

Hand-written because neither django-import-export nor Django validates a column at a time: both
build and ``full_clean`` one instance per row (about 100 µs a row, the cost that kept the import
under 10,000 rows/s). The rules stay where they are stated and are called, not copied:

* cells are read by the resource's own widgets (``Cell.clean``), once per distinct text (a key
  cell's keys are looked up in one query per chunk);
* model fields are checked by the field itself (``Field.clean``), once per distinct value; plain
  text that is certainly valid (short enough, no NUL, not blank where blank is refused) is not
  even passed to it;
* check constraints are evaluated on the columns (:func:`condition_holds`, SQL's NULL semantics
  as a CHECK applies them); a condition it cannot read falls back to Django's per-row check;
* the duplicate-key rule and ``row_checks`` are the resource's (``BaseResource``).

Errors come out as ``{row index: {key: [message]}}`` with the keys import-export would use (the
resource attribute, the CSV column or ``__all__``), so the caller reports them as before.
"""

from __future__ import annotations

import collections
import functools
import itertools
import operator
import re
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any, cast

import psycopg
from django.core.exceptions import NON_FIELD_ERRORS, FieldDoesNotExist, ValidationError
from django.core.validators import (
    EmailValidator,
    MaxLengthValidator,
    ProhibitNullCharactersValidator,
    validate_email,
)
from django.db import connection, models
from django.db.models import Q
from import_export.fields import Field

from retailers.models import Retailer
from retailers.queries import keyed_rows_sql
from retailers.resources import BaseResource, RetailerKey, TextCell, spreadsheet_row
from retailers.tenancy import RetailerOwned

#: ``{row index: {error key: [message]}}``, only rows with problems.
Errors = dict[int, dict[str, list[str]]]
#: ``{model field name: value per row}`` (the related row's primary key for a foreign key).
Columns = dict[str, list[Any]]

_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "exact": operator.eq,
    "gt": operator.gt,
    "gte": operator.ge,
    "lt": operator.lt,
    "lte": operator.le,
}


def _add(errors: Errors, row: int, key: str, messages: Sequence[str]) -> None:
    errors.setdefault(row, {}).setdefault(key, []).extend(messages)


def import_fields(resource: BaseResource, headers: Sequence[str]) -> list[Field]:
    """The resource fields the file's columns write (readonly and absent columns left out)."""
    return [
        field
        for field in resource.get_import_fields()
        if field.attribute and not field.readonly and field.column_name in headers
    ]


def keyed_rows(
    model: type[models.Model],
    retailer: Retailer,
    key: str,
    keys: Sequence[Any],
    names: Sequence[str],
) -> list[tuple[Any, ...]]:
    """``names`` (attribute names) of the retailer's rows of ``model`` whose ``key`` is one of
    ``keys``: one query with an array parameter (an ``IN`` list of thousands of placeholders
    costs more to build in Django and psycopg than to run), bound by the server
    (:func:`_server_bound_cursor`).
    """
    if not keys:
        return []
    column = {f.attname: str(f.column) for f in model._meta.concrete_fields}
    column["pk"] = str(model._meta.pk.column)
    query = keyed_rows_sql(model, [column[name] for name in names], column[key])
    with _server_bound_cursor() as cursor:
        cursor.execute(query.text, query.params(retailer.pk, keys=list(keys)))
        return cursor.fetchall()


def _server_bound_cursor() -> Any:
    """A Django cursor (queries counted and logged as any other) whose parameters travel apart
    from the statement, in psycopg's binary format. Django's own cursors bind on the client,
    quoting an array of 60,000 keys into the SQL text in Python: a look-up of 60,000 customers
    cost 46 ms of client CPU that way, 28 ms bound (the server's share about the same, 50 ms)."""
    connection.ensure_connection()
    raw: Any = psycopg.Cursor(connection.connection)  # the stubs type the argument as a wrapper
    if connection.queries_logged:
        return connection.make_debug_cursor(raw)
    return connection.make_cursor(raw)


def stripped(cells: Sequence[Any]) -> list[str]:
    """Each cell as trimmed text ("" for None); read_csv's cells are all text already."""
    try:
        return list(map(str.strip, cells))  # one C call per cell where every cell is text
    except TypeError:
        return ["" if cell is None else str(cell).strip() for cell in cells]


def cells_read(field: Field, cells: Sequence[Any], errors: Errors) -> list[Any]:
    """The values of one column as the field's widget reads them (None where it cannot); a
    key cell gives the related row's primary key, looked up for the whole column at once."""
    widget = field.widget
    texts = stripped(cells)
    known: dict[str, Any] = {}
    failed: dict[str, str] = {}
    if isinstance(widget, RetailerKey) and widget.retailer is not None:
        wanted = list(set(texts) - {""})
        found = keyed_rows(
            widget.model, widget.retailer, widget.field, wanted, [widget.field, "pk"]
        )
        known = {str(key): pk for key, pk in found}
    if type(widget) is TextCell:  # the cell is its text: only a required empty one fails
        values: list[Any] = texts
        if widget.required:
            failed[""] = "a value is required"
    else:
        for text in set(texts) - known.keys():
            if isinstance(widget, RetailerKey) and text and widget.create is None:
                # Looked up above: asking the widget would cost one more query per unknown key.
                failed[text] = f"unknown {field.column_name} {text!r}"
                continue
            try:  # the widget's own reading: its message, or the row it creates (bonus types)
                value = field.clean({field.column_name: text})
            except ValueError as exc:
                failed[text] = str(exc)
                continue
            known[text] = value.pk if isinstance(value, models.Model) else value
        values = list(map(known.get, texts))
    if failed:
        for row, text in enumerate(texts):
            if text in failed:
                _add(errors, row, field.attribute, [failed[text]])
                values[row] = None
    return values


def duplicate_keys(
    resource: BaseResource,
    texts: Mapping[str, Sequence[str]],
    numbers: Sequence[int] | None,
    errors: Errors,
) -> None:
    """The resource's rule: a second row with the natural key of an earlier row is an error
    (rows whose key cells could not be read take no part). ``texts``: the trimmed cells of
    each CSV column (:func:`stripped`)."""
    if not resource.unique_rows:
        return
    fields = [resource.fields[name] for name in resource.get_import_id_fields()]
    columns = [field.column_name for field in fields]
    names = {key for field in fields for key in (field.attribute, field.column_name)}
    cells = [texts[column] for column in columns]
    if len(set(zip(*cells, strict=True))) == len(cells[0]):
        return  # every key is distinct (the usual file): no row to look at one by one
    seen: dict[tuple[str, ...], int] = {}
    message = f"same {' + '.join(columns)} as row"
    for row, key in enumerate(zip(*cells, strict=True)):
        if row in errors and names & errors[row].keys():
            continue
        first = seen.setdefault(key, row)
        if first != row:
            _add(errors, row, columns[0], [f"{message} {spreadsheet_row(numbers, first + 1)}"])


def row_checks(resource: BaseResource, columns: Columns, errors: Errors) -> None:
    """The resource's ``row_checks`` on each row (only when the resource has any)."""
    if type(resource).row_checks is BaseResource.row_checks:
        return
    names = [f.name for f in resource._meta.model._meta.concrete_fields]
    rows = len(next(iter(columns.values()), []))
    # One light read-only row per line (the model's fields; None where the file has no column).
    view = collections.namedtuple("RowView", names)  # type: ignore[misc]  # names from the model
    values = [columns[name] if name in columns else itertools.repeat(None, rows) for name in names]
    check = cast(Callable[[Any], dict[str, str]], resource.row_checks)  # reads attributes only
    make = functools.partial(tuple.__new__, view)  # view._make without its Python frame
    for row, problems in enumerate(map(check, map(make, zip(*values, strict=True)))):
        if problems:
            for column, message in problems.items():
                _add(errors, row, column, [message])


#: Addresses Django's ``EmailValidator`` certainly accepts (a plain dot-atom at a plain domain);
#: any other address is passed to the validator itself.
_PLAIN_EMAIL = re.compile(
    r"[a-z0-9_+-]+(?:\.[a-z0-9_+-]+)*@(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}",
    re.IGNORECASE | re.ASCII,
)


def _certainly_valid_text(field: models.Field) -> Callable[[Any], bool] | None:
    """A cheap test that passes only text the field would accept (None: no such test)."""
    plain: tuple[type, ...] = (MaxLengthValidator, ProhibitNullCharactersValidator)
    if type(field) is models.EmailField:
        plain = (*plain, EmailValidator)
    elif type(field) is not models.CharField:
        return None
    if field.choices or any(type(validator) not in plain for validator in field.validators):
        return None
    if any(isinstance(v, EmailValidator) and v != validate_email for v in field.validators):
        return None
    longest, blank = field.max_length or 0, field.blank
    email = _PLAIN_EMAIL.fullmatch if type(field) is models.EmailField else None

    def valid(value: Any) -> bool:
        return (
            type(value) is str
            and len(value) <= longest
            and (blank or value != "")
            and "\x00" not in value
            and (email is None or email(value) is not None)
        )

    return valid


def _column_valid(field: models.Field, values: Sequence[Any]) -> bool:
    """Whether every value of the column passes the field's checks, tested on the column as a
    whole (text) or once per distinct value; False says only "look row by row"."""
    if type(field) in (models.CharField, models.EmailField) and _certainly_valid_text(field):
        if set(map(type, values)) != {str}:
            return False
        email = _PLAIN_EMAIL.fullmatch if type(field) is models.EmailField else None
        return (
            max(map(len, values), default=0) <= (field.max_length or 0)
            and (field.blank or "" not in values)
            and "\x00" not in "".join(values)
            and (email is None or all(map(email, filter(None, values))))
        )
    present = [value for value in values if value is not None]
    distinct: set[Any] = set(present)
    if any(isinstance(value, Decimal) for value in distinct):  # 1.0 == 1.000: keep the places
        distinct = {Decimal(text) for text in set(map(str, present))}
    if len(present) < len(values):
        distinct.add(None)
    for value in distinct:
        if field.blank and value in field.empty_values:
            continue
        try:
            field.clean(value, None)
        except ValidationError:
            return False
    return True


def field_values_checked(field: models.Field, values: Sequence[Any], errors: Errors) -> None:
    """The model field's own checks (``Field.clean``) on every value, as ``full_clean`` runs them:
    not on rows whose cell for it failed, nor on empty values of a field that may be blank."""
    if _column_valid(field, values):
        return
    quick = _certainly_valid_text(field)
    verdicts: dict[Any, list[str]] = {}
    for row, value in enumerate(values):
        if row in errors and field.name in errors[row]:
            continue
        if field.blank and value in field.empty_values:
            continue
        if quick is not None and quick(value):
            continue
        # Decimals equal in value may differ in places (1.0 vs 1.000): key them by their text.
        key = (type(value), str(value)) if isinstance(value, Decimal) else value
        if key not in verdicts:
            try:
                field.clean(value, None)
                verdicts[key] = []
            except ValidationError as exc:
                verdicts[key] = exc.messages
        if verdicts[key]:
            _add(errors, row, field.name, verdicts[key])


def _column(model: type[models.Model], columns: Columns, name: str) -> list[Any] | None:
    try:
        field = model._meta.get_field(name)
    except FieldDoesNotExist:
        return None
    if field.name not in columns:
        return None
    return columns[field.name]


def condition_holds(
    condition: Q | tuple[str, Any], model: type[models.Model], columns: Columns, rows: int
) -> list[bool] | None:
    """Whether ``condition`` holds on each row (None: a lookup this evaluator cannot read).

    As the database's CHECK: a comparison with NULL does not fail the row.
    """
    if isinstance(condition, Q):
        children = cast(list[Q | tuple[str, Any]], condition.children)
        parts = [condition_holds(child, model, columns, rows) for child in children]
        if any(part is None for part in parts):
            return None
        join = all if condition.connector == Q.AND else any
        held = list(map(join, zip(*cast(list[list[bool]], parts), strict=True)))
        return list(map(operator.not_, held)) if condition.negated else held
    lookup, expected = condition
    name, _, kind = lookup.partition("__")
    kind = kind or "exact"
    actual = _column(model, columns, name)
    if actual is None:
        return None
    if kind == "isnull":
        return [(value is None) == bool(expected) for value in actual]
    if kind == "in":
        return [value in expected for value in actual]
    if isinstance(expected, models.F):
        others = _column(model, columns, expected.name)  # type: ignore[attr-defined]  # F.name
    elif kind in _COMPARE and not isinstance(expected, models.expressions.Combinable):
        others = [expected] * rows
    else:
        return None
    if others is None or kind not in _COMPARE:
        return None
    compare = _COMPARE[kind]
    if None not in actual and None not in others:  # no NULL: compared in C, row by row
        return list(map(compare, actual, others))
    return [
        True if a is None or b is None else compare(a, b)
        for a, b in zip(actual, others, strict=True)
    ]


def constraints_checked(
    model: type[models.Model],
    columns: Columns,
    rows: int,
    errors: Errors,
    instance: Callable[[int], models.Model],
) -> None:
    """The model's check constraints on every row that has no other problem; a condition
    :func:`condition_holds` cannot read is checked by Django on ``instance(row)``."""
    valid = [row for row in range(rows) if row not in errors]
    for constraint in model._meta.constraints:
        if not isinstance(constraint, models.CheckConstraint):
            continue
        condition = cast(Q | tuple[str, Any], constraint.condition)
        holds = condition_holds(condition, model, columns, rows)
        for row in valid:
            if holds is None:
                try:
                    constraint.validate(model, instance(row))
                except ValidationError as exc:
                    _add(errors, row, NON_FIELD_ERRORS, exc.messages)
            elif not holds[row]:
                message = str(constraint.get_violation_error_message())
                _add(errors, row, NON_FIELD_ERRORS, [message])


def model_clean_checked(
    model: type[models.Model], rows: int, errors: Errors, instance: Callable[[int], models.Model]
) -> None:
    """``Model.clean()`` of each row without field problems, unless it is only the tenancy
    check (links to another retailer's rows), which holds by construction: every key cell looks
    rows up inside the importing retailer."""
    if model.clean is RetailerOwned.clean or model.clean is models.Model.clean:
        return
    for row in range(rows):
        if row in errors:
            continue
        try:
            instance(row).clean()
        except ValidationError as exc:
            for key, messages in exc.update_error_dict({}).items():
                _add(errors, row, key, ValidationError(messages).messages)
