"""Bulk-load session helpers: planner statistics on PostgreSQL, SQLite page cache."""

from __future__ import annotations

import pytest
from django.db import connection

from customers.models import TransactionLine
from loyalty_site.site.demo.dbtuning import analyze, bulk_session
from tests.customers.factories import TransactionLineFactory

pytestmark = pytest.mark.django_db(transaction=True)


def test_analyze_refreshes_the_statistics_of_a_loaded_table():
    TransactionLineFactory()
    analyze([TransactionLine])
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT last_analyze IS NOT NULL FROM pg_stat_user_tables WHERE relname = %s",
            [TransactionLine._meta.db_table],
        )
        assert cursor.fetchone()[0] is True


def test_bulk_session_restores_the_sqlite_cache_size():
    if connection.vendor != "sqlite":
        pytest.skip("SQLite only")
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA cache_size")
        before = cursor.fetchone()[0]
        with bulk_session(cache_mb=64):
            cursor.execute("PRAGMA cache_size")
            assert cursor.fetchone()[0] == -64 * 1024
        cursor.execute("PRAGMA cache_size")
        assert cursor.fetchone()[0] == before
