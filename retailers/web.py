"""The page side of the tenancy mechanism: the current retailer, role checks, scoped lookups.

Staff pages act for one retailer at a time, the *current retailer*: its id is kept in the session
and is always one the user belongs to (any retailer for superusers); a user with one retailer
simply has that one. Everything here builds on :mod:`retailers.tenancy` (``for_user``,
``has_role``, ``retailer_roles``); nothing filters by hand.

Build every staff page on :class:`RetailerViewMixin` (class-based views) or
:func:`retailer_required` (function views)::

    class CampaignListView(RetailerViewMixin, ListView):
        min_role = Role.VIEWER                       # 403 below it, login redirect if anonymous

        def get_queryset(self):
            return self.scoped(Campaign)             # this user's rows of the current retailer

    campaign = self.get_scoped_object(Campaign.objects.all(), pk=pk)  # 404: not the user's
    self.require_role(Role.APPROVER)                 # 403 unless approver at that retailer
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Callable
from functools import wraps
from typing import TYPE_CHECKING, Any, ClassVar

from django.contrib.auth.decorators import login_required
from django.contrib.auth.mixins import AccessMixin
from django.core.exceptions import PermissionDenied
from django.db import models
from django.http import Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404, render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone, translation

from retailers.models import Retailer, Role
from retailers.tenancy import has_role, retailer_roles

if TYPE_CHECKING:
    from django.views.generic.base import ContextMixin, View

    from loyalty_site.users import RequestUser

    class _ViewBase(ContextMixin, View):
        """What the mixin is mixed into: a class-based view (for the type checker only)."""

        kwargs: dict[str, Any]  # the URL's keyword arguments, set by View.setup()

else:
    _ViewBase = object

#: Session key of the current retailer's id.
SESSION_KEY = "current_retailer_id"
_CACHE_ATTR = "_current_retailer"
_LIST_ATTR = "_user_retailers"


def user_retailers(user: RequestUser) -> models.QuerySet[Retailer]:
    """The retailers ``user`` may act for, by name (every retailer for active superusers).

    The same set as ``scope_for_user(Retailer.objects.all(), user)``, read from the user's cached
    :func:`~retailers.tenancy.retailer_roles` so that a page asks for the memberships once.
    """
    retailers = Retailer.objects.order_by("name", "pk")
    if user.is_authenticated and user.is_active and user.is_superuser:
        return retailers
    return retailers.filter(pk__in=list(retailer_roles(user)))


def request_retailers(request: HttpRequest) -> list[Retailer]:
    """:func:`user_retailers` of the request's user, read once per request."""
    if not hasattr(request, _LIST_ATTR):
        setattr(request, _LIST_ATTR, list(user_retailers(request.user)))
    return getattr(request, _LIST_ATTR)


def current_retailer(request: HttpRequest) -> Retailer | None:
    """The retailer the request acts for: the session's choice while the user still belongs to
    it, else the user's first retailer by name (remembered). ``None`` for anonymous users and
    users without any retailer. Cached on the request."""
    if hasattr(request, _CACHE_ATTR):
        return getattr(request, _CACHE_ATTR)
    user = request.user
    retailer = None
    if user.is_authenticated:
        retailers = request_retailers(request)
        chosen = request.session.get(SESSION_KEY)
        retailer = next((r for r in retailers if r.pk == chosen), None)
        if retailer is None:
            retailer = retailers[0] if retailers else None
            if retailer is None:
                request.session.pop(SESSION_KEY, None)
            else:
                request.session[SESSION_KEY] = retailer.pk
    setattr(request, _CACHE_ATTR, retailer)
    return retailer


def retailer_switch(request: HttpRequest, retailer_id: Any) -> Retailer:
    """Make ``retailer_id`` the current retailer of the session.

    Raises:
        Http404: the user does not belong to that retailer (or it does not exist).
    """
    try:
        pk = int(retailer_id)
    except (TypeError, ValueError) as exc:
        raise Http404("No such retailer.") from exc
    retailer = next((r for r in request_retailers(request) if r.pk == pk), None)
    if retailer is None:
        raise Http404("No such retailer.")
    request.session[SESSION_KEY] = retailer.pk
    setattr(request, _CACHE_ATTR, retailer)
    return retailer


def role_at(user: RequestUser, retailer: Retailer | None) -> str | None:
    """``user``'s role at ``retailer`` (``admin`` for superusers; ``None`` without one)."""
    if retailer is None or not user.is_authenticated or not user.is_active:
        return None
    if user.is_superuser:
        return Role.ADMIN
    return retailer_roles(user).get(retailer.pk)


def url_or_none(*names: str, **kwargs: Any) -> str | None:
    """The URL of the first of ``names`` that exists (``None`` if none does).

    Navigation uses it for pages other apps add later (campaigns, promotions)."""
    for name in names:
        try:
            return reverse(name, kwargs=kwargs or None)
        except NoReverseMatch:
            continue
    return None


