"""``staff`` in every template: current retailer, role, retailer switcher and navigation.

Lazy: nothing is queried unless a template reads ``staff`` (the admin's pages do not).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from retailers.models import Retailer, Role
from retailers.tenancy import has_role
from retailers.web import current_retailer, request_retailers, role_at, url_or_none

#: (label, URL names tried in order, minimum role). Entries whose page does not exist yet are
#: left out, so the campaigns and promotions pages appear once their URLs are added.
NAVIGATION: tuple[tuple[str, tuple[str, ...], str], ...] = (
    ("Dashboard", ("retailers:dashboard",), Role.VIEWER),
    ("Customers", ("customers:list",), Role.VIEWER),
    ("Runs", ("optimizer:run-list",), Role.VIEWER),
    ("Campaigns", ("campaigns:campaign-list", "campaigns:list"), Role.VIEWER),
    ("Promotions", ("campaigns:promotion-list", "promotions:list"), Role.VIEWER),
    ("Team", ("retailers:team",), Role.ADMIN),
)


@dataclass(frozen=True)
class NavItem:
    label: str
    url: str
    active: bool


@dataclass(frozen=True)
class StaffContext:
    """What the base layout shows for the signed-in user."""

    retailer: Retailer | None = None
    role: str | None = None
    #: Retailers to switch between: empty unless the user has more than one.
    switchable: list[Retailer] = field(default_factory=list)
    nav: list[NavItem] = field(default_factory=list)
    #: Show the "Admin" link (users Django's admin lets in).
    show_admin: bool = False


def _build(request: HttpRequest) -> StaffContext:
    user = request.user
    if not user.is_authenticated:
        return StaffContext()
    retailer = current_retailer(request)
    retailers = request_retailers(request)
    nav = []
    if retailer is not None:
        for label, names, minimum in NAVIGATION:
            url = url_or_none(*names)
            if url is None or not has_role(user, minimum, retailer):
                continue
            active = request.path == url if url == "/" else request.path.startswith(url)
            nav.append(NavItem(label, url, active))
    return StaffContext(
        retailer=retailer,
        role=role_at(user, retailer),
        switchable=retailers if len(retailers) > 1 else [],
        nav=nav,
        show_admin=user.is_active and user.is_staff,
    )


def staff(request: HttpRequest) -> dict[str, Any]:
    """Template context processor (``settings.TEMPLATES``)."""
    return {"staff": SimpleLazyObject(lambda: _build(request))}
