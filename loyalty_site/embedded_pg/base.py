"""Django's PostgreSQL backend, connecting to the embedded server (see the package docstring)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.db.backends.postgresql import base

from loyalty_site.embedded_pg import database_ensure, server_address


class DatabaseWrapper(base.DatabaseWrapper):
    """Starts (or joins) the server of ``settings_dict["PGDATA"]`` before each new connection and
    creates the database it names on first use."""

    def get_connection_params(self) -> dict[str, Any]:
        params = super().get_connection_params()
        pgdata = Path(self.settings_dict["PGDATA"])
        params["host"], params["port"] = server_address(pgdata)
        if params.get("dbname") not in (None, "postgres"):
            database_ensure(pgdata, params["dbname"])
        return params
