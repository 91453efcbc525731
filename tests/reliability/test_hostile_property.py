"""Issue 15 point 5, property-based: generated hostile bodies, paths and query strings at every
API endpoint (with a valid till token) and every admin changelist (as a retailer's staff admin and
as a superuser) never answer 500. Endpoints and changelists are enumerated from the URL resolver
and the admin site, so a new one is covered without touching this file.

``pytest --hypothesis-show-statistics`` shows how the answers were spread (events).
"""

from __future__ import annotations

import json
import re
from urllib.parse import quote, urlencode

import pytest
from django.contrib import admin
from django.db import transaction
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from campaigns.api import serializers as api_serializers
from retailers.models import Role
from tests.reliability.hostile import BONUS_CODE, recent
from tests.retailers.factories import UserFactory
from tests.retailers.test_resources import grant_import_permissions

pytestmark = pytest.mark.django_db


def _walk(patterns, prefix=""):
    for pattern in patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            yield from _walk(pattern.url_patterns, route)
        elif isinstance(pattern, URLPattern):
            yield route, pattern


def api_endpoints() -> list[tuple[str, str, type]]:
    """(method, route, view class) of every view under ``/api/``, from the URL resolver."""
    found = []
    for route, pattern in _walk(get_resolver().url_patterns):
        view = getattr(pattern.callback, "view_class", None) or getattr(
            pattern.callback, "cls", None
        )
        if not route.startswith("api/") or view is None:
            continue
        for method in view.http_method_names:
            if method not in ("head", "trace") and hasattr(view, method):
                found.append((method.upper(), route, view))
    return found


ENDPOINTS = api_endpoints()
#: Every field name of every API input serializer: a body holding them all reaches any endpoint's
#: validation (serializers ignore keys that are not theirs).
INPUT_FIELDS = sorted(
    {
        name
        for klass in vars(api_serializers).values()
        if isinstance(klass, type) and klass.__name__.endswith("InputSerializer")
        for name in klass().fields
    }
)

