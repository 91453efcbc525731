"""Request middleware of the whole site."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import unquote_to_bytes

from django.core.handlers.base import BaseHandler
from django.core.handlers.exception import convert_exception_to_response
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse
from django.http.response import HttpResponseBase
from django.utils.module_loading import import_string

from loyalty_site.api_errors import error_body

_NUL_MESSAGE = "The address contains a NUL character."


class RefuseNulBytesMiddleware:
    """Answer 400 to a request whose path or query string holds a NUL byte (``%00``).

    No URL, filter or search of the site means a NUL, and PostgreSQL refuses it in any text
    value ("A string literal cannot contain NUL"), so a ``%00`` that reached a query was a 500
    wherever a path part or a filter value is looked up (API customer ids, admin changelist
    filters and searches). Refusing it here covers every current and future view at once. API
    paths get the API's error body; other paths a plain 400.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        query = request.META.get("QUERY_STRING", "")
        if "\x00" in request.path or b"\x00" in unquote_to_bytes(query):
            if request.path.startswith("/api/"):
                return JsonResponse(error_body("bad_request", _NUL_MESSAGE), status=400)
            return HttpResponseBadRequest(_NUL_MESSAGE, content_type="text/plain")
        return self.get_response(request)


#: The middleware a till's request passes through (see :class:`TillFastPathMiddleware`).
TILL_MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "loyalty_site.middleware.RefuseNulBytesMiddleware",
    "django.middleware.common.CommonMiddleware",
]


class _TillHandler(BaseHandler):
    """Django's request handler with :data:`TILL_MIDDLEWARE` instead of ``settings.MIDDLEWARE``.

    Hand-written (the base class reads ``settings.MIDDLEWARE`` only) and synchronous only, as the
    three classes above are; view, template-response and exception hooks are wired as Django
    wires them.
    """

    def load_middleware(self, is_async: bool = False) -> None:
        self._view_middleware: list[Any] = []
        self._template_response_middleware: list[Any] = []
        self._exception_middleware: list[Any] = []
        # django-stubs 6.1.2 do not declare BaseHandler._get_response.
        handler = convert_exception_to_response(self._get_response)  # type: ignore[attr-defined]
        for path in reversed(TILL_MIDDLEWARE):
            instance = import_string(path)(handler)
            if hasattr(instance, "process_view"):
                self._view_middleware.insert(0, instance.process_view)
            if hasattr(instance, "process_template_response"):
                self._template_response_middleware.append(instance.process_template_response)
            if hasattr(instance, "process_exception"):
                self._exception_middleware.append(instance.process_exception)
            handler = convert_exception_to_response(instance)
        self._middleware_chain = handler


class TillFastPathMiddleware:
    """Send a till's request (``/api/`` with ``Authorization: Token ...``) through the three
    middleware it needs, not the site's whole stack.

    First in ``MIDDLEWARE``. A till authenticates every request with its API token, so the
    staff pages' sessions, CSRF, authentication, messages, time zone, content security policy
    (an HTML policy on a JSON answer), clickjacking header, domain-error pages and django-axes
    do nothing for it but cost CPU: about a third of a lookup's. What stays: HTTPS redirect and
    security headers, the NUL-byte guard, the host check (``ALLOWED_HOSTS``) and
    ``APPEND_SLASH``. Any other request, the API's included when it is signed in with a session
    (the schema and docs pages for staff), goes through the whole stack.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.till = _TillHandler()
        self.till.load_middleware()

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        if request.path_info.startswith("/api/") and request.META.get(
            "HTTP_AUTHORIZATION", ""
        ).startswith("Token "):
            return self.till.get_response(request)
        return self.get_response(request)
