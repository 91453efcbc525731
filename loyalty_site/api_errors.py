"""The one DRF exception handler: every API error has the same body.

    {"error": {"code": "already_redeemed", "message": "...", "fields": {...}}}

``fields`` appears on validation errors only (field name -> list of messages). A domain error
(:class:`loyalty_site.errors.ApplicationError`) is answered with its own ``status`` and ``code``
and its message; DRF's and Django's ``ValidationError`` are 400 ``invalid``. A lock wait that
hit PostgreSQL's ``lock_timeout`` (or a deadlock, or a serialization failure) is answered
503 with ``Retry-After``: the request changed nothing and can be retried.
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import OperationalError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import set_rollback

from loyalty_site.errors import ApplicationError

logger = logging.getLogger(__name__)

#: Seconds a client should wait before retrying after a lock timeout.
LOCK_RETRY_AFTER = 1
#: SQLSTATEs of "try again": lock_not_available, deadlock_detected, serialization_failure.
RETRYABLE_SQLSTATES = {"55P03", "40P01", "40001"}


def error_body(code: str, message: str, fields: dict[str, Any] | None = None) -> dict[str, Any]:
    """The error body every API answer uses."""
    error: dict[str, Any] = {"code": code, "message": message}
    if fields:
        error["fields"] = fields
    return {"error": error}


def is_lock_timeout(exc: BaseException) -> bool:
    """True for an ``OperationalError`` that means "the row was busy, retry"."""
    if not isinstance(exc, OperationalError):
        return False
    return getattr(exc.__cause__, "sqlstate", None) in RETRYABLE_SQLSTATES


def domain_error_answer(exc: BaseException) -> tuple[int, str] | None:
    """(status, code) of a domain error, or ``None`` when ``exc`` is not one."""
    if isinstance(exc, ApplicationError):
        return exc.status, exc.code
    return None


def _flatten(detail: Any) -> Any:
    if isinstance(detail, dict):
        return {key: _flatten(value) for key, value in detail.items()}
    if isinstance(detail, list):
        return [_flatten(item) for item in detail]
    return str(detail)


def _validation(detail: Any) -> Response:
    fields = (
        _flatten(detail) if isinstance(detail, dict) else {"non_field_errors": _flatten(detail)}
    )
    names = ", ".join(sorted(fields))
    return Response(
        error_body("invalid", f"Invalid input: {names}.", fields), status.HTTP_400_BAD_REQUEST
    )


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF ``EXCEPTION_HANDLER``: map ``exc`` to the common error body (``None``: a real 500)."""
    response = _answer(exc)
    if response is not None:
        set_rollback()
    return response


def _answer(exc: Exception) -> Response | None:
    if isinstance(exc, ApplicationError):
        return Response(error_body(exc.code, str(exc)), exc.status)
    if isinstance(exc, exceptions.ValidationError):
        return _validation(exc.detail)
    if isinstance(exc, DjangoValidationError):
        detail = (
            exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        )
        return _validation(detail)
    if isinstance(exc, RequestDataTooBig):
        return Response(
            error_body("payload_too_large", "The request body is too large."),
            status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
        )
    if isinstance(exc, Http404):
        return Response(error_body("not_found", "Not found."), status.HTTP_404_NOT_FOUND)
    if isinstance(exc, DjangoPermissionDenied):
        return Response(error_body("forbidden", "Not allowed."), status.HTTP_403_FORBIDDEN)
    if isinstance(exc, exceptions.APIException):
        return _api_exception(exc)
    if is_lock_timeout(exc):
        logger.warning("lock timeout answered 503: %s", exc)
        response = Response(
            error_body("busy", "The record is busy; retry shortly. Nothing was changed."),
            status.HTTP_503_SERVICE_UNAVAILABLE,
        )
        response["Retry-After"] = str(LOCK_RETRY_AFTER)
        return response
    return None


def _api_exception(exc: exceptions.APIException) -> Response:
    headers = {}
    auth_header = getattr(exc, "auth_header", None)  # NotAuthenticated / AuthenticationFailed
    if auth_header:
        headers["WWW-Authenticate"] = auth_header
    wait = getattr(exc, "wait", None)  # Throttled
    if wait is not None:
        headers["Retry-After"] = str(int(wait))
    code = exc.get_codes() if isinstance(exc.get_codes(), str) else exc.default_code
    message = exc.detail if isinstance(exc.detail, str) else str(exc.default_detail)
    return Response(error_body(str(code), str(message)), exc.status_code, headers=headers)
