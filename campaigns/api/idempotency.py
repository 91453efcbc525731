"""``Idempotency-Key`` handling: one effect per key, the same answer replayed.

Inside the request's transaction the :class:`~campaigns.models.IdempotencyRecord` is inserted
*first*. Concurrent requests with the same key block on its unique index until the first one
commits, then fail the insert, re-read the committed record and replay its stored answer. The
effect and the stored answer commit together, so a crash leaves neither. Domain refusals
(409, 404, 410...) are stored and replayed too; a lock timeout (503) rolls everything back,
record included, so the client can retry with the same key.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

from django.db import IntegrityError, transaction
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


def idempotent(
    request: Any,
    *,
    endpoint: str,
    data: Any,
    effect: Callable[[], tuple[int, dict[str, Any]]],
) -> Response:
    """Run ``effect`` once per (retailer, endpoint, key) and store its answer.

    ``effect`` returns ``(status, body)`` or raises a domain error (stored as its error answer).
    """
    key = request_key(request)
    retailer = request.auth.retailer
    digest = body_hash(data)
    with transaction.atomic():
        try:
            with transaction.atomic():
                record = IdempotencyRecord.objects.create(
                    retailer=retailer, endpoint=endpoint, key=key, request_hash=digest
                )
        except IntegrityError:
            existing = IdempotencyRecord.objects.for_retailer(retailer).get(
                endpoint=endpoint, key=key
            )
            return _replay(existing, digest)
        try:
            with transaction.atomic():
                code, body = effect()
        except Exception as exc:
            answer = domain_error_answer(exc)
            if answer is None:
                raise
            code, body = answer[0], error_body(answer[1], str(exc))
        record.status_code = code
        record.response_body = body
        record.save(update_fields=["status_code", "response_body"])
    return Response(body, status=code or status.HTTP_200_OK)
