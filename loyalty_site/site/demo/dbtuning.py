"""Database statistics for loading millions of rows (demo and synthetic retailers only).

PostgreSQL checks every foreign key with its own per-row triggers (no session switches them
off: see :mod:`loyalty_site.bulk`); what helps a big load is fresh planner statistics.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import models

from loyalty_site import bulk

__all__ = ["analyze"]


def analyze(tables: Iterable[type[models.Model]]) -> None:
    """Refresh the planner statistics of these models' tables.

    After loading or before deleting millions of rows: with stale statistics (autovacuum
    lagging, or off as on this machine) the per-row foreign key checks of a delete were planned
    as sequential scans and the demo's purge ran for minutes instead of seconds.
    """
    bulk.analyze(tables)
