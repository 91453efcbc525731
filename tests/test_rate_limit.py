"""Fixed-window hit counters (``loyalty_site.rate_limit``) in both stores, and the default store:
a counter shared by every web process (the database) unless ``CACHE_URL`` names Redis."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import uuid
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.core.cache import cache
from django.db import connection

from loyalty_site import rate_limit
from loyalty_site.rate_limit import hit
from retailers.models import RateCounter
from tests.database import database_url

BASE_DIR = Path(__file__).resolve().parent.parent


@pytest.fixture(params=["database", "cache"])
def store(request, settings, db):
    settings.RATE_LIMIT_STORE = request.param
    cache.clear()
    return request.param


@pytest.fixture
def clock(monkeypatch, store):
    """A settable clock for the module, starting 15 s into a one-minute window."""
    now = SimpleNamespace(value=1_000_000 * 60 + 15.0)
    monkeypatch.setattr(rate_limit, "time", SimpleNamespace(time=lambda: now.value))
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


def test_an_evicted_counter_starts_again(clock, store):
    if store != "cache":
        pytest.skip("only a cache evicts")
    hit("till-1", 60)
    cache.clear()
    assert hit("till-1", 60).count == 1
    assert hit("till-1", 60).count == 2


def test_the_database_store_forgets_windows_that_have_ended(clock, store):
    if store != "database":
        pytest.skip("the database store's own cleanup")
    hit("till-1", 60)
    hit("till-2", 60)
    clock.value += 60.0
    hit("till-1", 60)  # the first hit of a new window purges the old ones
    assert list(RateCounter.objects.values_list("name", "hits")) == [
        (f"rate:till-1:{1_000_001}", 1)
    ]


def test_the_default_store_is_the_database_without_cache_url_and_the_cache_with_it(monkeypatch):
    from tests.test_settings import load_settings

    monkeypatch.delenv("CACHE_URL", raising=False)
    monkeypatch.delenv("RATE_LIMIT_STORE", raising=False)
    assert load_settings(monkeypatch)["RATE_LIMIT_STORE"] == "database"
    assert load_settings(monkeypatch, DJANGO_DEBUG="1")["RATE_LIMIT_STORE"] == "database"
    shared = load_settings(monkeypatch, CACHE_URL="redis://127.0.0.1:6379/3")
    assert shared["RATE_LIMIT_STORE"] == "cache"


@pytest.mark.django_db(transaction=True)
def test_concurrent_hits_are_each_counted_once(settings):
    settings.RATE_LIMIT_STORE = "database"
    counts: list[int] = []
    start = threading.Barrier(8)

    def worker() -> None:
        start.wait()
        try:
            counts.extend(hit("portal:10.0.0.1", 3600).count for _ in range(25))
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(counts) == list(range(1, 201))


# Three portal-style hits, as a separate web process would count them (default settings).
HITS = """
import json, sys, django
django.setup()
from loyalty_site.rate_limit import hit
print(json.dumps([hit(sys.argv[1], 86400).count for _ in range(3)]))
"""


@pytest.mark.django_db(transaction=True)
def test_two_web_processes_without_cache_url_share_one_counter():
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "CACHE_URL"))}
    env.update(DJANGO_SETTINGS_MODULE="loyalty_site.settings", DATABASE_URL=database_url())
    name = f"portal:{uuid.uuid4()}"

    def web_process() -> list[int]:
        result = subprocess.run(  # noqa: S603 - fixed command
            [sys.executable, "-c", HITS, name],
            cwd=BASE_DIR,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        return json.loads(result.stdout.strip().splitlines()[-1])

    assert web_process() == [1, 2, 3]
    assert web_process() == [4, 5, 6]  # one count across processes, not one per worker


# --- Leased hits (rate_limit.take: the API tokens' limits) --------------------------------------


@pytest.fixture
def processes(monkeypatch):
    """Two web processes' lease books; ``use(i)`` makes process ``i`` the one taking hits."""
    books = [rate_limit._Leases(), rate_limit._Leases()]

    def use(i: int) -> None:
        monkeypatch.setattr(rate_limit, "_leases", books[i])

    use(0)
    return use


def test_leased_hits_never_exceed_the_limit_across_processes(clock, processes):
    granted = 0
    for n in range(3000):  # two processes taking turns, as two workers serving one till
        processes(n % 2)
        granted += rate_limit.take("till-1", 1000, 60).allowed
    # Never more than the limit; refused early by at most one lease (10 hits) per process.
    assert 1000 - 2 * 10 <= granted <= 1000


def test_a_limit_under_a_hundred_hits_is_exact(clock, processes):
    allowed = []
    for n in range(8):
        processes(n % 2)
        allowed.append(rate_limit.take("till-1", 5, 60).allowed)
    assert allowed == [True] * 5 + [False] * 3


def test_hits_are_leased_a_hundredth_of_the_limit_at_a_time(clock, store):
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        taken = [rate_limit.take("till-1", 6000, 60) for _ in range(120)]
    assert all(t.allowed for t in taken)
    assert taken[-1].seconds_left == pytest.approx(45.0)
    if store == "database":  # two leases of 60: two upserts (and one purge, the first hit)
        upserts = [q for q in queries.captured_queries if "INSERT" in q["sql"]]
        assert len(upserts) == 2
    else:
        assert cache.get(f"rate:till-1:{1_000_000}") == 120


def test_once_refused_a_process_refuses_locally_until_the_window_ends(clock, processes, store):
    from django.test.utils import CaptureQueriesContext

    assert [rate_limit.take("till-1", 2, 60).allowed for _ in range(3)] == [True, True, False]
    with CaptureQueriesContext(connection) as queries:
        assert rate_limit.take("till-1", 2, 60).allowed is False
    assert queries.captured_queries == []
    clock.value += 45.0  # the next window
    assert rate_limit.take("till-1", 2, 60).allowed is True


@pytest.mark.django_db(transaction=True)
def test_threads_leasing_at_once_keep_every_lease(settings):
    """100 threads of one process asking at once each lease; no lease is lost, so 1,000 hits
    under a limit of 3,000 are all granted (the concurrent redemptions test's load)."""
    settings.RATE_LIMIT_STORE = "database"
    results: list[bool] = []
    start = threading.Barrier(100)

    def worker() -> None:
        start.wait()
        try:
            results.extend(rate_limit.take("till-9", 3000, 3600).allowed for _ in range(10))
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(100)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results.count(True) == 1000
