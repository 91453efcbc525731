"""Weekly promotions a category manager would sign: partial weeks read as such, excluded and
pinned categories (retailer list, form, command), the range check and the year-long backtest
on the proposal page."""

from __future__ import annotations

import datetime as dt
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from campaigns.models import PromotionProposal
from optimizer.frames.promotions import promotion_panel_read
from optimizer.frames.trading_days import trading_days_frame
from optimizer.models import PromotionRun
from optimizer.services import promotion_run_create, promotion_run_execute
from retailers.models import CompetitorPrice, Role, RunStatus
from tests.customers.factories import TransactionFactory
from tests.optimizer.test_promotions_glue import WEEK, promo_settings, promo_tenant  # noqa: F401

pytestmark = pytest.mark.django_db


@pytest.fixture
def tenant(retailer, promo_settings):  # noqa: F811
    return promo_tenant(retailer)


def _run(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO())
    return out.getvalue()


def _propose(retailer, **options) -> PromotionProposal:
    run = promotion_run_create(retailer=retailer, week_start=WEEK, options=options, enqueue=False)
    run = promotion_run_execute(run_id=run.pk)
    assert run.status == RunStatus.SUCCEEDED, run.error
    return run.proposal


def test_trading_days_count_local_dates_and_mark_the_first_week_partial(retailer):
    monday = dt.date(2025, 5, 5)
    # A Sunday-only first week (23:30 local is still Sunday there), then a full week.
    days = [monday + dt.timedelta(days=6)] + [monday + dt.timedelta(days=7 + d) for d in range(7)]
    for day in days:
        when = dt.datetime.combine(day, dt.time(23, 30), tzinfo=retailer.tz)
        TransactionFactory(retailer=retailer, timestamp=when)
    frame = trading_days_frame(retailer=retailer, since=monday, before=monday + dt.timedelta(14))
    assert frame["week_start"].dt.date.tolist() == [monday, monday + dt.timedelta(weeks=1)]
    assert frame["trading_days"].tolist() == [1, 7]


def test_panel_carries_trading_days(retailer, tenant):
    since = WEEK - dt.timedelta(weeks=4)
    panel = promotion_panel_read(retailer=retailer, since=since, before=WEEK)
    assert "trading_days" in panel.columns
    assert panel["trading_days"].between(1, 7).all()


def test_retailer_excluded_categories_are_never_promoted(retailer, tenant):
    retailer.excluded_categories = "cat1\n  CAT2  \n"
    retailer.save(update_fields=["excluded_categories"])
    assert retailer.excluded_category_list == ["CAT2", "cat1"]
    proposal = _propose(retailer, k=6)
    categories = set(proposal.items.values_list("product__category", flat=True))
    assert categories == {"cat0"}
    assert proposal.solver["exclusions"]["excluded_category"] == 8


def test_command_takes_category_exclusions_and_pins(retailer, tenant):
    out = _run(
        "propose_promotions", "--retailer", "acme", "--week", "2025-W23", "--k", "3",
        "--exclude-category", "cat0", "--pin-category", "cat2", "--sync",
    )  # fmt: skip
    proposal = PromotionProposal.objects.get()
    assert proposal.options["excluded_categories"] == ["cat0"]
    assert proposal.options["pinned_categories"] == ["cat2"]
    categories = list(proposal.items.values_list("product__category", flat=True))
    assert "cat0" not in categories
    assert "cat2" in categories
    assert "best observed week" in out


def test_unknown_or_contradictory_categories_are_refused_naming_the_option(retailer, tenant):
    with pytest.raises(CommandError, match=r"Unknown excluded categor.*nope"):
        _run("propose_promotions", "--retailer", "acme", "--exclude-category", "nope", "--sync")
    retailer.excluded_categories = "cat1"
    retailer.save(update_fields=["excluded_categories"])
    with pytest.raises(CommandError, match="Pinned categories are also excluded: CAT1"):
        _run("propose_promotions", "--retailer", "acme", "--pin-category", "CAT1", "--sync")
    assert not PromotionRun.objects.exists()


def test_form_takes_category_exclusions_and_pins(client, retailer, tenant, make_staff, monkeypatch):
    monkeypatch.setattr("retailers.lifecycle.async_task", lambda *a, **k: None)
    client.force_login(make_staff(retailer, Role.ANALYST))
    data = {"week": "2025-W23", "k": 4, "recent_weeks": 2, "excluded_categories": "cat0\ncat1"}
    data["pinned_categories"] = "cat2"
    response = client.post(reverse("campaigns:promotion-start"), data)
    assert response.status_code == 302
    run = PromotionRun.objects.get()
    assert run.options["excluded_categories"] == ["cat0", "cat1"]
    assert run.options["pinned_categories"] == ["cat2"]


def test_proposal_page_shows_range_check_competitor_effect_and_weekly_backtest(
    client, retailer, tenant, make_staff
):
    backtest = promotion_run_create(
        retailer=retailer,
        week_start=WEEK,
        kind=PromotionRun.Kind.BACKTEST,
        options={"backtest_weeks": 4},
        enqueue=False,
    )
    backtest = promotion_run_execute(run_id=backtest.pk)
    assert backtest.status == RunStatus.SUCCEEDED, backtest.error
    weeks = backtest.result["weeks"]
    assert len(weeks) == 4
    assert {"event", "model_bias", "parity_wape"} <= set(weeks[0])
    assert "parity_wape" in backtest.result["metrics"]["competitor"]
    proposal = _propose(retailer, k=4)
    check = proposal.solver["range_check"]
    assert check["forecast_units"] > 0
    assert check["observed_max_units"] > 0
    assert len(proposal.backtest["weeks"]) == 4
    client.force_login(make_staff(retailer, Role.VIEWER))
    body = client.get(reverse("campaigns:promotion-detail", args=[proposal.pk])).content.decode()
    assert 'id="range-check"' in body
    assert "best observed full week" in body
    assert 'id="competitor-effect"' in body
    assert 'id="backtest-weeks"' in body
    assert weeks[-1]["week_start"] in body


def test_backtest_command_prints_every_week_with_bias_and_events(retailer, tenant):
    out = _run("backtest_promotions", "--retailer", "acme", "--weeks", "3", "--week", "2025-W23")
    run = PromotionRun.objects.get(kind=PromotionRun.Kind.BACKTEST)
    assert "parity WAPE" in out
    assert "event" in out
    for week in run.result["weeks"]:
        assert week["week_start"] in out
    assert "competitor prices at parity" in out


def test_admin_edits_the_retailers_excluded_categories(client, admin_user, retailer):
    client.force_login(admin_user)
    url = reverse("admin:retailers_retailer_change", args=[retailer.pk])
    page = client.get(url)
    assert page.status_code == 200
    assert 'name="excluded_categories"' in page.content.decode()


def test_proposal_reads_competitor_prices_over_the_whole_training_window(retailer, tenant):
    # The model learns the competitor effect from history rows: they need their own prices,
    # not only the last 8 weeks' (rows the model never saw a price on taught it nothing).
    old = WEEK - dt.timedelta(weeks=30)
    CompetitorPrice.objects.bulk_create(
        CompetitorPrice(retailer=retailer, product=p, competitor="Rival", date=old, price=p.price)
        for p in tenant
    )
    proposal = _propose(retailer, k=3)
    assert proposal.solver["inputs"]["competitor_price_rows"] == 2 * len(tenant)
