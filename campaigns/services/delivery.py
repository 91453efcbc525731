"""Offer e-mails reach the customers: one delivery per bonus, sent once, on its send date.

Issuance calls :func:`deliveries_prepare` in its batch transaction: every recipient gets a portal
link and a delivery row, ``pending`` when the customer consented to marketing and has an
address, else ``not_consented`` / ``no_address`` (they still get the bonus at the till and on the
portal).

Sending (:func:`deliveries_send_due`, a django-q2 schedule every minute) takes, per retailer, one
batch of at most ``EmailTemplate.per_minute`` due rows:

1. *Claim* (one short transaction): ``SELECT ... FOR UPDATE SKIP LOCKED`` picks due ``pending``
   rows (send date reached in the retailer's time zone, retry time passed) and ``sending`` rows
   whose claim is older than ``DELIVERY_LEASE_SECONDS`` (their worker died); they become
   ``sending`` under a fresh claim id, ``attempts + 1``. Two workers never claim the same row.
2. *Send*, one transaction per message: mark the row ``sent`` if it still belongs to this claim
   and the customer still consents (one ``UPDATE``, which locks the row), hand the message to
   the e-mail backend, commit. The decision to send and its record commit together; a send that
   raises rolls the mark back.

What a dying worker leaves: rows it had not reached stay ``sending`` and are claimed again after
the lease; nothing is sent twice for them. The one message whose send returned but whose commit
did not happen is sent again on the next claim, with the same ``Message-ID`` (the bonus's): an
SMTP server or ESP cannot take part in the database transaction, so "exactly once" is exactly
once in the database and at least once on the wire for at most one message per worker death
(docs/delivery.md explains why at-least-once was chosen over at-most-once).

A send that raises is retried after 2, 4, 8... minutes up to ``DELIVERY_MAX_ATTEMPTS`` claims,
then ``failed`` with its last error. Rows are not tied to the run lifecycle of
``retailers.lifecycle``: a delivery has no progress, stages or restart of its own; the lease is
the only lifecycle it needs, and it lives in the claim query.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from django.conf import settings
from django.core.mail import get_connection
from django.db import connection as db_connection
from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q, QuerySet
from django.utils import timezone

from campaigns.models import AuditAction, Bonus, BonusState, Campaign, Delivery, DeliveryState
from campaigns.services.audit import audit_record
from campaigns.services.email_messages import Letter, message_id_for, portal_seed, recipients_load
from customers.models import Customer
from customers.services.portal import portal_links_issue
from retailers.models import Retailer

logger = logging.getLogger(__name__)

#: States that end a delivery.
FINAL_STATES = (
    DeliveryState.SENT,
    DeliveryState.FAILED,
    DeliveryState.NOT_CONSENTED,
    DeliveryState.NO_ADDRESS,
    DeliveryState.OUTDATED,
)


def _initial_state(bonus: Bonus) -> str:
    if not bonus.customer.marketing_consent:
        return DeliveryState.NOT_CONSENTED
    return DeliveryState.PENDING if bonus.customer.email else DeliveryState.NO_ADDRESS


def deliveries_prepare(*, campaign: Campaign, bonuses: Iterable[Bonus]) -> int:
    """Give each issued bonus without one a portal link and a delivery row, set-based.

    Call inside the issuing transaction (``bonuses`` with ``customer`` loaded). Safe to call
    twice: both inserts ignore what exists. Returns the number of deliveries created.
    """
    todo = list(bonuses)
    if not todo:
        return 0
    now = timezone.now()
    seeds = {b.pk: portal_seed(retailer_id=b.retailer_id, code=b.code) for b in todo}
    links = portal_links_issue(
        links=[(b.retailer_id, b.customer_id, seeds[b.pk]) for b in todo], now=now
    )
    created = Delivery.objects.bulk_create(
        [
            Delivery(
                retailer_id=b.retailer_id,
                bonus_id=b.pk,
                campaign_id=campaign.pk,
                customer_id=b.customer_id,
                portal_link_id=links.get(seeds[b.pk]),
                send_on=b.valid_from,
                state=_initial_state(b),
                message_id=message_id_for(bonus_id=b.pk),
            )
            for b in todo
        ],
        ignore_conflicts=True,
    )
    audit_record(
        target=campaign,
        action=AuditAction.PORTAL_LINKS_ISSUE,
        comment="Portal links and offer e-mails prepared for the issued bonuses.",
        data={"bonuses": len(todo), "portal_links": len(links)},
    )
    return len(created)


# --- Sending -----------------------------------------------------------------------------------


def _due(retailer: Retailer, now: dt.datetime) -> Q:
    today = now.astimezone(retailer.tz).date()
    lease = now - dt.timedelta(seconds=settings.DELIVERY_LEASE_SECONDS)
    ready = Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)
    return Q(retailer_id=retailer.pk, send_on__lte=today) & (
        (Q(state=DeliveryState.PENDING) & ready)
        | Q(state=DeliveryState.SENDING, claimed_at__lt=lease)
    )


def deliveries_claim(*, retailer: Retailer, size: int, now: dt.datetime) -> tuple[uuid.UUID, int]:
    """Claim at most ``size`` due deliveries of ``retailer`` for this worker (committed).

    Returns the claim id and how many rows it holds. Rows locked by another worker's claim are
    skipped, not waited for.
    """
    claim = uuid.uuid4()
    today = now.astimezone(retailer.tz).date()
    with transaction.atomic():
        # An offer for a bonus that was used, cancelled or has expired is never sent.
        Delivery.objects.filter(_due(retailer, now)).exclude(
            bonus__state=BonusState.ISSUED, bonus__valid_to__gte=today
        ).update(state=DeliveryState.OUTDATED, claim=None)
        ids = list(
            Delivery.objects.filter(_due(retailer, now))
            .order_by("pk")
            .select_for_update(skip_locked=True)
            .values_list("pk", flat=True)[:size]
        )
        Delivery.objects.filter(pk__in=ids).update(
            state=DeliveryState.SENDING, claim=claim, claimed_at=now, attempts=F("attempts") + 1
        )
    return claim, len(ids)


def _record_failure(delivery_id: int, attempts: int, error: str, now: dt.datetime) -> str:
    final = attempts >= settings.DELIVERY_MAX_ATTEMPTS
    state = DeliveryState.FAILED if final else DeliveryState.PENDING
    Delivery.objects.filter(pk=delivery_id).update(
        state=state,
        last_error=error[:2000],
        claim=None,
        next_attempt_at=None if final else now + dt.timedelta(minutes=2**attempts),
    )
    return state


class _SendFailed(Exception):
    """The backend refused the message: roll its ``sent`` mark back, record the failure."""


def _consenting() -> Exists:
    return Exists(
        Customer.objects.filter(pk=OuterRef("customer_id"), marketing_consent=True).exclude(
            email=""
        )
    )


def _held(claim: uuid.UUID) -> QuerySet[Delivery]:
    """The rows ``claim`` still holds, whose customer still consents and has an address."""
    return Delivery.objects.filter(
        _consenting(),
        state=DeliveryState.SENDING,
        claim=claim,
        attempts__lte=settings.DELIVERY_MAX_ATTEMPTS,
    )


def _send_one(
    delivery: Delivery,
    letter: Letter,
    connection: Any,
    now: dt.datetime,
    held: QuerySet[Delivery],
) -> str:
    """Send ``delivery`` if its claim still holds it (``held``: :func:`_held`, built once per
    batch); the mark commits with the send.

    The happy path is one statement: the ``UPDATE`` that marks the row ``sent`` also checks
    (on the row itself, so a concurrent takeover is seen) that this claim holds it, and that
    the customer still consents; it locks the row until the commit that follows the send. A
    send that raises rolls the mark back.
    """
    try:
        with transaction.atomic():
            marked = held.filter(pk=delivery.pk).update(
                state=DeliveryState.SENT, sent_at=now, claim=None, last_error=""
            )
            if marked:
                try:
                    letter.message(delivery, connection=connection).send()
                except Exception as exc:
                    raise _SendFailed(f"{type(exc).__name__}: {exc}") from exc
                return DeliveryState.SENT
    except _SendFailed as exc:
        logger.warning("offer e-mail of delivery %s failed: %s", delivery.pk, exc)
        return _record_failure(delivery.pk, delivery.attempts, str(exc), now)
    return _settle_unsent(delivery, now)


def _settle_unsent(delivery: Delivery, now: dt.datetime) -> str:
    """Why :func:`_send_one` did not send: lost claim, consent or address gone, or too many
    attempts (workers died on it); the row's end state is recorded."""
    with transaction.atomic():
        held = (
            Delivery.objects.select_for_update(of=("self",))
            .filter(pk=delivery.pk, state=DeliveryState.SENDING, claim=delivery.claim)
            .values_list("attempts", "customer__marketing_consent", "customer__email")
            .first()
        )
        if held is None:
            return "lost"  # taken over by another worker after the lease: theirs now
        attempts, consent, email = held
        if not consent or not email:
            state = DeliveryState.NOT_CONSENTED if not consent else DeliveryState.NO_ADDRESS
            Delivery.objects.filter(pk=delivery.pk).update(state=state, claim=None)
            return state
        return _record_failure(delivery.pk, attempts, "worker lost the message", now)