_ODD_STRINGS = [
    "\x00",
    "C1\x00",
    "\x1b[31m",
    "\u202e",
    "1e3",
    "-1E+3",
    "NaN",
    "Infinity",
    "-0",
    "1.005",
    "0x10",
    "1_000",
    "9999-12-31T23:59:59Z",
    "9999-12-31T23:59:59-12:00",
    "0001-01-01T00:00:00Z",
    "1970-01-01T00:00:00Z",
    "2025-06-01T10:00:00",
    "2025-02-30T10:00:00Z",
    "9999-12-31",
    "0000-00-00",
    "99999999999999999999999999",
    "' OR 1=1 --",
    "../../etc/passwd",
    "%00",
    "",
    " ",
]
hostile_text = st.one_of(
    st.text(max_size=30),
    st.text(alphabet=st.characters(max_codepoint=0x1F), min_size=1, max_size=5),
    st.sampled_from(_ODD_STRINGS),
    st.integers(min_value=65, max_value=5000).map(lambda n: "x" * n),
)
hostile_number = st.one_of(
    st.integers(min_value=-(10**30), max_value=10**30),
    st.sampled_from([2**31, 2**31 - 1, -(2**31) - 1, 2**63, 10**12, 999999999.99, 7.505]),
    st.floats(),
)
hostile_leaf = st.one_of(st.none(), st.booleans(), hostile_number, hostile_text)
hostile_value = st.recursive(
    hostile_leaf,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(INPUT_FIELDS) | st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
#: Plausible values by field name: a body starts plausible in every field and then has a few
#: fields (or line fields) replaced by hostile values, so that many bodies pass validation up to
#: the hostile part and reach the services. Fields not listed here are always hostile.
_PLAUSIBLE = {
    "transaction_id": st.sampled_from(["T1", "T2"]),
    "customer_id": st.just("C1"),
    "store_id": st.sampled_from(["S1", ""]),
    "timestamp": st.builds(recent),
    "sku": st.just("A"),
    "quantity": st.sampled_from(["1", "2.5"]),
    "amount": st.sampled_from(["7.50", "9999.99", 12.5]),
    "discount": st.sampled_from(["0.50", "0"]),
    "code": st.just(BONUS_CODE),
    "basket_amount": st.sampled_from(["23.40", None]),
    "points": st.integers(min_value=1, max_value=2000),
    "reason": st.just("till"),
    "as_of": st.just("2025-06-01"),
    "horizon_weeks": st.integers(min_value=1, max_value=52),
}
_LINE_FIELDS = ("sku", "quantity", "amount", "discount")


@st.composite
def almost_valid_body(draw):
    """Every input field plausible (``lines``: 1-3 plausible lines), then 0-3 made hostile."""
    plausible = {name: _PLAUSIBLE.get(name, hostile_value) for name in INPUT_FIELDS}
    body = draw(st.fixed_dictionaries(plausible))
    line = st.fixed_dictionaries({name: _PLAUSIBLE[name] for name in _LINE_FIELDS})
    body["lines"] = draw(st.lists(line, min_size=1, max_size=3))
    for _ in range(draw(st.integers(0, 3))):
        name = draw(st.sampled_from([*INPUT_FIELDS, *(f"lines.{n}" for n in _LINE_FIELDS)]))
        current = body["lines"] if isinstance(body["lines"], list) else []
        lines = [item for item in current if isinstance(item, dict)]
        if name.startswith("lines.") and lines:  # (``lines`` itself may be hostile by now)
            target = draw(st.sampled_from(lines))
            target[name.removeprefix("lines.")] = draw(hostile_value)
        elif not name.startswith("lines."):
            body[name] = draw(hostile_value)
    return body


raw_body = st.one_of(
    almost_valid_body().map(json.dumps),
    almost_valid_body().map(json.dumps),
    hostile_value.map(lambda v: json.dumps(v)),
    st.integers(min_value=1, max_value=6000).map(lambda n: "[" * n + "]" * n),
    st.integers(min_value=1, max_value=6000).map(lambda n: '{"lines":' * n + "1" + "}" * n),
    st.text(max_size=60),
).map(lambda text: text.encode("utf-8", "surrogatepass"))
_PLACEHOLDER = re.compile(r"<(?:(?P<converter>\w+):)?(?P<name>\w+)>")


def _hostile_param():
    return st.one_of(
        st.just("C1"),
        st.just("1"),
        st.integers(min_value=-(10**25), max_value=10**25).map(str),
        hostile_text.filter(lambda t: t.strip("/") != ""),
    )


@st.composite
def api_request(draw):
    calls = [e for e in ENDPOINTS if e[0] != "OPTIONS"]
    method, route, view = draw(st.sampled_from(calls) | st.sampled_from(ENDPOINTS))
    path = "/" + _PLACEHOLDER.sub(
        lambda _: quote(draw(_hostile_param()), safe="").replace(".", "%2E"), route
    )
    if draw(st.integers(0, 9)) == 0:  # now and then a path the resolver does not know
        path = "/api/v1/" + quote(draw(hostile_text), safe="/")
    filters = getattr(getattr(view, "filterset_class", None), "base_filters", {})
    query = draw(
        st.dictionaries(
            st.sampled_from([*filters, "page", "format"]) | st.text(max_size=6),
            hostile_text | hostile_number.map(str),
            max_size=3,
        )
    )
    headers = {
        "HTTP_IDEMPOTENCY_KEY": draw(st.sampled_from(["k-1", "k-2"]) | hostile_text),
    }
    content_type = draw(
        st.sampled_from(["application/json", "application/json; charset=latin-1"])
        | st.sampled_from(["text/plain", "application/json; charset=nope", ""])
    )
    body = draw(raw_body) if method not in ("GET", "OPTIONS") else b""
    return method, path, urlencode(query), body, content_type, headers


#: Bounded for CI, with no per-example deadline: the first request
#: warms caches. The fixtures (a till, its retailer's catalogue, a customer with points and a
#: bonus) are function-scoped on purpose and shared by the examples, which is what the health
#: check warns about; each example runs in its own savepoint, rolled back after it, so every
#: example starts from the same rows.
HOSTILE = {
    "deadline": None,
    "suppress_health_check": [HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    "database": None,
}
HOSTILE_API = settings(max_examples=150, **HOSTILE)
HOSTILE_ADMIN = settings(max_examples=80, **HOSTILE)  # a changelist page costs ~0.1 s


def rolled_back(send):
    # The savepoint stands in for the test's own transaction, so it is marked the way Django's
    # TestCase marks its atomics: the durable services a request opens may nest inside it.
    savepoint = transaction.atomic()
    savepoint._from_testcase = True
    with savepoint:
        response = send()
        transaction.set_rollback(True)
    return response


def test_the_walk_finds_every_api_endpoint():
    routes = {(method, route) for method, route, _ in ENDPOINTS}
    assert ("POST", "api/v1/transactions/") in routes
    assert ("GET", "api/v1/customers/<str:external_id>/") in routes
    assert ("GET", "api/v1/campaigns/<int:pk>/") in routes
    assert len({route for _, route in routes}) >= 9
    assert {"transaction_id", "lines", "amount", "timestamp", "basket_amount"} <= set(INPUT_FIELDS)


@HOSTILE_API
@given(request=api_request())
def test_no_api_request_answers_500(till, request):
    method, path, query, body, content_type, headers = request
    response = rolled_back(
        lambda: till.generic(
            method,
            f"{path}?{query}" if query else path,
            body,
            content_type=content_type,
            **headers,
        )
    )
    event(f"{method} {response.status_code}")  # pytest --hypothesis-show-statistics
    assert response.status_code < 500 or response.status_code == 503, (
        response.status_code,
        response.content[:300],
    )


# --- Property-based: every admin changelist -----------------------------------------------------


def changelists() -> list[tuple[str, list[str]]]:
    """(url, filter parameter stems) of every ModelAdmin registered on the admin site."""
    found = []
    for model, model_admin in admin.site._registry.items():
        meta = model._meta
        stems = ["q", "o", "p", "e", "all", "_facets", "_to_field", "_popup"]
        for item in model_admin.list_filter:
            if isinstance(item, tuple | list):
                item = item[0]
            stems.append(getattr(item, "parameter_name", None) or str(item))
        if model_admin.date_hierarchy:
            stems.append(model_admin.date_hierarchy)
        url = reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist")
        found.append((url, stems))
    return found


CHANGELISTS = changelists()
_LOOKUPS = ["", "__exact", "__id__exact", "__in", "__isnull", "__gte", "__lt", "__year", "__day"]
_FILTER_LOOKUPS = ["__exact", "__id__exact", "__gte", "__lt"]  # what list filters send
_plausible_filter_value = st.sampled_from(["1", "0", "2", "True", "2025-06-01", "issued", "C1", ""])
_odd_filter_value = st.one_of(
    hostile_text,
    hostile_number.map(str),
    st.sampled_from(
        ["9999-12-31", "0001-01-01", "2025-02-30", "2025-06-01 25:00", "-1", "9" * 30, "1,2,x"]
    ),
)


@st.composite
def admin_request(draw):
    """A changelist and 0-4 parameters: mostly its own filters with plausible or odd values
    (they reach the query), sometimes anything (they must be refused, not crash)."""
    url, stems = draw(st.sampled_from(CHANGELISTS))
    filter_key = st.builds(
        lambda stem, lookup: stem + lookup,
        st.sampled_from(stems),
        st.sampled_from(_FILTER_LOOKUPS) | st.sampled_from(_LOOKUPS),
    )
    keys = st.one_of(st.sampled_from(["q", "o", "p"]), filter_key, filter_key, st.text(max_size=8))
    values = st.one_of(_plausible_filter_value, _plausible_filter_value, _odd_filter_value)
    query = draw(st.lists(st.tuples(keys, values), max_size=3))
    return url, urlencode(query)


@pytest.fixture
def admin_users(shop, make_staff):
    staff = make_staff(shop, Role.ADMIN)
    grant_import_permissions(staff)
    clients = {}
    for name, user in (("staff", staff), ("superuser", UserFactory(is_staff=True))):
        if name == "superuser":
            user.is_superuser = True
            user.save(update_fields=["is_superuser"])
        clients[name] = Client()
        clients[name].force_login(user)
    return clients


def test_the_walk_finds_every_changelist():
    urls = {url for url, _ in CHANGELISTS}
    assert len(urls) == len(admin.site._registry) >= 20
    assert "/admin/customers/pointsentry/" in urls


@HOSTILE_ADMIN
@given(request=admin_request(), who=st.sampled_from(["staff", "superuser"]))
def test_no_admin_changelist_query_answers_500(admin_users, request, who):
    url, query = request
    response = rolled_back(lambda: admin_users[who].get(f"{url}?{query}"))
    event(f"{who} {response.status_code}")
    assert response.status_code < 500, (response.status_code, url, query)
