"""Rate limits per API token and scope (``DEFAULT_THROTTLE_RATES`` in settings).

A fixed-window counter (``cache.add`` + ``cache.incr``): O(1) per request whatever the rate,
unlike DRF's sliding log, which stores one timestamp per request and re-pickles the whole list on
every call. A client may burst up to twice the rate across a window boundary; that is acceptable
for protecting the service. The default cache is per process: with several web processes, set
``CACHE_URL`` (a shared Redis) for one shared counter.
"""

from __future__ import annotations

import time
from typing import Any

from django.core.cache import cache
from rest_framework.settings import api_settings
from rest_framework.throttling import BaseThrottle, SimpleRateThrottle


class TokenScopedThrottle(BaseThrottle):
    """Count requests per token for the view's ``throttle_scope`` (``pos_read``/``pos_write``)."""

    THROTTLE_RATES = api_settings.DEFAULT_THROTTLE_RATES
    parse_rate = SimpleRateThrottle.parse_rate

    def allow_request(self, request: Any, view: Any) -> bool:
        scope = getattr(view, "throttle_scope", None)
        rate = self.THROTTLE_RATES.get(scope) if scope else None
        if not rate:
            return True
        limit, duration = self.parse_rate(rate)
        now = time.time()
        window = int(now // duration)
        self.retry_after = (window + 1) * duration - now
        token = request.auth
        ident = f"token-{token.pk}" if token is not None else self.get_ident(request)
        key = f"throttle:{scope}:{ident}:{window}"
        cache.add(key, 0, timeout=duration + 1)
        try:
            count = cache.incr(key)
        except ValueError:  # evicted between add and incr
            cache.set(key, 1, timeout=duration + 1)
            count = 1
        return count <= limit

    def wait(self) -> float:
        return max(self.retry_after, 1)