@contextmanager
def _commit_mode() -> Iterator[None]:
    """``DELIVERY_SYNCHRONOUS_COMMIT=off``: the batch's commits do not wait for the disk.

    A worker's death loses nothing committed (PostgreSQL has the mark); a crash of PostgreSQL
    itself may lose the marks of the last moments, whose messages are then sent again (same
    Message-ID). Off by default (docs/delivery.md).
    """
    wanted = settings.DELIVERY_SYNCHRONOUS_COMMIT
    if wanted == "on":
        yield
        return
    with db_connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit TO off")
    try:
        yield
    finally:
        with db_connection.cursor() as cursor:
            cursor.execute("RESET synchronous_commit")


def deliveries_send_batch(
    *, retailer: Retailer, now: dt.datetime | None = None, size: int | None = None
) -> Counter[str]:
    """Claim and send one batch of ``retailer``'s due offer e-mails; returns outcomes counted.

    ``size`` defaults to the retailer's rate (``EmailTemplate.per_minute``).
    """
    now = now or timezone.now()
    letter = Letter(retailer)
    claim, count = deliveries_claim(
        retailer=retailer, size=size or letter.template.per_minute, now=now
    )
    outcomes: Counter[str] = Counter()
    if not count:
        return outcomes
    rows = recipients_load(Delivery.objects.filter(claim=claim).order_by("pk"))
    held = _held(claim)
    with get_connection() as connection, _commit_mode():
        for delivery in rows:
            outcomes[_send_one(delivery, letter, connection, now, held)] += 1
    logger.info("offer e-mails of %s: %s", retailer, {str(k): n for k, n in outcomes.items()})
    return outcomes


def deliveries_send_due(*, now: dt.datetime | None = None) -> Counter[str]:
    """One batch per retailer with due offer e-mails (the rate is a batch per minute)."""
    now = now or timezone.now()
    active = Delivery.objects.filter(state__in=[DeliveryState.PENDING, DeliveryState.SENDING])
    outcomes: Counter[str] = Counter()
    for retailer in Retailer.objects.filter(pk__in=active.values("retailer_id")).order_by("pk"):
        outcomes += deliveries_send_batch(retailer=retailer, now=now)
    return outcomes
