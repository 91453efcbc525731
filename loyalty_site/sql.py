"""Plain SQL scoped to one retailer: the one place that writes the tenant predicate.

The few statements the ORM cannot express or pays too much for (the tills' hot paths, the
optimizer's bulk reads streamed with ``COPY``) live in one query module per app
(``campaigns/queries.py``, ``optimizer/queries.py``), each built by :func:`retailer_sql` from a
template in which

* ``{name}`` is the quoted table of the model passed as ``name=Model``;
* ``{retailer:b}`` is the predicate ``b.retailer_id = %(retailer_id)s`` on alias ``b``
  (``{retailer}``: the unqualified column, for a single-table ``UPDATE``);
* ``{retailer_id}`` is the retailer's id as a value (the ``retailer_id`` column of an
  ``INSERT``);
* other values are named parameters (``%(code)s``); the retailer's id is bound by
  :meth:`RetailerSQL.params` only, from the retailer the caller names.

A template without one of these markers, or with a hand-written ``retailer_id =`` predicate or
``%(retailer_id)s`` parameter, is refused when the module is imported, so a statement cannot reach
another retailer's rows by forgetting (or mistyping) its tenant filter. The ORM side has the same
rule in :class:`retailers.tenancy.RetailerOwned` (``for_retailer``). Hand-written because it is a
dozen lines of string substitution over our own templates; a SQL builder library would replace the
statements, not just their scoping.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from django.db import connection, models

#: The parameter every scoped statement binds to the retailer's id.
RETAILER_PARAM = "retailer_id"
_SCOPE = re.compile(r"\{retailer(?::(\w+))?\}")
_VALUE = "{retailer_id}"
_TABLE = re.compile(r"\{(\w+)\}")
_HAND_WRITTEN = re.compile(r"retailer_id\s*(=|<>|!=|\bIN\b)|%\(retailer_id\)s", re.IGNORECASE)


@dataclass(frozen=True)
class RetailerSQL:
    """A statement scoped to one retailer: its ``text`` and the binding of its parameters."""

    text: str

    def params(self, retailer_id: int, **values: Any) -> dict[str, Any]:
        """The parameters of one execution: ``values`` plus the retailer's id."""
        if RETAILER_PARAM in values:
            raise TypeError(f"{RETAILER_PARAM} is bound from the retailer_id argument only")
        return {**values, RETAILER_PARAM: retailer_id}


def retailer_sql(template: str, **tables: type[models.Model]) -> RetailerSQL:
    """Build a retailer-scoped statement from ``template`` (see the module docstring).

    Raises:
        ValueError: the template has no retailer marker, or writes its own ``retailer_id``
            predicate or parameter.
        KeyError: a ``{name}`` has no model among ``tables``.
    """
    if not _SCOPE.search(template) and _VALUE not in template:
        raise ValueError(f"statement is not scoped to a retailer: {template.strip()[:80]!r}")
    if _HAND_WRITTEN.search(_SCOPE.sub("", template.replace(_VALUE, ""))):
        raise ValueError(f"write {{retailer:alias}}, not a retailer_id predicate: {template!r}")

    def scope(match: re.Match[str]) -> str:
        column = f"{match[1]}.{RETAILER_PARAM}" if match[1] else RETAILER_PARAM
        return f"{column} = %({RETAILER_PARAM})s"

    def table(match: re.Match[str]) -> str:
        return table_name(tables[match[1]])

    scoped = _SCOPE.sub(scope, template).replace(_VALUE, f"%({RETAILER_PARAM})s")
    return RetailerSQL(_TABLE.sub(table, scoped))


def table_name(model: type[models.Model]) -> str:
    """The quoted table name of ``model``."""
    return connection.ops.quote_name(model._meta.db_table)
