"""Tenant isolation of the admin's forms, automatically: every registered ModelAdmin's add form and
retailer A's change page, with each relation field set to retailer B's row, in the query string
(initial values) and in posted data that is otherwise A's own form as the browser would send it.

The actor is A's admin-role staff user (not a superuser). Every answer must show none of B's
identifiers or labels (B's marker string), never be a 5xx, never a "saved" redirect, and nothing
may be written: B's and A's rows are compared field by field and every admin model's row count
is unchanged. Related-lookup popups, A's own change pages (read-only fields, inlines) and the
changelists with B's ids as filters are walked too. A positive control posts A's own change
forms unchanged and expects them saved, so the refusals above are the B ids' doing.
"""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any

import pytest
from django.contrib import admin
from django.db import models
from django.test import Client
from django.urls import NoReverseMatch, reverse

from tests.reliability.tenants import Tenant, build_tenant
from tests.reliability.test_isolation import MARKER_A, MARKER_B, snapshot
from tests.retailers.test_resources import grant_import_permissions

pytestmark = pytest.mark.django_db


@pytest.fixture
def tenants(db) -> tuple[Tenant, Tenant]:
    return build_tenant(MARKER_A), build_tenant(MARKER_B)


class _FormFields(HTMLParser):
    """The fields of each POST form of a page, as a browser would submit them."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict[str, list[str]]] = []
        self._form: dict[str, list[str]] | None = None
        self._select: str | None = None
        self._options: list[tuple[str, bool]] = []
        self._textarea: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form" and a.get("method", "").lower() == "post" and a.get("id") != "logout-form":
            self._form = {}
            self.forms.append(self._form)
        if self._form is None or tag not in ("input", "select", "option", "textarea"):
            return
        name = a.get("name", "")
        if tag == "input" and name and a.get("type", "text") not in ("submit", "button", "file"):
            box = a.get("type") in ("checkbox", "radio")
            if box and "checked" not in a:
                return
            self._form.setdefault(name, []).append(a.get("value", "on" if box else ""))
        elif tag == "select":
            self._select, self._options = name, []
        elif tag == "option" and self._select is not None:
            self._options.append((a.get("value", ""), "selected" in a))
        elif tag == "textarea" and name:
            self._textarea = name
            self._form.setdefault(name, []).append("")

    def handle_data(self, data: str) -> None:
        if self._textarea and self._form is not None:
            self._form[self._textarea][-1] += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._form = None
        elif tag == "textarea":
            self._textarea = None
        elif tag == "select" and self._select is not None and self._form is not None:
            chosen = [v for v, selected in self._options if selected] or [
                v for v, _ in self._options[:1]
            ]
            if self._select:
                self._form[self._select] = chosen
            self._select = None


def form_data(response: Any) -> dict[str, list[str]]:
    """The largest POST form of an admin page (the model's form), as the browser would send it."""
    parser = _FormFields()
    parser.feed(response.content.decode())
    return max(parser.forms, key=len, default={})


def relation_fields(model: type[models.Model]) -> list[models.Field]:
    return [f for f in [*model._meta.fields, *model._meta.many_to_many] if f.is_relation]


def foreign_value(field: models.Field, b: Tenant) -> Any:
    """B's row of the field's related model (``None`` when B has none: a global model)."""
    obj = b.by_model().get(field.related_model._meta.concrete_model)
    return None if obj is None else getattr(obj, field.target_field.attname)


def admin_url(model: type[models.Model], view: str, *args: Any) -> str | None:
    try:
        return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)
    except NoReverseMatch:
        return None


def row_counts() -> dict[str, int]:
    return {m._meta.label: m._base_manager.count() for m in admin.site._registry}


def leak(response: Any, b: Tenant, *, posted: bool) -> str | None:
    """Why ``response`` breaks isolation (``None`` when it is fine)."""
    if response.status_code >= 500:
        return f"server error {response.status_code}"
    if b.marker.encode() in response.content.lower():
        return f"{response.status_code} showing retailer B's data ({b.marker!r} in the body)"
    if 300 <= response.status_code < 400:
        target = response.headers.get("Location", "").split("?")[0]
        if not posted and target in (reverse("admin:index"), "/admin/login/"):
            return None
        return f"redirect to {target} (the form was accepted)"
    if response.status_code not in (200, 403):
        return f"unexpected {response.status_code}"
    return None


def staff(a: Tenant) -> Client:
    """A's admin-role staff, also holding Django's view/add/change permissions of the data apps
    (the membership and retailer admins ask for those), so that those forms are walked too."""
    grant_import_permissions(a.staff)
    client = Client()
    client.force_login(a.staff)
    return client