def no_retailer_response(request: HttpRequest) -> HttpResponse:
    """The page a signed-in user without any retailer gets (403)."""
    return render(request, "staff/no_retailer.html", status=403)


def admin_time_zone(request: HttpRequest) -> zoneinfo.ZoneInfo | None:
    """The zone the admin shows times in: that of the user's one retailer; ``None`` (UTC) for
    superusers and users of several retailers, whose lists mix retailers of several zones."""
    user = request.user
    if not user.is_authenticated or user.is_superuser:
        return None
    retailers = request_retailers(request)
    return retailers[0].tz if len(retailers) == 1 else None


def retailer_formats_activate(retailer: Retailer) -> None:
    """Show this request's times in the retailer's zone and its numbers, money and dates in its
    locale, until the request ends (:class:`RetailerTimeZoneMiddleware` deactivates both)."""
    timezone.activate(retailer.tz)
    translation.activate(retailer.locale)


class RetailerTimeZoneMiddleware:
    """Times in the retailer's zone (and numbers in its locale), only for the request that asked.

    Staff pages activate the zone of the retailer they act for (:class:`RetailerViewMixin`,
    :func:`retailer_required`); admin pages that of :func:`admin_time_zone`. Templates then show
    every datetime in that zone, and the layouts name it. The zone and the locale are deactivated
    after each request, so that a worker thread never carries them into the next one (API answers
    stay UTC and unlocalised).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.admin_prefix: str | None = None  # resolved on the first request (URLconf loaded)

    def __call__(self, request: HttpRequest) -> HttpResponse:
        timezone.deactivate()
        translation.deactivate()
        if self.admin_prefix is None:
            try:
                self.admin_prefix = reverse("admin:index")
            except NoReverseMatch:
                self.admin_prefix = ""  # a pool without the admin (WEB_POOL=tills)
        if self.admin_prefix and request.path.startswith(self.admin_prefix):
            zone = admin_time_zone(request)
            if zone is not None:
                timezone.activate(zone)
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()
            translation.deactivate()


class RetailerViewMixin(AccessMixin, _ViewBase):
    """Staff page of the current retailer: sign-in required, ``min_role`` there required (403).

    Sets ``self.retailer`` and ``request.retailer``, and offers :meth:`scoped`,
    :meth:`get_scoped_object`, :meth:`require_role` and :meth:`user_can`.
    """

    min_role: ClassVar[str] = Role.VIEWER
    retailer: Retailer

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        retailer = current_retailer(request)
        if retailer is None:
            return no_retailer_response(request)
        self._act_for(retailer)
        return super().dispatch(request, *args, **kwargs)

    def _act_for(self, retailer: Retailer) -> None:
        self.retailer = self.request.retailer = retailer  # type: ignore[attr-defined]
        retailer_formats_activate(retailer)
        self.require_role(self.min_role)

    def user_can(self, minimum: str) -> bool:
        """True when the user holds ``minimum`` or more at the current retailer."""
        return has_role(self.request.user, minimum, self.retailer)

    def require_role(self, minimum: str) -> None:
        """Raise ``PermissionDenied`` (403) unless the user holds ``minimum`` here."""
        if not self.user_can(minimum):
            raise PermissionDenied(f"This page needs the {minimum} role at {self.retailer}.")

    def scoped(self, model_or_queryset: Any) -> models.QuerySet:
        """Rows of the current retailer that the user may see (``for_user`` + ``for_retailer``)."""
        queryset = getattr(model_or_queryset, "objects", model_or_queryset)
        return queryset.for_user(self.request.user).for_retailer(self.retailer)

    def get_scoped_object(self, queryset: Any, **lookups: Any) -> Any:
        """The one row of ``queryset`` matching ``lookups`` among the user's retailers; 404
        otherwise (another retailer's row looks like a missing one).

        A member of several retailers who follows a link to a row of another of them acts for
        that retailer from then on (the current retailer switches, and ``min_role`` is checked
        there)."""
        queryset = getattr(queryset, "objects", queryset)
        obj = get_object_or_404(queryset.for_user(self.request.user), **lookups)
        if obj.retailer_id != self.retailer.pk:
            self._act_for(retailer_switch(self.request, obj.retailer_id))
        return obj

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["retailer"] = self.retailer
        return context


def retailer_required(
    min_role: str = Role.VIEWER,
) -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
    """Decorator of a function view: like :class:`RetailerViewMixin`, sets ``request.retailer``."""

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        @login_required
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            retailer = current_retailer(request)
            if retailer is None:
                return no_retailer_response(request)
            if not has_role(request.user, min_role, retailer):
                raise PermissionDenied(f"This page needs the {min_role} role at {retailer}.")
            request.retailer = retailer  # type: ignore[attr-defined]
            retailer_formats_activate(retailer)
            return view(request, *args, **kwargs)

        return wrapped

    return decorator
