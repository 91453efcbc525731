"""The Content-Security-Policy header (django-csp) on every kind of page, and markup that needs
nothing it forbids: inline scripts and styles carry the response's nonce, no ``style``
attributes, no event-handler attributes. tests/e2e/test_csp.py checks the same in chromium."""

from __future__ import annotations

import re

import pytest
from django.core.cache import cache
from django.test import Client

from customers.services.portal import portal_link_create
from retailers.models import Role
from tests.campaigns.rewards_factories import BonusFactory
from tests.customers.factories import CustomerFactory
from tests.customers.test_views import make_score
from tests.optimizer.factories import ScoringRunFactory
from tests.optimizer.test_admin import METRICS

pytestmark = pytest.mark.django_db

INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*application/json)([^>]*)>", re.I)
INLINE_STYLE = re.compile(r"<style([^>]*)>", re.I)
STYLE_ATTRIBUTE = re.compile(r"<[a-z][^>]*\sstyle=", re.I)
HANDLER_ATTRIBUTE = re.compile(r"<[a-z][^>]*\son[a-z]+=", re.I)


@pytest.fixture
def pages(retailer, make_staff):
    """``{kind: (client, path)}`` for every kind of page."""
    cache.clear()
    run = ScoringRunFactory(
        retailer=retailer,
        metrics=METRICS,
        segment_profile=[{"segment": "champions", "size": 2, "share": 1.0}],
    )
    customer = CustomerFactory(retailer=retailer)
    make_score(run, customer)
    bonus = BonusFactory(member__campaign__retailer=retailer, member__customer=customer)
    staff = Client()
    staff.force_login(make_staff(retailer, Role.ADMIN, is_superuser=True))
    return {
        "sign-in": (Client(), "/accounts/login/"),
        "dashboard": (staff, "/"),
        "scoring run": (staff, f"/runs/{run.pk}/"),
        "customer": (staff, f"/customers/{customer.pk}/"),
        "campaign": (staff, f"/campaigns/{bonus.campaign.pk}/"),
        "allocation form": (staff, "/runs/allocations/new/"),
        "admin index": (staff, "/admin/"),
        "admin changelist": (staff, "/admin/customers/customer/"),
        "admin add form": (staff, "/admin/customers/transaction/add/"),
        "admin scoring run": (staff, f"/admin/optimizer/scoringrun/{run.pk}/change/"),
        "admin import": (staff, "/admin/retailers/product/import/"),
        "swagger": (staff, "/api/v1/docs/"),
        "api schema": (staff, "/api/v1/schema/"),
        "portal": (Client(), portal_link_create(customer=customer).path),
        "not found": (staff, "/no-such-page/"),
    }


def test_every_kind_of_page_sends_the_policy_and_needs_nothing_it_forbids(pages):
    problems = []
    for kind, (client, path) in pages.items():
        response = client.get(path)
        policy = response.headers.get("Content-Security-Policy", "")
        if "script-src 'self'" not in policy or "default-src 'self'" not in policy:
            problems.append(f"{kind}: policy {policy!r}")
            continue
        if "unsafe-inline" in policy or "unsafe-eval" in policy:
            problems.append(f"{kind}: {policy!r}")
        nonce = re.search(r"'nonce-([^']+)'", policy)
        html = response.content.decode()
        for tag in (*INLINE_SCRIPT.findall(html), *INLINE_STYLE.findall(html)):
            if not nonce or f'nonce="{nonce.group(1)}"' not in tag:
                problems.append(f"{kind}: inline script or style without the nonce: {tag!r}")
        for pattern in (STYLE_ATTRIBUTE, HANDLER_ATTRIBUTE):
            problems += [f"{kind}: {m.group(0)!r}" for m in pattern.finditer(html)]
    assert problems == []
