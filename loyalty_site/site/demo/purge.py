"""Fast removal of a demo retailer with everything it owns (millions of rows).

Django's cascade would load every row into Python first. Here each model whose foreign key to
``Retailer`` cascades gets one ``DELETE ... WHERE <retailer column> = id``, children before
parents, then the retailer row goes. That is exactly what the cascade would do as long as
nothing outside those models points at their rows; when something does (a model without a
retailer column, or a non-cascading relation), the ORM delete is used instead, which honours
every ``on_delete`` rule. The database still enforces every foreign key at commit.
"""

from __future__ import annotations

import graphlib

from django.apps import apps
from django.db import connection, models

from loyalty_site.site.demo.dbtuning import analyze
from retailers.models import Retailer

Model = type[models.Model]


def _cascades_from_retailer(model: Model) -> list[models.ForeignKey]:
    return [
        f
        for f in model._meta.concrete_fields
        if isinstance(f, models.ForeignKey)
        and f.many_to_one
        and f.related_model is Retailer
        and f.remote_field.on_delete is models.CASCADE
    ]


def purge_plan() -> tuple[list[Model], list[str]]:
    """(models to empty by retailer column, children first; relations that rule this out)."""
    existing = set(connection.introspection.table_names())
    live = [m for m in apps.get_models(include_auto_created=True) if m._meta.db_table in existing]
    owned = {m for m in live if _cascades_from_retailer(m)}
    blockers = [
        f"{m._meta.label}.{f.name}"
        for m in live
        for f in m._meta.concrete_fields
        if f.many_to_one
        and (f.related_model in owned or f.related_model is Retailer)
        and (
            m not in owned or (f.related_model is Retailer and f not in _cascades_from_retailer(m))
        )
    ]
    graph: dict[Model, set[Model]] = {m: set() for m in owned}
    for model in owned:
        for f in model._meta.concrete_fields:
            if f.many_to_one and f.related_model in owned and f.related_model is not model:
                graph[model].add(f.related_model)
    order = list(reversed(list(graphlib.TopologicalSorter(graph).static_order())))
    return order, blockers


def retailer_purge(retailer: Retailer) -> dict[str, int]:
    """Delete ``retailer`` and all its rows; returns rows deleted per table (empty when the
    ORM had to do it, see the module docstring)."""
    order, blockers = purge_plan()
    if blockers:
        retailer.delete()
        return {}
    analyze(order)  # the per-row foreign key checks of the deletes need fresh statistics
    quote = connection.ops.quote_name
    deleted: dict[str, int] = {}
    with connection.cursor() as cursor:
        for model in order:
            table = model._meta.db_table
            for f in _cascades_from_retailer(model):
                cursor.execute(
                    f"DELETE FROM {quote(table)} WHERE {quote(f.column)} = %s",  # noqa: S608
                    [retailer.pk],
                )
                deleted[table] = deleted.get(table, 0) + max(cursor.rowcount, 0)
        cursor.execute(
            f"DELETE FROM {quote(Retailer._meta.db_table)} WHERE id = %s",  # noqa: S608
            [retailer.pk],
        )
    return deleted
