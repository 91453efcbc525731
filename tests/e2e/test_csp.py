"""The Content-Security-Policy in a real browser: every kind of page works under it and chromium
reports no violation (staff pages with charts, the admin, Swagger UI, the portal).

Violations are caught twice: the ``securitypolicyviolation`` DOM event (recorded by an init
script, which CSP does not govern) and chromium's "Content Security Policy" console errors.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from customers.services.portal import portal_link_create
from retailers.models import Role
from tests.campaigns.rewards_factories import BonusFactory
from tests.customers.factories import CustomerFactory
from tests.customers.test_views import make_score
from tests.optimizer.factories import ScoringRunFactory
from tests.optimizer.test_admin import METRICS

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

PASSWORD = "pw-Secret-123"
RECORD_VIOLATIONS = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__csp.push(`${e.violatedDirective} blocked ${e.blockedURI || "inline"} ` +
                    `(${e.sourceFile || ""}:${e.lineNumber || ""} ${e.sample || ""})`);
});
"""


@pytest.fixture
def site(retailer, make_staff):
    """A retailer with a scored run (charts), a campaign bonus and a portal link."""
    run = ScoringRunFactory(
        retailer=retailer,
        metrics=METRICS,
        finished_at=dt.datetime(2025, 6, 2, 12, tzinfo=dt.UTC),
        segment_profile=[
            {"segment": "champions", "size": 2, "share": 0.6667},
            {"segment": "dormant", "size": 1, "share": 0.3333},
        ],
    )
    customer = CustomerFactory(retailer=retailer)
    make_score(run, customer)
    bonus = BonusFactory(member__campaign__retailer=retailer, member__customer=customer)
    staff = make_staff(retailer, Role.ADMIN, username="csp-admin", is_superuser=True)
    staff.set_password(PASSWORD)
    staff.save()
    return {
        "run": run,
        "customer": customer,
        "campaign": bonus.campaign,
        "portal": portal_link_create(customer=customer).path,
    }


def open_checked(page, url: str, ready: str) -> list[str]:
    """Open ``url``, wait for the selector ``ready`` (drawn by the page's scripts), and return
    the CSP violations seen."""
    console: list[str] = []
    page.on(
        "console",
        lambda msg: console.append(msg.text) if "Content Security Policy" in msg.text else None,
    )
    response = page.goto(url)
    assert response.status == 200, url
    assert "content-security-policy" in response.headers, url
    drawn = []
    try:
        page.wait_for_selector(ready, state="attached", timeout=20_000)
        page.wait_for_load_state("networkidle")
    except PlaywrightTimeout:
        drawn = [f"{ready!r} never appeared"]
    return [*drawn, *page.evaluate("window.__csp"), *console]


def test_every_kind_of_page_works_under_the_content_security_policy(live_server, browser, site):
    base = live_server.url
    context = browser.new_context()
    context.add_init_script(RECORD_VIOLATIONS)
    page = context.new_page()
    page.set_default_timeout(60_000)
    found: dict[str, list[str]] = {}

    found["login"] = open_checked(page, f"{base}/accounts/login/", "input[name=username]")
    page.fill("input[name=username]", "csp-admin")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state()
    charts = ".chart svg.bar"  # drawn on the server
    pages = {
        "dashboard": ("/", charts),
        "scoring run": (f"/runs/{site['run'].pk}/", charts),
        "customer": (f"/customers/{site['customer'].pk}/", "main h1"),
        "campaign": (f"/campaigns/{site['campaign'].pk}/", "main h1"),
        "allocation form": ("/runs/allocations/new/", "form"),
        "admin index": ("/admin/", "#content"),
        "admin changelist": ("/admin/retailers/product/", "#changelist"),
        "admin add form": ("/admin/customers/transaction/add/", "form"),
        "admin run": (f"/admin/optimizer/scoringrun/{site['run'].pk}/change/", "form"),
        "admin import": ("/admin/retailers/product/import/", "form"),
        "swagger": ("/api/v1/docs/", ".swagger-ui .info"),
        "portal": (site["portal"], ".qr svg"),
    }
    for name, (path, ready) in pages.items():
        found[name] = open_checked(page, base + path, ready)
    violations = {name: seen for name, seen in found.items() if seen}
    assert violations == {}, json.dumps(violations, indent=2)
    context.close()
