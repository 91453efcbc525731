"""Tenant isolation, automatically: every URL pattern of the project, with every parameter filled
with retailer B's keys, requested as three actors of retailer A.

The walk goes through ``get_resolver()`` recursively (admin, ``/api/v1/``, ``/portal/`` and every
staff page). A parameter that no mapping below explains makes the test fail with a message
telling the developer where to add one, so a new view is covered the day it is added.

Actors of retailer A:
    staff   a staff user with the admin role at A (session), not a superuser;
    token   a till with an API token of A (``Authorization: Token <prefix>.<secret>``);
    portal  a customer of A on the portal: no session, their own secret link.

Every answer must be a 401/403/404/405 or a redirect to a sign-in page (or, for the admin, to
the admin index, which is how the admin says "no such object"); never a 5xx, never a 200 with
B's data (B's marker string in the body), and B's rows must be untouched afterwards.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.contrib import admin
from django.contrib.contenttypes.models import ContentType
from django.core.cache import cache
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, resolve, reverse
from django.urls.resolvers import RoutePattern
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from customers.services.consent import unsubscribe_token
from tests.reliability.tenants import Tenant, build_tenant

pytestmark = pytest.mark.django_db

MARKER_A, MARKER_B = "acmea", "zqxbb"


@dataclass(frozen=True)
class Route:
    """One URL pattern: its full route text, view name, parameter names and callback."""

    parts: tuple[Any, ...]  # the pattern objects from the root to the leaf
    name: str
    params: tuple[str, ...]
    callback: Callable[..., Any]

    @property
    def text(self) -> str:
        return "".join(str(p) for p in self.parts)

    def path(self, values: dict[str, str]) -> str:
        """The concrete path with ``values`` filled in."""
        out = []
        for part in self.parts:
            text = str(part)
            if isinstance(part, RoutePattern):  # <conv:name>
                text = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: str(values[m.group(1)]), text)
            else:  # RegexPattern: (?P<name>...)
                text = re.sub(r"\(\?P<(\w+)>[^)]*\)", lambda m: str(values[m.group(1)]), text)
                text = text.lstrip("^").rstrip("$")
            out.append(text)
        return "/" + "".join(out)


def _params(pattern: Any) -> tuple[str, ...]:
    if isinstance(pattern, RoutePattern):
        return tuple(pattern.converters)
    return tuple(pattern.regex.groupindex)


def walk(resolver: URLResolver | None = None, parts=(), namespace="") -> Iterator[Route]:
    """Every URL pattern below ``resolver`` (the project's root by default), recursively."""
    resolver = resolver or get_resolver()
    for entry in resolver.url_patterns:
        here = (*parts, entry.pattern)
        if isinstance(entry, URLResolver):
            ns = namespace + (f"{entry.namespace}:" if entry.namespace else "")
            yield from walk(entry, here, ns)
        elif isinstance(entry, URLPattern):
            params = tuple(itertools.chain.from_iterable(_params(p) for p in here))
            name = namespace + (entry.name or "") if entry.name else ""
            yield Route(here, name, params, entry.callback)


# --- How parameters are filled -----------------------------------------------------------------
# Each mapping returns a list of kwargs dicts to request (several when a view takes two objects:
# every combination where at least one of them is B's, e.g. A's proposal with B's item).
Filler = Callable[[Tenant, Tenant], list[dict[str, Any]]]


def one(param: str, key: str, attr: str = "pk") -> Filler:
    return lambda a, b: [{param: getattr(b[key], attr)}]


def pair(p1: str, k1: str, p2: str, k2: str) -> Filler:
    def fill(a: Tenant, b: Tenant) -> list[dict[str, Any]]:
        combos = {"b-b": (b, b), "a-b": (a, b), "b-a": (b, a)}
        return [{p1: x[k1].pk, p2: y[k2].pk, "_combo": c} for c, (x, y) in combos.items()]

    return fill


#: Staff pages, API and portal: URL name -> how to fill its parameters with B's keys.
#: A NEW VIEW WITH URL PARAMETERS NEEDS AN ENTRY HERE (or in CREDENTIAL_PARAMS / NON_OBJECT).
MAPPINGS: dict[str, Filler] = {
    "customers:detail": one("pk", "customer"),
    "optimizer:run-detail": one("pk", "scoring_run"),
    "optimizer:run-status": one("pk", "scoring_run"),
    "optimizer:run-champions-csv": one("pk", "scoring_run"),
    "optimizer:run-restart": one("pk", "scoring_run"),
    "optimizer:allocation-detail": one("pk", "allocation_run"),
    "optimizer:allocation-status": one("pk", "allocation_run"),
    "optimizer:allocation-restart": one("pk", "allocation_run"),
    "optimizer:recommendation-detail": one("pk", "recommendation_run"),
    "campaigns:campaign-detail": one("pk", "campaign"),
    "campaigns:campaign-approve": one("pk", "campaign"),
    "campaigns:campaign-reject": one("pk", "campaign"),
    "campaigns:campaign-rerun": one("pk", "campaign"),
    "campaigns:campaign-offers": one("pk", "campaign"),
    "campaigns:campaign-results": one("pk", "campaign"),
    "campaigns:campaign-audience": one("pk", "campaign"),
    "campaigns:promotion-run-detail": one("pk", "promotion_run"),
    "campaigns:promotion-detail": one("pk", "proposal"),
    "campaigns:promotion-decide": one("pk", "proposal"),
    "campaigns:promotion-csv": one("pk", "proposal"),
    "campaigns:promotion-item-drop": pair("pk", "proposal", "item_pk", "proposal_item"),
    "retailers:member-role": one("pk", "membership"),
    "api:customer": one("external_id", "customer", "external_id"),
    "api:campaign": one("pk", "campaign"),
    # Password reset link for B's staff user with a forged token: "invalid link" page.
    "password_reset_confirm": lambda a, b: [
        {"uidb64": urlsafe_base64_encode(force_bytes(b.staff.pk)), "token": "set-password"}
    ],
    # Admin "view on site" of every B object that has a content type.
    "admin:view_on_site": lambda a, b: [
        {"content_type_id": ContentType.objects.get_for_model(obj).pk, "object_id": obj.pk}
        for obj in b.by_model().values()
    ],
    "admin:auth_user_password_change": lambda a, b: [{"id": b.staff.pk}],
    "admin:retailers_exportjob_download": one("object_id", "export_job"),
}
#: Parameters that are the actor's own credential, not a reference to an object: the portal's
#: secret link. They are filled with A's credential (must show none of B's data) and with B's
#: revoked link (must be a 404); a *valid* link of B is B's customer's own bearer credential.
CREDENTIAL_PARAMS: dict[str, Filler] = {
    "portal:page": lambda a, b: [
        {"token": a.portal_token},
        {"token": b.revoked_portal_token},
        {"token": "x" * 43},
    ],
    # The unsubscribe link names its customer in a signed token: A's own, and a forged one.
    "unsubscribe": lambda a, b: [
        {"token": unsubscribe_token(customer_id=a["customer"].pk)},
        {"token": unsubscribe_token(customer_id=b["customer"].pk)[:-3] + "xyz"},
    ],
}
#: The small allowlist of parameters that do not name an object (fixed values).
NON_OBJECT: dict[str, Filler] = {
    "admin:app_list": lambda a, b: [{"app_label": label} for label in ("retailers", "campaigns")],
    # The admin's catch-all (unknown admin URLs), with one of B's ids in it.
    "admin/(?P<url>.*)$": lambda a, b: [{"url": f"campaigns/nosuchmodel/{b['campaign'].pk}/"}],
}
#: Known bugs, each proven by its own strict-xfail test below (remove the entry with the fix).
KNOWN_ISSUES: set[tuple[str, str, str, str]] = set()
#: 200 is a legitimate answer for these (they show no object): B's marker is still checked.
MAY_ANSWER_200 = {"password_reset_confirm", "portal:page", "admin:app_list", "unsubscribe"}

ADMIN_OBJECT_VIEWS = re.compile(r"^admin/(?P<app>\w+)/(?P<model>\w+)/<path:object_id>/")


def admin_filler(route: Route) -> Filler | None:
    """Admin change/delete/history (and the bare object URL) of every registered model."""
    match = ADMIN_OBJECT_VIEWS.match(route.text)
    if not match or route.params != ("object_id",):
        return None
    for model in admin.site._registry:
        if (model._meta.app_label, model._meta.model_name) == (match["app"], match["model"]):

            def fill(a: Tenant, b: Tenant, model=model) -> list[dict[str, Any]]:
                obj = b.by_model().get(model._meta.concrete_model)
                assert obj is not None, (
                    f"The admin registers {model.__name__} but the isolation suite has no object "
                    f"of it for retailer B: add one in tests/reliability/tenants.py build_tenant()."
                )
                return [{"object_id": obj.pk}]

            return fill
    return None


def filler_for(route: Route) -> Filler | None:
    for table in (MAPPINGS, CREDENTIAL_PARAMS, NON_OBJECT):
        key = route.name or route.text  # unnamed patterns are keyed by their route text
        if key in table:
            return table[key]
    return admin_filler(route)


# --- Actors and checks ---------------------------------------------------------------------------


@pytest.fixture
def tenants(db) -> tuple[Tenant, Tenant]:
    cache.clear()  # the portal's per-address rate limit counts in the cache
    return build_tenant(MARKER_A), build_tenant(MARKER_B)


def actors(a: Tenant) -> dict[str, Client]:
    staff = Client()
    staff.force_login(a.staff)
    token = Client(HTTP_AUTHORIZATION=f"Token {a.api_key}")
    portal = Client()  # a portal customer has no session: only their secret link
    return {"staff": staff, "token": token, "portal": portal}


LOGIN_PATHS = ("/accounts/login/", "/admin/login/")


def verdict(route: Route, response: Any, b: Tenant) -> str | None:
    """Why ``response`` breaks isolation (``None`` when it is fine)."""
    status = response.status_code
    if status >= 500:
        return f"server error {status}"
    if 300 <= status < 400:
        location = response.headers.get("Location", "")
        target = location.split("?")[0]
        if target.startswith(LOGIN_PATHS) or target == reverse("admin:index"):
            return None
        if not route.name and target == response.request["PATH_INFO"] + "change/":
            return None  # the admin's bare object URL forwards to the change page (walked too)
        return f"redirect to {location} (looks like the action succeeded)"
    if b.marker.encode() in response.content.lower():
        return f"{status} showing retailer B's data ({b.marker!r} in the body)"
    if status in (401, 403, 404, 405):
        return None
    if status == 200 and route.name in MAY_ANSWER_200:
        return None
    return f"unexpected {status}"


def snapshot(b: Tenant) -> dict[str, Any]:
    """B's rows as stored: every field of every object (to prove nothing was changed)."""
    out = {}
    for name, obj in b.objects.items():
        row = type(obj)._base_manager.filter(pk=obj.pk).values().first()
        row and row.pop("last_used_at", None)  # the portal/API mark their own use
        row and row.pop("last_login", None)
        out[name] = row
    return out


def test_every_url_pattern_refuses_retailer_b_objects_to_every_actor_of_a(tenants):
    a, b = tenants
    clients = actors(a)
    before = snapshot(b)
    unmapped, failures, requests, posted = [], [], 0, 0
    routes = list(walk())
    # Sign-out pages last: they end the session of the staff client.
    routes.sort(key=lambda r: "logout" in r.name)
    for route in routes:
        if not route.params:
            continue
        filler = filler_for(route)
        if filler is None:
            unmapped.append(f"{route.text} (name {route.name!r}, parameters {route.params})")
            continue
        for values in filler(a, b):
            combo = values.pop("_combo", "b")
            path = route.path(values)
            assert resolve(path).func == route.callback, f"{path} does not resolve to {route}"
            for who, client in clients.items():
                for method in ("get", "post"):
                    response = getattr(client, method)(path)
                    requests += 1
                    posted += method == "post" and response.status_code != 405
                    why = verdict(route, response, b)
                    if why and (route.name, who, method, combo) not in KNOWN_ISSUES:
                        failures.append(f"{who} {method.upper()} {path} [{route.name}]: {why}")
    assert not unmapped, (
        "URL patterns with parameters the isolation walk cannot fill. Add each one to MAPPINGS "
        "in tests/reliability/test_isolation.py (or to NON_OBJECT if the parameter names no "
        "object) so that it is requested with retailer B's keys:\n  " + "\n  ".join(unmapped)
    )
    assert not failures, f"{len(failures)} isolation failure(s):\n  " + "\n  ".join(failures)
    assert snapshot(b) == before, "a request of retailer A changed or deleted retailer B's rows"
    print(f"isolation walk: {requests} requests, {posted} POSTs answered other than 405")
    assert requests > 300


def test_pages_without_parameters_show_none_of_retailer_b_data(tenants):
    """Lists, dashboards, admin changelists, API lists, schema: B's marker never appears."""
    a, b = tenants
    clients = actors(a)
    failures, requests = [], 0
    for route in walk():
        if route.params or "logout" in route.name:
            continue
        path = route.path({})
        for who, client in clients.items():
            response = client.get(path)
            requests += 1
            if response.status_code >= 500:
                failures.append(f"{who} GET {path}: server error {response.status_code}")
            elif b.marker.encode() in response.content.lower():
                failures.append(f"{who} GET {path}: shows retailer B's data")
    assert not failures, "\n  ".join(failures)
    assert requests > 100


def test_admin_changelists_of_a_list_a_rows_and_never_b_rows(tenants):
    """The positive control: A's admin sees A's marker on the lists where B's is absent."""
    a, b = tenants
    client = actors(a)["staff"]
    for path in ("/admin/customers/customer/", "/admin/retailers/product/", "/customers/"):
        body = client.get(path).content.lower()
        assert a.marker.encode() in body, path
        assert b.marker.encode() not in body, path


def test_retailer_switch_to_another_retailer_is_404(tenants, client):
    a, b = tenants
    client.force_login(a.staff)
    response = client.post(reverse("retailers:switch"), {"retailer": b.retailer.pk})
    assert response.status_code == 404
    assert b.marker.encode() not in client.get("/").content.lower()


def test_dropping_another_retailers_item_from_my_proposal_is_404(tenants):
    a, b = tenants
    client = actors(a)["staff"]
    path = reverse(
        "campaigns:promotion-item-drop",
        kwargs={"pk": a["proposal"].pk, "item_pk": b["proposal_item"].pk},
    )
    response = client.post(path)
    assert type(b["proposal_item"]).objects.filter(pk=b["proposal_item"].pk).exists()
    assert response.status_code == 404


def test_walk_sees_admin_api_portal_and_staff_pages():
    names = {route.name for route in walk()}
    assert {
        "api:customer",
        "portal:page",
        "customers:detail",
        "admin:campaigns_bonus_change",
    } <= names
    admin_models = {m for m in admin.site._registry}
    assert len(admin_models) >= 20
