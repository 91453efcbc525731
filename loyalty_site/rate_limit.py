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

:func:`hit` counts every hit in the store. :func:`take` (the API tokens' limits, thousands a
minute) takes hits from the store in *leases*: a process that needs a hit adds a lease of
``limit // LEASES_PER_WINDOW`` hits (at least one) to the shared counter in one operation and
then hands them out locally, so a till's request pays a store round trip once per lease instead
of every time. Every hit granted was counted in the store first, so the limit holds across
processes exactly as before: never more than ``limit`` hits in a window. The price is on the
other side: hits leased by one process and not used by the end of the window are counted but
unused, so with ``P`` busy processes a client may be refused up to ``P`` leases (``P`` percent of
its limit) early. A limit under ``LEASES_PER_WINDOW`` hits leases one hit at a time (exact).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache

from loyalty_site.hot_sql import hot_cursor

STORES = ("database", "cache")
TABLE = "loyalty_rate_counter"
_UPSERT = (
    f"INSERT INTO {TABLE} (name, hits, window_end) VALUES (%s, %s, %s) "  # noqa: S608 - constant
    f"ON CONFLICT (name) DO UPDATE SET hits = {TABLE}.hits + EXCLUDED.hits RETURNING hits"
)
_PURGE = f"DELETE FROM {TABLE} WHERE window_end < %s"  # noqa: S608 - constant


@dataclass(frozen=True)
class Hit:
    """The count of hits in the current window, this one included, and when the window ends."""

    count: int
    seconds_left: float


@dataclass(frozen=True)
class Taken:
    """Whether a hit was granted under the limit, and when the window ends."""

    allowed: bool
    seconds_left: float


#: :func:`take` leases a limit's hits in about this many parts per window.
LEASES_PER_WINDOW = 100


def hit(name: str, window_seconds: int) -> Hit:
    """Count one hit for ``name`` in the current window of ``window_seconds``."""
    now = time.time()
    key, end = _window(name, window_seconds, now)
    return Hit(_add(key, 1, window_seconds, end, now), end - now)


def _window(name: str, window_seconds: int, now: float) -> tuple[str, float]:
    window = int(now // window_seconds)
    return f"rate:{name}:{window}", (window + 1) * window_seconds


def _add(key: str, amount: int, window_seconds: int, end: float, now: float) -> int:
    """Add ``amount`` hits to the store's counter ``key``; the count after it."""
    if settings.RATE_LIMIT_STORE == "cache":
        return _cache_hit(key, window_seconds, amount)
    return _database_hit(key, end, now, amount)


class _Leases:
    """This process's hits leased from the store and not yet handed out, per counter key and
    limit (a changed limit starts afresh); ``0`` left with ``exhausted``: the store refused."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.left: dict[tuple[str, int], int] = {}

    def take_local(self, lease: tuple[str, int]) -> bool | None:
        """``True``: a leased hit handed out; ``False``: the window is exhausted; ``None``: ask
        the store."""
        with self.lock:
            left = self.left.get(lease)
            if left is None:
                return None
            if left > 0:
                self.left[lease] = left - 1
                return True
            return False if left < 0 else None

    def keep(self, lease: tuple[str, int], granted: int) -> bool:
        """Add ``granted`` hits to the lease and take one; ``False`` (and the lease marked
        exhausted) when there is none. Threads of one process that leased at the same time
        each add theirs."""
        with self.lock:
            if len(self.left) > 1000:  # windows that ended: forget them
                self.left.clear()
            left = max(self.left.get(lease, 0), 0) + granted
            self.left[lease] = left - 1 if left else -1
            return left > 0

    def clear(self) -> None:
        with self.lock:
            self.left.clear()


_leases = _Leases()


def forget_leases() -> None:
    """Drop this process's leased hits (tests: their counters were rolled back)."""
    _leases.clear()


def take(name: str, limit: int, window_seconds: int) -> Taken:
    """Take one of ``limit`` hits allowed to ``name`` per window of ``window_seconds``.

    Leased (see the module docstring): one store operation per lease, never more than ``limit``
    hits granted in a window across all processes. Once the store refuses, this process refuses
    locally until the window ends (the count only grows within a window).
    """
    now = time.time()
    key, end = _window(name, window_seconds, now)
    lease = (key, limit)
    local = _leases.take_local(lease)
    if local is not None:
        return Taken(local, end - now)
    size = max(1, limit // LEASES_PER_WINDOW)
    count = _add(key, size, window_seconds, end, now)
    granted = max(0, min(size, limit - (count - size)))
    return Taken(_leases.keep(lease, granted), end - now)


def _database_hit(key: str, window_end: float, now: float, amount: int = 1) -> int:
    with hot_cursor() as cursor:
        cursor.execute(_UPSERT, [key, amount, window_end])
        count = cursor.fetchone()[0]
        if count == amount:  # the first hit of this window: forget the windows that have ended
            cursor.execute(_PURGE, [now])
    return count


def _cache_hit(key: str, window_seconds: int, amount: int = 1) -> int:
    """The common case, a counter that exists, costs one ``incr``; the first hit of a window
    creates it with ``add``, which only one of several simultaneous first hits wins (the others
    count on)."""
    try:
        return cache.incr(key, amount)
    except ValueError:  # no counter yet: the first hit of this window (or it was evicted)
        pass
    if cache.add(key, amount, timeout=window_seconds + 1):
        return amount
    try:
        return cache.incr(key, amount)
    except ValueError:  # evicted again in between: start over
        cache.set(key, amount, timeout=window_seconds + 1)
        return amount
