"""The one handler of domain errors on pages (the API has :mod:`loyalty_site.api_errors`).

Two parts, for the two shapes of a staff page:

- :class:`DomainErrorRedirectMixin`: a POST action (approve, reject, drop, restart) whose
  service refuses shows the refusal as an error message on the page it came from. The view
  says where that is (:meth:`~DomainErrorRedirectMixin.domain_error_url`) and may prefix the
  message; it no longer wraps its service call in ``try``/``except``.
- :class:`DomainErrorMiddleware`: any other domain error that reaches the top of a page view
  renders the error's status page (``status`` and message of the error) instead of a 500.

Form views that put a refusal into the form (start a run: "Not started: ... Follow run #n") keep
their own ``except``: the message belongs next to the form the person is filling in.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, ClassVar

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseBase, HttpResponseRedirect
from django.shortcuts import render

from loyalty_site.errors import ApplicationError

logger = logging.getLogger(__name__)


class DomainErrorRedirectMixin:
    """POST: a domain error becomes ``messages.error`` and a redirect (other methods re-raise)."""

    #: Put before the error's message, e.g. ``"Not approved: "``.
    domain_error_prefix: ClassVar[str] = ""
    request: HttpRequest
    kwargs: dict[str, Any]

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        try:
            return super().dispatch(request, *args, **kwargs)  # type: ignore[misc]
        except ApplicationError as exc:
            if request.method != "POST":
                raise
            messages.error(request, self.domain_error_message(exc))
            return HttpResponseRedirect(self.domain_error_url(exc))

    def domain_error_message(self, exc: ApplicationError) -> str:
        """What the person reads."""
        return f"{self.domain_error_prefix}{exc}"

    def domain_error_url(self, exc: ApplicationError) -> str:
        """The page to go back to (the object's page the form was on)."""
        raise NotImplementedError


class DomainErrorMiddleware:
    """A domain error no page view handled: its status page, not a 500 (API paths: untouched,
    DRF's handler answers them before this runs)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exc: Exception) -> HttpResponse | None:
        if not isinstance(exc, ApplicationError) or request.path.startswith("/api/"):
            return None
        if exc.status >= 500:
            logger.error("domain error %s on %s", exc.code, request.path, exc_info=exc)
        context = {"error": exc, "status": exc.status}
        return render(request, "staff/domain_error.html", context, status=exc.status)
