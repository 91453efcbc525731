"""The test database for the child processes and second connections some tests open (workers,
gunicorn pools, a second web process, a session holding a lock): on a configured server or on
the embedded one, never a guessed ``127.0.0.1:5432``."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote


def database_params() -> dict[str, Any]:
    """psycopg ``connect()`` arguments of the database the test session uses (its ``test_``
    database once a test has asked for the database)."""
    from django.db import connection

    params = connection.get_connection_params()
    return {
        "dbname": params["dbname"],
        "host": params.get("host") or "127.0.0.1",
        "port": params.get("port") or 5432,
        "user": params.get("user") or "postgres",
    }


def database_url() -> str:
    """The same database as a ``DATABASE_URL``; the embedded server's socket folder is
    percent-encoded as the host, which dj-database-url reads back as a folder."""
    db = database_params()
    host = quote(str(db["host"]), safe="")
    return f"postgres://{db['user']}@{host}:{db['port']}/{db['dbname']}"
