"""The whole loop in a real browser: sign in, import a CSV in the admin, score, allocate, approve
as a second approver, redeem through the POS API, and see the bonus as used on the portal.

Tasks run in-process (the test settings' ``Q_CLUSTER["sync"]``), so each start form returns
once its run has finished. Every page is saved as a screenshot under tests/e2e/artifacts/.
"""

from __future__ import annotations

import datetime as dt
import json
import urllib.request
import uuid

import pytest
from django.utils import timezone

from campaigns.models import Bonus, BonusState, Campaign, CampaignState
from campaigns.services.tokens import api_token_create
from customers.services.portal import portal_link_create
from optimizer.models import AllocationRun, ScoringRun
from retailers.models import Product, Role, RunStatus
from tests.optimizer.factories import AS_OF, synthetic_tenant

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

PASSWORD = "pw-Secret-123"
CSV = "sku,name,category,brand,unit_cost,price\nE2E-1,Oat milk,Dairy,House,0.80,1.49\n"


def sign_in(page, base: str, username: str) -> None:
    page.goto(f"{base}/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state()


def submit(page, label: str) -> None:
    page.get_by_role("button", name=label).first.click()
    page.wait_for_load_state()


def test_staff_flow_from_csv_import_to_a_redeemed_bonus_on_the_portal(
    live_server, browser, retailer, make_staff, scoring_settings, shot, tmp_path, time_machine
):
    # The clock is pinned (the live server's thread shares it): the week after the synthetic
    # history, whatever day the suite runs on.
    time_machine.move_to(dt.datetime.combine(AS_OF, dt.time(10), tzinfo=retailer.tz), tick=True)
    base = live_server.url
    synthetic_tenant(retailer, customers=60)
    retailer.four_eyes = True
    retailer.save(update_fields=["four_eyes"])
    analyst = make_staff(retailer, Role.ADMIN, username="ana")
    approver = make_staff(retailer, Role.APPROVER, username="bob")

    page = browser.new_page()
    page.set_default_timeout(120_000)
    # 1. Staff sign-in.
    sign_in(page, base, analyst.username)
    assert page.url.rstrip("/") == base
    shot(page, "dashboard")

    # 2. Admin import: upload -> preview -> confirm.
    answer = page.goto(f"{base}/admin/retailers/product/import/")
    assert answer.status == 200, page.content()[:2000]
    upload = tmp_path / "products.csv"
    upload.write_text(CSV)
    page.set_input_files("input[type=file]", str(upload))
    page.select_option("select[name=retailer]", str(retailer.pk))
    if page.locator("select[name=format]").count():
        page.select_option("select[name=format]", index=1)
    shot(page, "import-upload")
    page.locator("form[enctype='multipart/form-data'] input[type=submit].default").click()
    page.wait_for_load_state()
    shot(page, "import-preview")
    assert "Oat milk" in page.content()
    page.locator("input[type=submit][name=confirm]").click()
    page.wait_for_load_state()
    shot(page, "import-done")
    assert Product.objects.filter(retailer=retailer, sku="E2E-1").exists()

    # 3. Scoring from the start form.
    page.goto(f"{base}/runs/new/")
    page.fill("input[name=as_of]", AS_OF.isoformat())
    shot(page, "scoring-form")
    submit(page, "Start scoring run")
    shot(page, "scoring-run")
    run = ScoringRun.objects.get(retailer=retailer)
    assert run.status == RunStatus.SUCCEEDED, run.error

    # 4. Allocation from the staff page.
    page.goto(f"{base}/runs/allocations/new/")
    page.fill("input[name=budget]", "40")
    # The (pinned) current week, right after the synthetic history.
    today = timezone.localdate(timezone=retailer.tz)
    this_week = (today - dt.timedelta(days=today.weekday())).isoformat()
    page.select_option("select[name=week_start]", this_week)  # the form offers weeks
    shot(page, "allocation-form")
    submit(page, "Start allocation")
    shot(page, "allocation-run")
    allocation = AllocationRun.objects.get(retailer=retailer)
    assert allocation.status == RunStatus.SUCCEEDED, allocation.error
    campaign = Campaign.objects.get(allocation_run=allocation)

    # 5. Four eyes: the analyst who started it cannot approve; a second approver does.
    page.goto(f"{base}/campaigns/{campaign.pk}/")
    shot(page, "campaign-proposed")
    second = browser.new_page()
    second.set_default_timeout(120_000)
    sign_in(second, base, approver.username)
    second.goto(f"{base}/campaigns/{campaign.pk}/")
    page = second
    submit(page, "Approve and issue")
    shot(page, "campaign-approved")
    campaign.refresh_from_db()
    assert campaign.state == CampaignState.ISSUED
    bonus = Bonus.objects.filter(campaign=campaign).order_by("pk").first()
    assert bonus is not None

    # 6. A till redeems the bonus through the API, at noon on its first valid day.
    first_day = dt.datetime.combine(bonus.valid_from, dt.time(12), tzinfo=retailer.tz)
    time_machine.move_to(max(first_day, timezone.now()), tick=True)
    key = api_token_create(retailer=retailer, name="e2e till").key
    request = urllib.request.Request(  # noqa: S310 - the live server's own URL
        f"{base}/api/v1/redemptions/",
        data=json.dumps({"code": bonus.code}).encode(),
        headers={
            "Authorization": f"Token {key}",
            "Idempotency-Key": uuid.uuid4().hex,
            "Content-Type": "application/json",
        },
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=60) as answer:  # noqa: S310
        assert answer.status == 201
        assert json.loads(answer.read())["code"] == bonus.code
    bonus.refresh_from_db()
    assert bonus.state == BonusState.REDEEMED

    # 7. The customer's portal page lists it as used.
    link = portal_link_create(customer=bonus.customer)
    portal = browser.new_page()
    portal.goto(f"{base}{link.path}")
    page = portal
    shot(page, "portal")
    used = portal.locator("section[aria-labelledby=redeemed]")
    assert bonus.code in used.inner_text()
