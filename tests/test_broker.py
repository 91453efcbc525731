"""The django-q2 brokers behave as the README says: the ORM broker re-delivers a task whose
worker died once `retry` has passed; the Redis broker hands a task out once and loses it if the
worker dies. The Redis test runs when REDIS_URL is set (CI sets it)."""

from __future__ import annotations

import datetime as dt
import os
import uuid

import pytest
from django.utils import timezone
from django_q.brokers.orm import ORM
from django_q.models import OrmQ
from django_q.signing import SignedPackage


def make_package() -> tuple[str, str]:
    task_id = uuid.uuid4().hex
    package = SignedPackage.dumps(
        {"id": task_id, "name": "t", "func": "math.floor", "args": (1.5,)}
    )
    return task_id, package


@pytest.mark.django_db
def test_orm_broker_redelivers_unacknowledged_task_after_retry():
    broker = ORM(list_key=f"test-{uuid.uuid4().hex[:8]}")
    task_id, package = make_package()
    broker.enqueue(package)

    first = broker.dequeue()
    assert [SignedPackage.loads(p)["id"] for _, p in first] == [task_id]
    assert broker.dequeue() is None  # locked while the worker runs it

    # The worker is killed: nobody acknowledges. Once `retry` has passed the lock expires.
    OrmQ.objects.filter(key=broker.list_key).update(lock=timezone.now() - dt.timedelta(seconds=1))
    again = broker.dequeue()
    assert [SignedPackage.loads(p)["id"] for _, p in again] == [task_id]

    broker.acknowledge(again[0][0])
    assert OrmQ.objects.filter(key=broker.list_key).count() == 0


@pytest.mark.redis
@pytest.mark.skipif(
    not os.environ.get("REDIS_URL"), reason="set REDIS_URL to test the Redis broker"
)
def test_redis_broker_delivers_once_and_does_not_redeliver():
    import redis
    from django_q.brokers.redis_broker import Redis

    broker = Redis(list_key=f"test-{uuid.uuid4().hex[:8]}")
    broker.connection = redis.from_url(os.environ["REDIS_URL"])
    try:
        task_id, package = make_package()
        broker.enqueue(package)
        delivered = broker.dequeue()
        assert [SignedPackage.loads(p)["id"] for _, p in delivered] == [task_id]
        # Nothing keeps a copy: if that worker dies now, the task is gone (the trade-off).
        assert broker.dequeue() is None
        assert broker.queue_size() == 0
    finally:
        broker.delete_queue()
