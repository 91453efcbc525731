"""The test database as a ``DATABASE_URL``, for the child processes some tests start (workers,
gunicorn pools, a second web process): on a configured server or on the embedded one."""

from __future__ import annotations

from urllib.parse import quote


def database_url() -> str:
    """``DATABASE_URL`` of the database the test session uses (its ``test_`` database once a
    test has asked for the database); the embedded server's socket folder is percent-encoded as
    the host, which dj-database-url reads back as a folder."""
    from django.db import connection

    params = connection.get_connection_params()
    host = quote(params.get("host") or "127.0.0.1", safe="")
    user = params.get("user") or "postgres"
    return f"postgres://{user}@{host}:{params.get('port') or 5432}/{params['dbname']}"
