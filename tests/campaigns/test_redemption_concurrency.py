"""Races on PostgreSQL: many tills redeeming at once through the real API view.

Each race starts N threads, each with its own database connection, released together by a
``threading.Barrier``; every race runs several times, and once with an artificial delay inside the
critical section (after the use is taken and the budget booked, before the commit, or inside the
points ledger's locked read), so a missing lock cannot pass by luck. The 1,000-redemption budget
race uses 100 threads in 10 barrier-synchronised waves (1,000 simultaneous connections would
exceed the server's ``max_connections``).
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.db import connection, connections
from rest_framework.test import APIClient

from campaigns.models import Bonus, Campaign, Redemption
from campaigns.services import redemption as redemption_service
from customers.models import PointsEntry
from customers.services import points as points_service
from customers.services.points import points_adjust, points_summary
from tests.campaigns.rewards_factories import (
    BonusFactory,
    CampaignFactory,
    bulk_bonuses,
    token_client,
)
from tests.customers.factories import CustomerFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _clear_cache():
    cache.clear()


@pytest.fixture
def key(api_client, retailer):
    return token_client(api_client, retailer)[1]


def race(threads: int, call: Callable[[APIClient, int], object], waves: int = 1) -> list:
    """Run ``call(client, i)`` in ``threads`` threads x ``waves``, each wave released at once."""
    barrier = threading.Barrier(threads)
    results: list = [None] * (threads * waves)

    def worker(t: int) -> None:
        client = APIClient()
        try:
            for w in range(waves):
                barrier.wait(timeout=60)
                i = w * threads + t
                try:
                    results[i] = call(client, i)
                except Exception as exc:
                    results[i] = exc
        finally:
            connections.close_all()

    pool = [threading.Thread(target=worker, args=(t,)) for t in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join(timeout=300)
    return results


def post(key: str, url: str, body: dict, idem: str):
    def call(client: APIClient, i: int):
        response = client.post(
            url,
            body(i) if callable(body) else body,
            format="json",
            HTTP_AUTHORIZATION=f"Token {key}",
            HTTP_IDEMPOTENCY_KEY=idem(i) if callable(idem) else idem,
        )
        return response.status_code, response.json()

    return call


def _codes(results: list) -> Counter:
    assert not [r for r in results if isinstance(r, Exception)], results
    return Counter(
        (status, body["error"]["code"] if status >= 400 else "ok") for status, body in results
    )


def _slow_hook(monkeypatch, seconds=0.05):
    """Widen the critical section: sleep once the use is taken and the budget booked, before the
    commit (inside the locks), so that the locks, not luck, must hold."""
    for name in ("_take_at_once", "_take"):
        take = getattr(redemption_service, name)

        def slow(cursor, use, take=take):
            redeemed = take(cursor, use)
            if redeemed is not None:
                time.sleep(seconds)
            return redeemed

        monkeypatch.setattr(redemption_service, name, slow)


@pytest.mark.parametrize("delay", [False, None, True])  # None: a second plain round
def test_200_simultaneous_redemptions_of_a_single_use_bonus(retailer, key, monkeypatch, delay):
    if delay:
        _slow_hook(monkeypatch)
    bonus = BonusFactory(member__campaign__retailer=retailer)
    results = race(200, post(key, "/api/v1/redemptions/", {"code": bonus.code}, lambda i: f"k{i}"))
    assert _codes(results) == {(201, "ok"): 1, (409, "already_redeemed"): 199}
    assert Redemption.objects.filter(bonus=bonus).count() == 1
    bonus.refresh_from_db()
    assert bonus.uses == 1
    assert Campaign.objects.get(pk=bonus.campaign_id).spent == Decimal("1.00")


@pytest.mark.parametrize("delay", [False, None, True])  # None: a second plain round
def test_50_simultaneous_redemptions_of_a_three_use_bonus(retailer, key, monkeypatch, delay):
    if delay:
        _slow_hook(monkeypatch)
    bonus = BonusFactory(member__campaign__retailer=retailer, max_uses=3)
    results = race(50, post(key, "/api/v1/redemptions/", {"code": bonus.code}, lambda i: f"k{i}"))
    assert _codes(results) == {(201, "ok"): 3, (409, "already_redeemed"): 47}
    uses = sorted(Redemption.objects.filter(bonus=bonus).values_list("use_no", flat=True))
    assert uses == [1, 2, 3]


@pytest.mark.parametrize("delay", [False, True])
def test_spend_limit_holds_under_1000_redemptions(retailer, key, monkeypatch, delay):
    if delay:
        _slow_hook(monkeypatch, 0.01)
    campaign = CampaignFactory(retailer=retailer, spend_limit=Decimal("100.00"))
    codes = bulk_bonuses(campaign, 1000, cost=Decimal("1.00"))
    results = race(
        100,
        post(key, "/api/v1/redemptions/", lambda i: {"code": codes[i]}, lambda i: f"k{i}"),
        waves=10,
    )
    assert _codes(results) == {(201, "ok"): 100, (409, "budget_exhausted"): 900}
    campaign.refresh_from_db()
    assert campaign.spent == Decimal("100.00")
    assert Redemption.objects.filter(bonus__campaign=campaign).count() == 100
    assert Bonus.objects.filter(campaign=campaign, uses=1).count() == 100


@pytest.mark.parametrize("delay", [False, None, True])  # None: a second plain round
def test_50_simultaneous_points_redemptions(retailer, key, monkeypatch, delay):
    if delay:
        original = points_service._balance

        def slow_balance(customer_id):
            value = original(customer_id)
            time.sleep(0.01)
            return value

        monkeypatch.setattr(points_service, "_balance", slow_balance)
    customer = CustomerFactory(retailer=retailer, external_id="C1")
    points_adjust(customer=customer, points=100, reason="opening balance")
    body = {"customer_id": "C1", "points": 10}
    results = race(50, post(key, "/api/v1/points/redeem/", body, lambda i: f"p{i}"))
    assert _codes(results) == {(201, "ok"): 10, (409, "insufficient_points"): 40}
    assert points_summary(customer=customer).balance == 0
    entries = PointsEntry.objects.filter(customer=customer).order_by("seq")
    assert sum(e.points for e in entries) == 0
    assert [e.seq for e in entries] == list(range(1, 12))


@pytest.mark.parametrize("delay", [False, True])
def test_same_idempotency_key_20_times_at_once(retailer, key, monkeypatch, delay):
    if delay:
        _slow_hook(monkeypatch)
    bonus = BonusFactory(member__campaign__retailer=retailer, max_uses=5)
    results = race(20, post(key, "/api/v1/redemptions/", {"code": bonus.code}, "same-key"))
    assert not [r for r in results if isinstance(r, Exception)], results
    assert {status for status, _ in results} == {201}
    assert all(body == results[0][1] for _, body in results)
    assert Redemption.objects.filter(bonus=bonus).count() == 1


def test_lock_timeout_answers_503_with_retry_after(retailer, api_client, key):
    bonus = BonusFactory(member__campaign__retailer=retailer)
    locked, release = threading.Event(), threading.Event()

    def hold_lock() -> None:
        from django.db import transaction

        try:
            with transaction.atomic():
                Bonus.objects.select_for_update().get(pk=bonus.pk)
                locked.set()
                release.wait(timeout=30)
        finally:
            connections.close_all()

    holder = threading.Thread(target=hold_lock)
    holder.start()
    assert locked.wait(timeout=10)
    try:
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = '300ms'")
        response = api_client.post(
            "/api/v1/redemptions/", {"code": bonus.code}, format="json", HTTP_IDEMPOTENCY_KEY="k"
        )
    finally:
        release.set()
        holder.join()
    assert response.status_code == 503
    assert response["Retry-After"] == "1"
    assert response.json()["error"]["code"] == "busy"
    # Nothing was stored: the same key works once the lock is gone.
    retry = api_client.post(
        "/api/v1/redemptions/", {"code": bonus.code}, format="json", HTTP_IDEMPOTENCY_KEY="k"
    )
    assert retry.status_code == 201