def test_admin_forms_never_show_or_save_retailer_b_ids_given_in_the_query_or_the_post(tenants):
    a, b = tenants
    client = staff(a)
    before, counts = (snapshot(a), snapshot(b)), row_counts()
    failures, requests, posts = [], 0, 0
    for model in admin.site._registry:
        mine = a.by_model().get(model._meta.concrete_model)
        add, change = admin_url(model, "add"), mine and admin_url(model, "change", mine.pk)
        pages = {url: form_data(client.get(url)) for url in (add, change) if url}
        if change:  # the add form starts from A's own values where it has the same fields
            own = {k: v for k, v in pages[change].items() if k in pages[add]}
            pages[add] = {**pages[add], **own}
        for field in relation_fields(model):
            value = foreign_value(field, b)
            if value is None:
                continue
            checks = [("get", add, {field.name: value})]
            checks += [
                ("post", url, {**data, field.name: [str(value)], "_save": ["Save"]})
                for url, data in pages.items()
                if field.name in data  # a field the form does not hold is ignored anyway
            ]
            for method, url, params in checks:
                posts += method == "post"
                response = getattr(client, method)(url, params)
                requests += 1
                why = leak(response, b, posted=method == "post")
                if why:
                    failures.append(f"{method.upper()} {url} with B's {field.name}={value}: {why}")
    assert not failures, f"{len(failures)} admin form leak(s):\n  " + "\n  ".join(failures)
    assert (snapshot(a), snapshot(b)) == before, "a refused form changed stored rows"
    assert row_counts() == counts, "a form with retailer B's ids wrote rows"
    print(f"admin form walk: {requests} requests, {posts} posts of B's id in a form's field")
    assert posts > 20


def test_admin_pages_of_retailer_a_and_lookups_show_no_retailer_b_label(tenants):
    """A's change pages (read-only fields, inlines), the related-lookup popups and changelists
    filtered by B's ids show none of B's data."""
    a, b = tenants
    client = staff(a)
    failures = []
    for model in admin.site._registry:
        mine = a.by_model().get(model._meta.concrete_model)
        urls = [admin_url(model, "change", mine.pk)] if mine else []
        changelist = admin_url(model, "changelist")
        urls.append(f"{changelist}?_popup=1&_to_field=id")
        for field in relation_fields(model):
            value = foreign_value(field, b)
            if value is not None:
                urls.append(f"{changelist}?{field.name}__{field.target_field.name}__exact={value}")
        for url in filter(None, urls):
            why = leak(client.get(url), b, posted=False)
            if why:
                failures.append(f"GET {url}: {why}")
    assert not failures, "\n  ".join(failures)


def test_admin_change_forms_of_retailer_a_save_a_own_data_unchanged(tenants):
    """The positive control: the walk's form data is valid, so B's id alone makes it refused."""
    a, _ = tenants
    client = staff(a)
    saved = []
    for model in admin.site._registry:
        mine = a.by_model().get(model._meta.concrete_model)
        url = mine and admin_url(model, "change", mine.pk)
        if not url:
            continue
        data = form_data(client.get(url))
        if any(f.name in data for f in relation_fields(model)):
            response = client.post(url, {**data, "_save": ["Save"]})
            # (A redirect's context may hold other templates' contexts: the e-mail template's
            # own validation renders it.)
            errors = response.status_code != 302 and response.context["adminform"].form.errors
            assert response.status_code == 302, (url, errors)
            saved.append(model._meta.label)
    assert {"customers.Transaction", "retailers.InventoryLevel", "campaigns.PastOffer"} <= set(
        saved
    )


def test_a_plain_foreign_key_list_filter_lists_only_the_users_retailers_rows(tenants, monkeypatch):
    """Django's RelatedFieldListFilter lists every related row; the scoped admin's must not."""
    from customers.models import Transaction

    a, b = tenants
    monkeypatch.setattr(admin.site._registry[Transaction], "list_filter", ("store", "customer"))
    page = staff(a).get(admin_url(Transaction, "changelist")).content.decode().lower()
    assert f"{a.marker} store" in page  # the filter is there, with A's store
    assert b.marker not in page


def test_autocomplete_fields_show_and_find_only_the_users_retailers_rows(tenants, monkeypatch):
    from campaigns.models import PastOffer

    a, b = tenants
    offers = admin.site._registry[PastOffer]
    monkeypatch.setattr(offers, "autocomplete_fields", ("customer",))
    monkeypatch.setattr(offers, "raw_id_fields", ("bonus_type",))
    client = staff(a)
    form = client.get(admin_url(PastOffer, "add"), {"customer": b["customer"].pk})
    assert form.status_code == 200
    assert b"admin-autocomplete" in form.content
    assert b.marker.encode() not in form.content.lower()
    own = client.get(admin_url(PastOffer, "change", a["past_offer"].pk))
    assert a["customer"].external_id.encode() in own.content
    search = {"app_label": "campaigns", "model_name": "pastoffer", "field_name": "customer"}
    found = client.get(reverse("admin:autocomplete"), {**search, "term": a.marker}).json()
    assert [r["id"] for r in found["results"]] == [str(a["customer"].pk)]
    other = client.get(reverse("admin:autocomplete"), {**search, "term": b.marker}).json()
    assert other["results"] == []


def test_a_superuser_still_sees_every_retailers_labels(tenants, django_user_model):
    from customers.models import Transaction

    _, b = tenants
    root = django_user_model.objects.create_superuser("root", "root@example.com", "x")
    client = Client()
    client.force_login(root)
    response = client.get(admin_url(Transaction, "add"), {"customer": b["customer"].pk})
    assert b["customer"].external_id.encode() in response.content
