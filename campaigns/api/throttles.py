"""Rate limits per API token and scope (``DEFAULT_THROTTLE_RATES`` in settings).

A fixed-window counter (:mod:`loyalty_site.rate_limit`) shared by every web process, taken in
leases (:func:`~loyalty_site.rate_limit.take`): one store operation per lease of a hundredth of
the limit, not per request, unlike DRF's sliding log, which stores one timestamp per request and
re-pickles the whole list on every call.
"""

from __future__ import annotations

from typing import Any

from rest_framework.settings import api_settings
from rest_framework.throttling import BaseThrottle

from loyalty_site.rate_limit import take

#: Seconds per period letter of a DRF rate such as ``"120/min"``.
_PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_rate(rate: str) -> tuple[int, int]:
    """``"120/min"`` -> ``(120, 60)``: requests per window and the window's seconds (DRF's rate
    format, read as ``SimpleRateThrottle.parse_rate`` reads it)."""
    num, period = rate.split("/")
    return int(num), _PERIODS[period[0]]


class TokenScopedThrottle(BaseThrottle):
    """Count requests per token for the view's ``throttle_scope`` (``pos_read``/``pos_write``)."""

    THROTTLE_RATES = api_settings.DEFAULT_THROTTLE_RATES

    def allow_request(self, request: Any, view: Any) -> bool:
        scope = getattr(view, "throttle_scope", None)
        rate = self.THROTTLE_RATES.get(scope) if scope else None
        if not rate:
            return True
        limit, duration = parse_rate(str(rate))
        token = request.auth
        ident = f"token-{token.pk}" if token is not None else self.get_ident(request)
        taken = take(f"{scope}:{ident}", limit, duration)
        self.retry_after = taken.seconds_left
        return taken.allowed

    def wait(self) -> float:
        return max(self.retry_after, 1)
