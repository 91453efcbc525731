"""Fixed-window hit counters (``loyalty_site.rate_limit``) on the configured cache."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from django.core.cache import cache

from loyalty_site import rate_limit
from loyalty_site.rate_limit import hit


@pytest.fixture
def clock(monkeypatch):
    """A settable clock for the module, starting 15 s into a one-minute window."""
    now = SimpleNamespace(value=1_000_000 * 60 + 15.0)
    monkeypatch.setattr(rate_limit, "time", SimpleNamespace(time=lambda: now.value))
    cache.clear()
    return now


def test_hits_are_counted_within_a_window(clock):
    assert [hit("till-1", 60).count for _ in range(3)] == [1, 2, 3]
    assert hit("till-1", 60).seconds_left == pytest.approx(45.0)


def test_a_new_window_counts_from_one(clock):
    assert [hit("till-1", 60).count for _ in range(2)] == [1, 2]
    clock.value += 45.0  # the next window starts
    assert hit("till-1", 60) == rate_limit.Hit(1, 60.0)


def test_each_name_has_its_own_counter(clock):
    hit("till-1", 60)
    hit("till-1", 60)
    assert hit("till-2", 60).count == 1


def test_an_evicted_counter_starts_again(clock):
    hit("till-1", 60)
    cache.clear()
    assert hit("till-1", 60).count == 1
    assert hit("till-1", 60).count == 2
