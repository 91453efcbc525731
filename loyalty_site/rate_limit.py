"""Fixed-window hit counters in the Django cache, for the API's and the portal's rate limits.

One counter per name and window (``rate:<name>:<window number>``), living a little longer than
its window. O(1) per hit whatever the rate, unlike a sliding log that stores one timestamp per
request; a client may burst up to twice the rate across a window boundary, which is acceptable
for protecting the service. The counter is as shared as the cache: per process by default, one
for all web processes with ``CACHE_URL`` (Redis).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from django.core.cache import cache


@dataclass(frozen=True)
class Hit:
    """The count of hits in the current window, this one included, and when the window ends."""

    count: int
    seconds_left: float


def hit(name: str, window_seconds: int) -> Hit:
    """Count one hit for ``name`` in the current window of ``window_seconds``.

    The common case, a counter that exists, costs one ``incr``; the first hit of a window creates
    it with ``add``, which only one of several simultaneous first hits wins (the others count on).
    """
    now = time.time()
    window = int(now // window_seconds)
    key = f"rate:{name}:{window}"
    left = (window + 1) * window_seconds - now
    try:
        return Hit(cache.incr(key), left)
    except ValueError:  # no counter yet: the first hit of this window (or it was evicted)
        pass
    if cache.add(key, 1, timeout=window_seconds + 1):
        return Hit(1, left)
    try:
        return Hit(cache.incr(key), left)
    except ValueError:  # evicted again in between: start over
        cache.set(key, 1, timeout=window_seconds + 1)
        return Hit(1, left)
