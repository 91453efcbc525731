"""Embedded PostgreSQL: the database of a machine with no PostgreSQL server configured.

Without ``DATABASE_URL`` the settings name this package as the database ``ENGINE``: Django's own
PostgreSQL backend (``base.py``), whose first connection starts a PostgreSQL 16 server from the
``pgserver`` wheel (pinned in requirements.txt) in ``var/pgdata`` (git-ignored) and connects to it
through its Unix socket; the server never listens on TCP. The quick start (``make demo``) and the
tests (``make test``, which let pytest-django create ``test_loyalty`` on it) use it; every other
deployment sets ``DATABASE_URL``.

The server starts on the first connection, not when the settings are imported, so commands
that never touch the database (``mypy`` with django-stubs, ``manage.py help``) never start it.

Several processes share one server: pgserver records every process that started or joined the
folder in ``var/pgdata/.handle_pids.json`` under an inter-process lock, and the last of them to
exit stops the server. Hand-written here, and why:

- dead processes are pruned from that list before joining. django-q2's workers are
  ``multiprocessing`` children that leave through ``os._exit`` (no ``atexit``), so their entries
  would otherwise stay forever and no process would ever be "the last" to stop the server;
- a new folder gets ``max_connections = 300`` (as CI's server), since pgserver's ``initdb`` leaves
  the default 100 and the concurrency tests open 200 connections at once. The setting needs a
  restart, done through pgserver's own stop (the last handle) and start.
"""

from __future__ import annotations

import contextlib
import threading
import warnings
from pathlib import Path

import psutil
import psycopg
from psycopg import sql

with warnings.catch_warnings():
    # platformdirs warns that XDG_RUNTIME_DIR is unset (servers, containers) while pgserver picks
    # the folder of its inter-process lock at import; the /tmp fallback it then uses is fine.
    warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR")
    from pgserver import get_server
    from pgserver.postgres_server import PostgresServer
    from pgserver.utils import DiskList

MAX_CONNECTIONS = 300

_lock = threading.Lock()
_addresses: dict[Path, tuple[str, int]] = {}
_databases: set[tuple[Path, str]] = set()


def server_address(pgdata: Path) -> tuple[str, int]:
    """Start the server of ``pgdata`` (or join the one running); return its socket folder and
    port (the port names the socket file; it follows ``PGPORT`` when that is set).

    Safe to call from every thread and process; after the first call in a process it only
    looks up a dict.
    """
    pgdata = pgdata.expanduser().resolve()
    with _lock:
        if pgdata not in _addresses:
            _addresses[pgdata] = _start(pgdata)
        return _addresses[pgdata]


def database_ensure(pgdata: Path, name: str) -> None:
    """Create database ``name`` on the server of ``pgdata`` unless it exists (the quick start's
    ``loyalty``; pytest-django creates and drops its ``test_loyalty`` itself)."""
    pgdata = pgdata.expanduser().resolve()
    if (pgdata, name) in _databases:
        return
    host, port = server_address(pgdata)
    with psycopg.connect(
        host=host, port=port, user="postgres", dbname="postgres", autocommit=True
    ) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            # Another process may create it meanwhile.
            with contextlib.suppress(psycopg.errors.DuplicateDatabase):
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    _databases.add((pgdata, name))


def _start(pgdata: Path) -> tuple[str, int]:
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    fresh = not (pgdata / "PG_VERSION").exists()
    if not fresh:
        _forget_dead_processes(pgdata)
    server = get_server(pgdata, cleanup_mode="stop")
    if fresh:
        server = _raise_max_connections(server, pgdata)
    info = server.get_postmaster_info()
    return str(info.socket_dir), info.port or 5432


def _forget_dead_processes(pgdata: Path) -> None:
    with PostgresServer._lock:
        handles = DiskList(pgdata / ".handle_pids.json")
        live = [pid for pid in handles.get() if psutil.pid_exists(pid)]
        handles.put(live)


def _raise_max_connections(server: PostgresServer, pgdata: Path) -> PostgresServer:
    with psycopg.connect(server.get_uri(), autocommit=True) as conn:
        conn.execute(f"ALTER SYSTEM SET max_connections = {MAX_CONNECTIONS}")
    server.cleanup()  # stops it: this process is its only handle (it just created the folder)
    return get_server(pgdata, cleanup_mode="stop")
