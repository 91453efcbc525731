"""The retailers app's plain SQL, scoped to a retailer by :func:`loyalty_site.sql.retailer_sql`.

Only what the ORM pays too much for: looking up thousands of natural keys of an import at once.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db import connection, models

from loyalty_site.sql import RetailerSQL, retailer_sql


def keyed_rows_sql(model: type[models.Model], columns: Sequence[str], key: str) -> RetailerSQL:
    """``columns`` of the retailer's rows of ``model`` whose ``key`` column is in ``%(keys)b``
    (one array parameter in psycopg's binary format: run it on a server-bound cursor,
    ``retailers.contract_checks.keyed_rows``)."""
    quote = connection.ops.quote_name
    selected = ", ".join(f"t.{quote(name)}" for name in columns)
    return retailer_sql(
        f"SELECT {selected} FROM {{table}} t "  # noqa: S608 - names come from the model
        f"WHERE {{retailer:t}} AND t.{quote(key)} = ANY(%(keys)b)",
        table=model,
    )
