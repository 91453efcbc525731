"""A cursor for the few hot paths written in plain SQL (the tills' lookup and redemption).

It sends its statements as server-side prepared statements: each web process's
connection parses and plans a statement once and then only binds new values, which halves the
database's CPU per redemption (planning the lookup's three-table join costs more than running
it). Django leaves prepared statements off for its own queries, to keep transaction-mode
connection poolers working; these few named statements are prepared by psycopg at the protocol
level, which PgBouncer 1.21+ supports (``max_prepared_statements``).

With ``DB_PREPARED_STATEMENTS=0`` and whenever Django records queries (``DEBUG``,
``CaptureQueriesContext``), it is Django's ordinary cursor. Errors are Django's database errors in
every case.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from django.db import connection


class _PreparedCursor:
    """The subset of the DB-API cursor the hot paths use, executing prepared statements."""

    def __init__(self, raw: Any) -> None:
        self._raw = raw

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        connection.validate_no_broken_transaction()
        with connection.wrap_database_errors:
            self._raw.execute(sql, params, prepare=True)

    def fetchone(self) -> tuple | None:
        with connection.wrap_database_errors:
            return self._raw.fetchone()

    def fetchall(self) -> list[tuple]:
        with connection.wrap_database_errors:
            return self._raw.fetchall()

    @property
    def rowcount(self) -> int:
        return self._raw.rowcount


@contextmanager
def hot_cursor() -> Iterator[Any]:
    """A cursor on the default connection; prepared statements unless turned off or logged."""
    if not connection.queries_logged:
        connection.ensure_connection()
        prepared = connection.connection.prepare_threshold is not None
    else:
        prepared = False
    if not prepared:
        with connection.cursor() as cursor:
            yield cursor
        return
    from django.db.backends.postgresql.base import ServerBindingCursor

    # django-stubs 6.1.2 declares ServerBindingCursor without its psycopg cursor base class.
    raw = ServerBindingCursor(connection.connection)  # type: ignore[call-arg]
    try:
        yield _PreparedCursor(raw)
    finally:
        raw.close()  # type: ignore[attr-defined]
