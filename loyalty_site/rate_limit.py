"""Fixed-window hit counters, for the API's and the portal's rate limits.

One counter per name and window (``rate:<name>:<window number>``), living a little longer than
its window. O(1) per hit whatever the rate, unlike a sliding log that stores one timestamp per
request; a client may burst up to twice the rate across a window boundary, which is acceptable
for protecting the service.

Where the counters live is ``settings.RATE_LIMIT_STORE``; both stores are shared by every web
process, so a limit of 30 a minute means 30 whatever the number of workers:

* ``"database"`` (the default): the table ``loyalty_rate_counter`` (``retailers.RateCounter``,
  UNLOGGED on PostgreSQL: no WAL flush per hit), one atomic ``INSERT ... ON CONFLICT DO UPDATE
  ... RETURNING`` per hit; the first hit of a window deletes the
  windows that have ended. ``bench/rate_limit.py`` measures it.
* ``"cache"`` (the default with ``CACHE_URL``): the Django cache, i.e. Redis. Without
  ``CACHE_URL`` that cache is per process and so is the count: development only.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.db import connection

STORES = ("database", "cache")
TABLE = "loyalty_rate_counter"
_UPSERT = (
    f"INSERT INTO {TABLE} (name, hits, window_end) VALUES (%s, 1, %s) "  # noqa: S608 - constant
    f"ON CONFLICT (name) DO UPDATE SET hits = {TABLE}.hits + 1 RETURNING hits"
)
_PURGE = f"DELETE FROM {TABLE} WHERE window_end < %s"  # noqa: S608 - constant


@dataclass(frozen=True)
class Hit:
    """The count of hits in the current window, this one included, and when the window ends."""

    count: int
    seconds_left: float


def hit(name: str, window_seconds: int) -> Hit:
    """Count one hit for ``name`` in the current window of ``window_seconds``."""
    now = time.time()
    window = int(now // window_seconds)
    key = f"rate:{name}:{window}"
    end = (window + 1) * window_seconds
    if settings.RATE_LIMIT_STORE == "cache":
        return Hit(_cache_hit(key, window_seconds), end - now)
    return Hit(_database_hit(key, end, now), end - now)


def _database_hit(key: str, window_end: float, now: float) -> int:
    with connection.cursor() as cursor:
        cursor.execute(_UPSERT, [key, window_end])
        count = cursor.fetchone()[0]
        if count == 1:  # the first hit of this window: forget the windows that have ended
            cursor.execute(_PURGE, [now])
    return count


def _cache_hit(key: str, window_seconds: int) -> int:
    """The common case, a counter that exists, costs one ``incr``; the first hit of a window
    creates it with ``add``, which only one of several simultaneous first hits wins (the others
    count on)."""
    try:
        return cache.incr(key)
    except ValueError:  # no counter yet: the first hit of this window (or it was evicted)
        pass
    if cache.add(key, 1, timeout=window_seconds + 1):
        return 1
    try:
        return cache.incr(key)
    except ValueError:  # evicted again in between: start over
        cache.set(key, 1, timeout=window_seconds + 1)
        return 1
