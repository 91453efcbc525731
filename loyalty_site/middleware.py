"""Request middleware of the whole site."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import unquote_to_bytes

from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse

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
