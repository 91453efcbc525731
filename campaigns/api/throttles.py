"""Rate limits per API token and scope (``DEFAULT_THROTTLE_RATES`` in settings).

A fixed-window counter (:mod:`loyalty_site.rate_limit`): one cache operation per request in the
common case, unlike DRF's sliding log, which stores one timestamp per request and re-pickles the
whole list on every call. The counter is per process unless ``CACHE_URL`` names a shared Redis.
"""

from __future__ import annotations

from typing import Any

from rest_framework.settings import api_settings
from rest_framework.throttling import BaseThrottle, SimpleRateThrottle

from loyalty_site.rate_limit import hit


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
        token = request.auth
        ident = f"token-{token.pk}" if token is not None else self.get_ident(request)
        counted = hit(f"{scope}:{ident}", duration)
        self.retry_after = counted.seconds_left
        return counted.count <= limit

    def wait(self) -> float:
        return max(self.retry_after, 1)
