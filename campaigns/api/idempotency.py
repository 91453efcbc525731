"""``Idempotency-Key`` handling: one effect per key, the same answer replayed.

Inside the request's transaction the :class:`~campaigns.models.IdempotencyRecord` is inserted
*first* (``INSERT ... ON CONFLICT DO NOTHING``). Concurrent requests with the same key block on
its unique index until the first one commits, then find the committed record and replay its
stored answer. The effect and the stored answer commit together, so a crash leaves neither.
Domain refusals (409, 404, 410...) roll the effect back and are then stored and replayed too; a
lock timeout (503) rolls everything back, record included, so the client can retry with the same
key.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

from django.db import connection, transaction
from django.utils import timezone
from rest_framework import status
from rest_framework.response import Response

from campaigns.models import IdempotencyRecord
from loyalty_site.api_errors import domain_error_answer, error_body

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255


class IdempotencyKeyMissing(Exception):
    api_status = 400
    api_code = "idempotency_key_required"


class IdempotencyKeyReused(Exception):
    api_status = 422
    api_code = "idempotency_key_reused"


class IdempotencyInProgress(Exception):
    api_status = 409
    api_code = "idempotency_in_progress"


def request_key(request: Any) -> str:
    """The request's ``Idempotency-Key``; raises :class:`IdempotencyKeyMissing` if absent."""
    key = request.headers.get(HEADER, "").strip()
    if not key or len(key) > MAX_KEY_LENGTH:
        raise IdempotencyKeyMissing(
            f"Send an {HEADER} header (1-{MAX_KEY_LENGTH} characters, e.g. a UUID) so that a "
            "retried request is not applied twice."
        )
    return key


def body_hash(data: Any) -> str:
    """SHA-256 of the canonical JSON of the request body."""
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _replay(record: IdempotencyRecord, digest: str) -> Response:
    if record.request_hash != digest:
        raise IdempotencyKeyReused(f"This {HEADER} was already used with a different request body.")
    if record.status_code is None:
        raise IdempotencyInProgress("A request with this key is still being processed.")
    response = Response(record.response_body, status=record.status_code)
    response["Idempotent-Replayed"] = "true"
    return response


_INSERT = f"""
INSERT INTO {IdempotencyRecord._meta.db_table}
    (retailer_id, endpoint, "key", request_hash, status_code, response_body, created_at)
VALUES (%s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (retailer_id, endpoint, "key") DO NOTHING
RETURNING id
"""  # noqa: S608 - the table name comes from the model, values are parameters

_ANSWER = f"""
UPDATE {IdempotencyRecord._meta.db_table} SET status_code = %s, response_body = %s WHERE id = %s
"""  # noqa: S608


def _json(body: Any) -> Any:
    return IdempotencyRecord._meta.get_field("response_body").get_db_prep_value(body, connection)


def _claim(
    retailer_id: int, endpoint: str, key: str, digest: str, answer: tuple[int, Any] | None = None
) -> int | None:
    """Insert the key's record (optionally with its answer); ``None`` if the key is taken.

    A concurrent request with the same key blocks on the unique index until this transaction
    ends: it then finds the committed record, or claims the key itself after a rollback.
    """
    code, body = answer if answer else (None, None)
    params = [
        retailer_id,
        endpoint,
        key,
        digest,
        code,
        None if body is None else _json(body),
        connection.ops.adapt_datetimefield_value(timezone.now()),
    ]
    with connection.cursor() as cursor:
        cursor.execute(_INSERT, params)
        row = cursor.fetchone()
    return row[0] if row else None


def _stored(retailer: Any, endpoint: str, key: str) -> IdempotencyRecord:
    return IdempotencyRecord.objects.for_retailer(retailer).get(endpoint=endpoint, key=key)


def idempotent(
    request: Any,
    *,
    endpoint: str,
    data: Any,
    effect: Callable[[], tuple[int, dict[str, Any]]],
) -> Response:
    """Run ``effect`` once per (retailer, endpoint, key) and store its answer.

    ``effect`` returns ``(status, body)`` or raises a domain error. A domain error rolls the
    whole transaction back (the effect and the claimed key: no savepoint is needed on the
    success path) and its error answer is then stored under the key in a transaction of its own.
    """
    key = request_key(request)
    retailer = request.auth.retailer
    digest = body_hash(data)
    try:
        with transaction.atomic():
            record_id = _claim(retailer.pk, endpoint, key, digest)
            if record_id is None:
                return _replay(_stored(retailer, endpoint, key), digest)
            code, body = effect()
            with connection.cursor() as cursor:
                cursor.execute(_ANSWER, [code, _json(body), record_id])
        return Response(body, status=code or status.HTTP_200_OK)
    except (IdempotencyKeyReused, IdempotencyInProgress):
        raise
    except Exception as exc:
        answer = domain_error_answer(exc)
        if answer is None:
            raise
        code, body = answer[0], error_body(answer[1], str(exc))
    with transaction.atomic():
        if _claim(retailer.pk, endpoint, key, digest, (code, body)) is None:
            return _replay(_stored(retailer, endpoint, key), digest)
    return Response(body, status=code)
