"""Every staff page and the portal, in chromium at 1366 px (a laptop) and 390 px (a phone).

Each page is opened in a fresh browser context (a cold HTTP cache) and must:

- not overflow sideways: neither the document nor any element scrolls horizontally (a table
  inside an ``overflow-x: auto`` wrapper that needs sideways scrolling counts as overflow);
- have no serious or critical axe-core violation (axe-playwright-python, pinned in
  requirements-dev.txt, bundles axe-core).

The cold load time (navigation start to the load event) of each page is printed, never asserted
(no timed assertions in tests). Screenshots go to var/screenshots/ (git-ignored), each also
as its first screen (``*-first-screen.png``).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.urls import reverse

from retailers.models import Role
from tests.e2e.pages_data import Pages, pages_data

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

PASSWORD = "pw-Secret-123"
WIDTHS = {"desktop": (1366, 800), "phone": (390, 844)}
SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"
SHOT_PAGES = {"dashboard", "campaign", "promotion", "portal"}

#: Elements that scroll sideways or stick out of the viewport (inputs scroll their own text).
OVERFLOW_JS = """() => {
  const width = document.documentElement.clientWidth;
  const found = [];
  const name = (e) => e.tagName.toLowerCase() + (e.id ? "#" + e.id : "") +
    (typeof e.className === "string" && e.className ?
     "." + e.className.trim().split(/\\s+/).join(".") : "");
  if (document.documentElement.scrollWidth > width + 1) {
    const out = [...document.body.querySelectorAll("*")].filter(
      (e) => e.getBoundingClientRect().right > width + 1 && !e.closest(".table-wrap"));
    found.push(`document ${document.documentElement.scrollWidth} > ${width}: ` +
               out.slice(-3).map(name).join(", "));
  }
  for (const e of document.body.querySelectorAll("*")) {
    if (["INPUT", "TEXTAREA", "SELECT", "OPTION", "SCRIPT"].includes(e.tagName)) continue;
    const style = getComputedStyle(e);
    if (style.display === "none" || style.visibility === "hidden") continue;
    if (["auto", "scroll"].includes(style.overflowX) && e.scrollWidth > e.clientWidth + 1) {
      found.push(`${name(e)} scrolls ${e.scrollWidth} > ${e.clientWidth}`);
    }
  }
  return found;
}"""

LOAD_JS = """() => {
  const nav = performance.getEntriesByType("navigation")[0];
  return nav.loadEventEnd - nav.startTime;
}"""


def staff_urls(data: Pages) -> dict[str, str]:
    """Every staff page (name -> path), the forms included."""
    campaign, proposal = data.campaign.pk, data.proposal.pk
    return {
        "dashboard": reverse("retailers:dashboard"),
        "customers": reverse("customers:list"),
        "customer": reverse("customers:detail", args=[data.customer.pk]),
        "scoring-runs": reverse("optimizer:run-list"),
        "scoring-run": reverse("optimizer:run-detail", args=[data.scoring_run.pk]),
        "scoring-start": reverse("optimizer:run-start"),
        "allocations": reverse("optimizer:allocation-list"),
        "allocation": reverse("optimizer:allocation-detail", args=[data.allocation_run.pk]),
        "allocation-start": reverse("optimizer:allocation-start"),
        "recommendation": reverse(
            "optimizer:recommendation-detail", args=[data.recommendation_run.pk]
        ),
        "campaigns": reverse("campaigns:campaign-list"),
        "campaign": reverse("campaigns:campaign-detail", args=[campaign]),
        "campaign-results": reverse("campaigns:campaign-results", args=[campaign]),
        "promotions": reverse("campaigns:promotion-list"),
        "promotion-start": reverse("campaigns:promotion-start"),
        "promotion": reverse("campaigns:promotion-detail", args=[proposal]),
        "promotion-run": reverse(
            "campaigns:promotion-run-detail", args=[data.proposal.promotion_run_id]
        ),
        "password-change": reverse("password_change"),
        "team": reverse("retailers:team"),
        "retailer-new": reverse("retailers:create"),
    }


def check_page(browser, base: str, path: str, *, state, viewport):
    """Open ``path`` cold; return its load time (ms), its problems (overflow, axe), the page
    and its context (for a screenshot; the caller closes the context)."""
    size = {"width": viewport[0], "height": viewport[1]}
    context = browser.new_context(storage_state=state, viewport=size)
    page = context.new_page()
    answer = page.goto(f"{base}{path}", wait_until="load")
    problems = [] if answer and answer.ok else [f"HTTP {answer.status if answer else '?'}"]
    load_ms = float(page.evaluate(LOAD_JS))
    problems += page.evaluate(OVERFLOW_JS)
    for violation in Axe().run(page).response["violations"]:
        if violation["impact"] in {"serious", "critical"}:
            targets = [node["target"] for node in violation["nodes"]][:3]
            problems.append(f"axe {violation['impact']} {violation['id']}: {targets}")
    return load_ms, problems, page, context


def test_every_page_fits_both_widths_and_passes_axe(
    live_server, browser, retailer, make_staff, scoring_settings, capsys
):
    data = pages_data(retailer)
    # A superuser admin: every page (the new-retailer form too) is open to them.
    user = make_staff(retailer, Role.ADMIN, username="walker", is_superuser=True)
    make_staff(
        retailer, Role.ANALYST, username="a-colleague-with-a-long-name", email="x@example.com"
    )
    base = live_server.url
    login = browser.new_context()
    page = login.new_page()
    page.goto(f"{base}{reverse('login')}")
    page.fill("input[name=username]", user.username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state()
    state = login.storage_state()
    login.close()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    pages = {**staff_urls(data), "portal": data.portal_path}
    if only := os.environ.get("E2E_PAGES"):  # E2E_PAGES=promotion,campaign while working on them
        pages = {name: path for name, path in pages.items() if name in only.split(",")}
    failures: list[str] = []
    report: list[str] = []
    started = time.monotonic()
    for width_name, viewport in WIDTHS.items():
        for name, path in pages.items():
            cookies = None if name == "portal" else state
            load_ms, problems, opened, context = check_page(
                browser, base, path, state=cookies, viewport=viewport
            )
            report.append(f"{name:18} {viewport[0]:>5} px  cold load {load_ms:7.0f} ms")
            failures += [f"{name} at {viewport[0]} px: {p}" for p in problems]
            if name in SHOT_PAGES:
                shot = SCREENSHOTS / f"{name}-{width_name}.png"
                opened.screenshot(path=str(shot), full_page=True)
                opened.screenshot(path=str(shot.with_name(f"{shot.stem}-first-screen.png")))
                report.append(
                    f"  screenshots {shot.relative_to(SCREENSHOTS.parents[1])} (+ first screen)"
                )
            context.close()
    with capsys.disabled():
        print("\n" + "\n".join(report))
        took = time.monotonic() - started
        print(f"walked {len(pages)} pages x {len(WIDTHS)} widths in {took:.1f} s")
    assert not failures, "\n".join(failures)
