"""Webhooks: outbox rows in the event's transaction, signed deliveries to a real local HTTP
receiver, retries with backoff, the final failed state, replay and secret rotation."""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core.exceptions import ValidationError
from django.db import transaction

from retailers.webhook_delivery import retry_delay, webhook_deliveries_dispatch
from retailers.webhook_models import DeliveryStatus, OutboxEvent, WebhookDelivery
from retailers.webhook_signing import SIGNATURE_HEADER, signature_verify
from retailers.webhooks import (
    event_emit,
    webhook_delivery_replay,
    webhook_endpoint_create,
    webhook_endpoint_rotate_secret,
)

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
POINTS = "points.changed"


class Receiver:
    """An HTTP server on 127.0.0.1 (random port) that answers 500 to its first ``fail`` requests."""

    def __init__(self, fail: int = 0) -> None:
        self.fail = fail
        self.received: list[tuple[dict[str, str], bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.received.append((dict(self.headers), body))
                failing = len(receiver.received) <= receiver.fail
                self.send_response(500 if failing else 200)
                self.end_headers()
                self.wfile.write(b"down for now" if failing else b"ok")

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def local_http(settings):
    settings.WEBHOOK_ALLOW_LOCAL_HTTP = True


@pytest.fixture
def receiver(local_http) -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.close()


def endpoint_for(retailer, url, types=(POINTS,)):
    return webhook_endpoint_create(retailer_id=retailer.pk, url=url, event_types=list(types))


def test_event_emit_writes_nothing_when_no_endpoint_subscribes(retailer, receiver):
    endpoint_for(retailer, receiver.url, types=["bonus.redeemed"])
    assert event_emit(retailer_id=retailer.pk, type=POINTS, data={"x": 1}) is None
    assert not OutboxEvent.objects.exists()


def test_event_emit_is_rolled_back_with_the_change_it_reports(retailer, receiver):
    endpoint_for(retailer, receiver.url)

    def change_that_fails():
        with transaction.atomic():
            event_emit(retailer_id=retailer.pk, type=POINTS, data={"x": 1})
            raise RuntimeError("the change failed")

    with pytest.raises(RuntimeError):
        change_that_fails()
    assert not OutboxEvent.objects.exists()
    assert not WebhookDelivery.objects.exists()


def test_dispatch_delivers_a_signed_event_to_the_receiver(retailer, receiver):
    _, secret = endpoint_for(retailer, receiver.url)
    event = event_emit(retailer_id=retailer.pk, type=POINTS, data={"points": 10}, now=T0)

    assert webhook_deliveries_dispatch(now=T0).delivered == 1

    [(headers, body)] = receiver.received
    assert json.loads(body) == {
        "id": str(event.event_id),
        "type": POINTS,
        "created": T0.isoformat(),
        "data": {"points": 10},
    }
    assert headers["Webhook-Event"] == POINTS
    assert headers["Webhook-Id"] == str(event.event_id)
    now = int(T0.timestamp())
    header = headers[SIGNATURE_HEADER]
    assert signature_verify(header=header, body=body, secret=secret, now=now)
    assert not signature_verify(header=header, body=body + b" ", secret=secret, now=now)
    assert not signature_verify(header=header, body=body, secret="whsec_other", now=now)
    assert not signature_verify(header=header, body=body, secret=secret, now=now + 301)
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("delivered", 1, 200)
    assert delivery.response_excerpt == "ok"


def test_dispatch_retries_with_backoff_until_the_receiver_recovers(retailer, receiver):
    receiver.fail = 2
    endpoint_for(retailer, receiver.url)
    event_emit(retailer_id=retailer.pk, type=POINTS, data={}, now=T0)

    assert webhook_deliveries_dispatch(now=T0).retrying == 1
    first = WebhookDelivery.objects.get()
    assert (first.last_status_code, first.last_error) == (500, "HTTP 500")
    assert first.response_excerpt == "down for now"
    # Backoff after the first failure: between half and all of the 60 s base.
    assert dt.timedelta(seconds=30) <= first.next_attempt_at - T0 <= dt.timedelta(seconds=60)
    # Not due yet: nothing is sent.
    assert webhook_deliveries_dispatch(now=first.next_attempt_at - dt.timedelta(seconds=1)) == (
        webhook_deliveries_dispatch(now=T0)
    )
    assert len(receiver.received) == 1

    second_at = first.next_attempt_at
    assert webhook_deliveries_dispatch(now=second_at).retrying == 1
    second = WebhookDelivery.objects.get()
    wait = second.next_attempt_at - second_at
    assert dt.timedelta(seconds=60) <= wait <= dt.timedelta(seconds=120)

    assert webhook_deliveries_dispatch(now=second.next_attempt_at).delivered == 1
    done = WebhookDelivery.objects.get()
    assert (done.status, done.attempts) == (DeliveryStatus.DELIVERED, 3)
    assert [a["status_code"] for a in done.history] == [500, 500, 200]
    assert len(receiver.received) == 3
    bodies = {body for _, body in receiver.received}
    assert len(bodies) == 1  # every attempt sends the same event


def test_dispatch_gives_up_a_day_after_the_event(retailer, receiver):
    receiver.fail = 10_000
    endpoint_for(retailer, receiver.url)
    event_emit(retailer_id=retailer.pk, type=POINTS, data={}, now=T0)
    now = T0
    for _ in range(40):
        webhook_deliveries_dispatch(now=now)
        delivery = WebhookDelivery.objects.get()
        if delivery.status != DeliveryStatus.PENDING:
            break
        now = delivery.next_attempt_at
    assert delivery.status == DeliveryStatus.FAILED
    assert delivery.last_attempt_at <= T0 + dt.timedelta(hours=24)
    # 1, 2, 4 ... minutes, then every 2-4 hours: about a dozen tries in the day.
    assert 9 <= delivery.attempts == len(receiver.received) <= 20
    assert webhook_deliveries_dispatch(now=now + dt.timedelta(days=2)).failed == 0


def test_replay_sends_a_failed_delivery_again(retailer, receiver):
    receiver.fail = 1
    endpoint_for(retailer, receiver.url)
    event_emit(retailer_id=retailer.pk, type=POINTS, data={}, now=T0)
    webhook_deliveries_dispatch(now=T0)
    WebhookDelivery.objects.update(status=DeliveryStatus.FAILED)
    later = T0 + dt.timedelta(days=3)

    webhook_delivery_replay(delivery_id=WebhookDelivery.objects.get().pk, now=later)

    assert webhook_deliveries_dispatch(now=later).delivered == 1
    assert WebhookDelivery.objects.get().window_started_at == later
    assert receiver.received[0][1] == receiver.received[1][1]


def test_rotated_secret_signs_beside_the_new_one_during_the_grace_period(
    retailer, receiver, settings
):
    settings.WEBHOOK_SECRET_GRACE_SECONDS = 3600
    endpoint, old = endpoint_for(retailer, receiver.url)
    endpoint, new = webhook_endpoint_rotate_secret(endpoint_id=endpoint.pk, now=T0)
    assert new != old
    event_emit(retailer_id=retailer.pk, type=POINTS, data={}, now=T0)
    event_emit(retailer_id=retailer.pk, type=POINTS, data={}, now=T0 + dt.timedelta(hours=2))

    webhook_deliveries_dispatch(now=T0)
    webhook_deliveries_dispatch(now=T0 + dt.timedelta(hours=2))

    (during, body1), (after, body2) = receiver.received
    at = int(T0.timestamp())
    assert during[SIGNATURE_HEADER].count("v1=") == 2
    assert signature_verify(header=during[SIGNATURE_HEADER], body=body1, secret=old, now=at)
    assert signature_verify(header=during[SIGNATURE_HEADER], body=body1, secret=new, now=at)
    at2 = at + 7200
    assert after[SIGNATURE_HEADER].count("v1=") == 1
    assert not signature_verify(header=after[SIGNATURE_HEADER], body=body2, secret=old, now=at2)
    assert signature_verify(header=after[SIGNATURE_HEADER], body=body2, secret=new, now=at2)


@pytest.mark.parametrize(
    "url", ["http://example.com/hook", "ftp://example.com/", "http://10.0.0.1/hook"]
)
def test_endpoint_refuses_addresses_that_are_not_https(retailer, url, local_http):
    with pytest.raises(ValidationError) as error:
        endpoint_for(retailer, url)
    assert "https://" in error.value.message_dict["url"][0]


def test_endpoint_refuses_local_http_unless_allowed(retailer, settings):
    settings.WEBHOOK_ALLOW_LOCAL_HTTP = False
    with pytest.raises(ValidationError):
        endpoint_for(retailer, "http://127.0.0.1:9/hook")


def test_endpoint_refuses_unknown_event_types(retailer):
    with pytest.raises(ValidationError) as error:
        endpoint_for(retailer, "https://example.com/hook", types=["points.changed", "nope"])
    assert "event_types" in error.value.message_dict


def test_an_unreachable_receiver_is_a_failed_attempt_not_an_error(retailer, local_http):
    server = Receiver()
    url = server.url
    server.close()  # nothing listens on the port any more
    endpoint_for(retailer, url)
    event_emit(retailer_id=retailer.pk, type=POINTS, data={}, now=T0)
    assert webhook_deliveries_dispatch(now=T0).retrying == 1
    delivery = WebhookDelivery.objects.get()
    assert delivery.last_status_code is None
    assert "Connection" in delivery.last_error or "URLError" in delivery.last_error


def test_a_sender_that_raises_is_recorded_and_the_others_still_go(retailer, receiver):
    endpoint_for(retailer, receiver.url)
    event_emit(retailer_id=retailer.pk, type=POINTS, data={"n": 1}, now=T0)
    event_emit(retailer_id=retailer.pk, type=POINTS, data={"n": 2}, now=T0)
    calls = []

    def send(delivery, now):
        calls.append(delivery.pk)
        if len(calls) == 1:
            raise RuntimeError("boom")
        from retailers.webhook_delivery import delivery_send

        return delivery_send(delivery, now)

    result = webhook_deliveries_dispatch(now=T0, send=send)
    assert (result.delivered, result.retrying) == (1, 1)
    failed = WebhookDelivery.objects.get(pk=calls[0])
    assert failed.last_error == "RuntimeError: boom"


def test_retry_delay_is_capped(settings):
    settings.WEBHOOK_RETRY_MAX_SECONDS = 3600
    assert retry_delay(30) <= dt.timedelta(hours=1)
    assert retry_delay(30) >= dt.timedelta(minutes=30)


@pytest.mark.django_db(transaction=True)
def test_a_delivery_claimed_by_another_sender_is_skipped_not_waited_for(
    retailer, receiver, monkeypatch
):
    from django.db import connections

    monkeypatch.setattr("retailers.webhooks.async_task", lambda *args: None)  # no nudge
    endpoint_for(retailer, receiver.url)
    event_emit(retailer_id=retailer.pk, type=POINTS, data={}, now=T0)
    locked, release = threading.Event(), threading.Event()

    def other_sender():
        try:
            with transaction.atomic():
                list(WebhookDelivery.objects.select_for_update())
                locked.set()
                release.wait(30)
        finally:
            connections.close_all()

    thread = threading.Thread(target=other_sender)
    thread.start()
    assert locked.wait(30)
    try:
        assert webhook_deliveries_dispatch(now=T0).delivered == 0  # skipped, not blocked
    finally:
        release.set()
        thread.join()
    assert webhook_deliveries_dispatch(now=T0).delivered == 1
    assert len(receiver.received) == 1


def test_the_documented_python_check_accepts_a_real_delivery(retailer, receiver):
    import re
    from pathlib import Path

    import time_machine

    doc = (Path(__file__).parents[2] / "docs" / "webhooks.md").read_text()
    code = re.search(r"```python\n(.*?)```", doc, re.DOTALL).group(1)
    namespace: dict = {}
    exec(code, namespace)  # noqa: S102 (our own documentation)
    _, secret = endpoint_for(retailer, receiver.url)
    event_emit(retailer_id=retailer.pk, type=POINTS, data={"n": 1}, now=T0)
    webhook_deliveries_dispatch(now=T0)
    [(headers, body)] = receiver.received
    with time_machine.travel(T0 + dt.timedelta(seconds=5), tick=False):
        assert namespace["verify"](headers[SIGNATURE_HEADER], body, secret)
        assert not namespace["verify"](headers[SIGNATURE_HEADER], body, "whsec_wrong")
    with time_machine.travel(T0 + dt.timedelta(minutes=10), tick=False):
        assert not namespace["verify"](headers[SIGNATURE_HEADER], body, secret)


def test_purge_deletes_old_finished_events_only(retailer, receiver, settings):
    from retailers.webhooks import outbox_events_purge

    settings.WEBHOOK_KEEP_DAYS = 30
    endpoint_for(retailer, receiver.url)
    old_done = event_emit(retailer_id=retailer.pk, type=POINTS, data={}, now=T0)
    old_pending = event_emit(retailer_id=retailer.pk, type=POINTS, data={}, now=T0)
    recent = event_emit(retailer_id=retailer.pk, type=POINTS, data={}, now=T0)
    WebhookDelivery.objects.filter(event=old_done).update(status=DeliveryStatus.DELIVERED)
    WebhookDelivery.objects.filter(event=recent).update(status=DeliveryStatus.FAILED)
    OutboxEvent.objects.filter(pk=recent.pk).update(created_at=T0 + dt.timedelta(days=20))

    assert outbox_events_purge(now=T0 + dt.timedelta(days=31)) == 1
    assert set(OutboxEvent.objects.values_list("pk", flat=True)) == {old_pending.pk, recent.pk}
    assert WebhookDelivery.objects.count() == 2


def test_setup_schedules_sends_webhooks_every_minute():
    from django.core.management import call_command
    from django_q.models import Schedule

    call_command("setup_schedules")
    call_command("setup_schedules")
    schedule = Schedule.objects.get(name="webhooks: send due deliveries")
    assert (schedule.func, schedule.schedule_type, schedule.minutes) == (
        "retailers.tasks.webhook_deliveries_dispatch_task",
        Schedule.MINUTES,
        1,
    )
    assert Schedule.objects.filter(func="retailers.tasks.outbox_events_purge_task").count() == 1
