"""The token throttle reads DRF's rate strings exactly as DRF does."""

import pytest
from rest_framework.throttling import SimpleRateThrottle

from campaigns.api.throttles import parse_rate


@pytest.mark.parametrize("rate", ["5/s", "5/sec", "120/min", "3/hour", "1000/day", "7/m"])
def test_parse_rate_reads_rates_as_drf_does(rate):
    assert parse_rate(rate) == SimpleRateThrottle.parse_rate(None, rate)
