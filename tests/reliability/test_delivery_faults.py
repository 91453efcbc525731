"""Offer e-mails under worker faults, on the real PostgreSQL: a ``qcluster`` worker killed in the
middle of a batch, and two workers claiming at the same moment.

The guarantee under test (docs/delivery.md): every bonus's message ends ``sent``; no message is
sent twice, except the one whose send returned but whose ``sent`` mark was not committed when
its worker died, and that repeat carries the same Message-ID (the bonus's).
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import Counter

import pytest
from django.conf import settings
from django.core import mail
from django.db import connections
from django.utils import timezone

from campaigns.models import Delivery, DeliveryState, EmailTemplate
from campaigns.services.delivery import deliveries_claim, deliveries_send_due
from campaigns.services.email_messages import message_id_for
from tests.campaigns.test_delivery import issued
from tests.reliability.test_worker_faults import Worker, wait_for, worker_env

RECIPIENTS = 8
HANG_AFTER = 3


def nobody_else_locks(model) -> bool:
    """No other session holds a lock on ``model``'s table: the killed worker's backend, which
    PostgreSQL ends only when it notices its client is gone, has released its rows."""
    with connections["default"].cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_locks l JOIN pg_class r ON r.oid = l.relation "
            "WHERE l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
            "AND r.relname = %s AND l.pid <> pg_backend_pid()",
            [model._meta.db_table],
        )
        return cursor.fetchone()[0] == 0


def consenting(retailer, n: int):
    return issued(retailer, consents=(True,) * n, emails=[f"r{i}@x.test" for i in range(n)])


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_worker_killed_mid_batch_leaves_every_message_sent_once_but_the_one_in_flight(
    retailer, tmp_path, monkeypatch
):
    campaign = consenting(retailer, RECIPIENTS)
    expected = {
        message_id_for(bonus_id=b)
        for b in Delivery.objects.filter(campaign=campaign).values_list("bonus_id", flat=True)
    }
    log = tmp_path / "sent.log"
    env = worker_env(tmp_path)
    env.pop("Q_CLUSTER_NAME")  # the default queue, where the schedule sends the task
    env.update(
        DJANGO_EMAIL_BACKEND="tests.reliability.mail_backends.HangingLogBackend",
        MAIL_LOG=str(log),
        MAIL_HANG_AFTER=str(HANG_AFTER),
    )
    from django_q.tasks import async_task

    monkeypatch.setattr("django_q.conf.Conf.SYNC", False)
    worker = Worker(env, tmp_path / "worker.log")
    try:
        async_task("campaigns.tasks.deliveries_send_task")

        def in_flight():
            return log.exists() and len(log.read_text().splitlines()) >= HANG_AFTER

        wait_for(in_flight, 90, f"the worker to hand over message {HANG_AFTER}", worker)
        worker.kill()  # message 3 is out; its transaction never commits
    finally:
        worker.kill()
        worker.stop()
    states = Counter(Delivery.objects.filter(campaign=campaign).values_list("state", flat=True))
    assert states == {DeliveryState.SENT: HANG_AFTER - 1, DeliveryState.SENDING: RECIPIENTS - 2}
    # Within the lease nobody takes the dead worker's rows; after it, the next run does.
    assert deliveries_send_due() == {}
    # SKIP LOCKED would pass over a row the dead worker's backend still holds (seen under load)
    wait_for(lambda: nobody_else_locks(Delivery), 30, "the killed worker's locks to go")
    later = timezone.now() + dt.timedelta(seconds=settings.DELIVERY_LEASE_SECONDS + 1)
    assert deliveries_send_due(now=later) == {DeliveryState.SENT: RECIPIENTS - 2}

    sent = Counter(log.read_text().splitlines())
    sent.update(m.extra_headers["Message-ID"] for m in mail.outbox)
    assert set(sent) == expected
    repeated = [message_id for message_id, n in sent.items() if n > 1]
    assert len(repeated) == 1  # at least once on the wire for the one in flight, same Message-ID
    assert sent[repeated[0]] == 2
    assert log.read_text().splitlines()[HANG_AFTER - 1] == repeated[0]
    assert set(Delivery.objects.filter(campaign=campaign).values_list("state", flat=True)) == {
        DeliveryState.SENT
    }


@pytest.mark.django_db(transaction=True)
def test_two_workers_claiming_at_once_never_share_a_message(retailer):
    EmailTemplate.objects.create(retailer=retailer, per_minute=5)
    consenting(retailer, 10)
    now = timezone.now()
    start = threading.Barrier(2)
    claims: list[set[int]] = []

    def claim() -> None:
        try:
            start.wait()
            token, _ = deliveries_claim(retailer=retailer, size=5, now=now)
            claims.append(set(Delivery.objects.filter(claim=token).values_list("pk", flat=True)))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=claim) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    first, second = claims
    assert not first & second
    assert len(first | second) == 10


@pytest.mark.django_db(transaction=True)
def test_concurrent_senders_send_each_message_once(retailer):
    EmailTemplate.objects.create(retailer=retailer, per_minute=3)
    campaign = consenting(retailer, 12)
    start = threading.Barrier(3)

    def send() -> None:
        try:
            start.wait()
            for _ in range(3):
                deliveries_send_due()
        finally:
            connections.close_all()

    threads = [threading.Thread(target=send) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    ids = [m.extra_headers["Message-ID"] for m in mail.outbox]
    assert len(ids) == len(set(ids)) == 12
    assert set(Delivery.objects.filter(campaign=campaign).values_list("state", flat=True)) == {
        DeliveryState.SENT
    }
