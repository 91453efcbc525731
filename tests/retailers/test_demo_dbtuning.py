"""Bulk-load helpers of the demo: planner statistics after a load."""

from __future__ import annotations

import pytest
from django.db import connection

from customers.models import TransactionLine
from loyalty_site.site.demo.dbtuning import analyze
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
