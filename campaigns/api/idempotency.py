"""``Idempotency-Key`` handling: one effect per key, the same answer replayed.

The :class:`~campaigns.models.IdempotencyRecord` holding the answer is inserted in the effect's
own transaction (``INSERT ... ON CONFLICT DO NOTHING``), so the effect and its stored answer
commit together and a crash leaves neither. The unique key is the arbiter: a request whose key
is already taken (a retry, or a concurrent twin that blocked on the key's index entry until the
first one committed) rolls back whatever it did and replays the stored answer; no request ever
commits a second effect under one key. Domain refusals (409, 404, 410...) roll the effect back
and are then stored and replayed too; a lock timeout (503) rolls everything back, so the client
can retry with the same key.

A retry thus re-runs its effect before finding the key, and rolls it back: one statement fewer
for every first request (the common case) in exchange for wasted work on retries (rare).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

from django.db import connection, transaction
from django.utils import timezone
from rest_framework.response import Response

from campaigns.exceptions import IdempotencyKeyMissing, IdempotencyKeyReused
from campaigns.models import IdempotencyRecord
from campaigns.queries import IDEMPOTENCY_CLAIM
from loyalty_site.api_errors import domain_error_answer, error_body
from loyalty_site.hot_sql import hot_cursor

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255
_META_KEY = "HTTP_" + HEADER.upper().replace("-", "_")


def request_key(request: Any) -> str:
    """The request's ``Idempotency-Key``; raises :class:`IdempotencyKeyMissing` if absent."""
    # META, not request.headers: the headers dict is built from every header on first use.
    key = request.META.get(_META_KEY, "").strip()
    if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
        raise IdempotencyKeyMissing(
            f"Send an {HEADER} header (1-{MAX_KEY_LENGTH} printable characters, e.g. a UUID) so "
            "that a retried request is not applied twice."
        )
    return key


def body_hash(data: Any) -> str:
    """SHA-256 of the canonical JSON of the request body."""
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _replay(record: IdempotencyRecord, digest: str) -> Response:
    if record.request_hash != digest:
        raise IdempotencyKeyReused(f"This {HEADER} was already used with a different request body.")
    response = Response(record.response_body, status=record.status_code)
    response["Idempotent-Replayed"] = "true"
    return response


def _json(body: Any) -> Any:
    return IdempotencyRecord._meta.get_field("response_body").get_db_prep_value(body, connection)


def _claim(retailer_id: int, endpoint: str, key: str, digest: str, code: int, body: Any) -> bool:
    """Store the key's answer; ``False`` if another request holds the key.

    A concurrent request with the same key blocks on the unique index until this transaction
    ends: it then finds the committed record, or stores its own answer after a rollback.
    """
    params = IDEMPOTENCY_CLAIM.params(
        retailer_id,
        endpoint=endpoint,
        key=key,
        hash=digest,
        status=code,
        body=_json(body),
        now=timezone.now(),
    )
    with hot_cursor() as cursor:
        cursor.execute(IDEMPOTENCY_CLAIM.text, params)
        return cursor.fetchone() is not None


def _stored(retailer: Any, endpoint: str, key: str) -> IdempotencyRecord:
    return IdempotencyRecord.objects.for_retailer(retailer).get(endpoint=endpoint, key=key)


class _KeyTaken(Exception):
    """Another request committed this key first: roll back and replay its answer."""


def idempotent(
    request: Any,
    *,
    endpoint: str,
    data: Any,
    effect: Callable[[], tuple[int, dict[str, Any]]],
) -> Response:
    """Run ``effect`` once per (retailer, endpoint, key) and store its answer with it.

    ``effect()`` makes the change and returns ``(status, body)``, or raises a domain error. Its
    answer is stored under the key by the last statement of the same transaction, so that rows
    the effect locked (a redemption's campaign row, shared by every redemption of the campaign)
    stay locked only for that statement and the commit.

    A request whose key is already stored gets the stored answer: the unique key makes its own
    transaction roll back, whatever it did. A domain error rolls the effect back and its error
    answer is then stored under the key in a transaction of its own.
    """
    key = request_key(request)
    retailer = request.auth.retailer
    digest = body_hash(data)
    try:
        with transaction.atomic(durable=True):
            code, body = effect()
            if not _claim(retailer.pk, endpoint, key, digest, code, body):
                raise _KeyTaken
        return Response(body, status=code)
    except _KeyTaken:
        pass
    except Exception as exc:
        answer = domain_error_answer(exc)
        if answer is None:
            raise
        code, body = answer[0], error_body(answer[1], str(exc))
        with transaction.atomic(durable=True):
            if _claim(retailer.pk, endpoint, key, digest, code, body):
                return Response(body, status=code)
    return _replay(_stored(retailer, endpoint, key), digest)
