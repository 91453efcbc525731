"""An approved week of promotions goes out (CSV download, ``export_promotions``, the tills' API)
and comes back (actual against forecast on the proposal page, history for the lift model)."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from campaigns.models import ProposalState
from campaigns.services.promotions import promotion_proposal_approve
from optimizer.frames.promotion_outcomes import promotion_outcome_read
from optimizer.frames.promotions import promotion_panel_read
from retailers.models import Role
from tests.campaigns.rewards_factories import token_client
from tests.campaigns.test_promotion_views import WEEK, make_proposal
from tests.customers.factories import TransactionFactory, TransactionLineFactory
from tests.retailers.factories import ProductFactory

pytestmark = pytest.mark.django_db

HEADER = (
    "sku,product,scope,store,regular_price,promoted_price,discount_rate,valid_from,valid_to\r\n"
)


@pytest.fixture
def approved(retailer, make_staff):
    proposal = make_proposal(retailer)
    promotion_proposal_approve(proposal_id=proposal.pk, actor=make_staff(retailer, Role.APPROVER))
    proposal.refresh_from_db()
    return proposal


def test_the_approved_week_downloads_as_csv(client, retailer, make_staff, approved):
    client.force_login(make_staff(retailer, Role.VIEWER))
    response = client.get(reverse("campaigns:promotion-csv", args=[approved.pk]))
    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="promotions-2025-06-02.csv"'
    text = response.content.decode()
    assert text.startswith(HEADER)
    assert "acme-1,Product acme-1,chain,,2.00,1.60,0.2000,2025-06-02,2025-06-08\r\n" in text
    assert text.count("\r\n") == 4


def test_a_proposal_not_approved_is_not_published(client, retailer, make_staff):
    proposal = make_proposal(retailer)
    client.force_login(make_staff(retailer, Role.VIEWER))
    assert client.get(reverse("campaigns:promotion-csv", args=[proposal.pk])).status_code == 404


def test_another_retailers_csv_is_404(client, other_retailer, make_staff, approved):
    client.force_login(make_staff(other_retailer, Role.ADMIN))
    assert client.get(reverse("campaigns:promotion-csv", args=[approved.pk])).status_code == 404


def test_export_promotions_writes_formula_safe_csv(retailer, approved, tmp_path):
    product = approved.items.get(rank=1).product
    product.name = "=HYPERLINK(evil)"
    product.save(update_fields=["name"])
    target = tmp_path / "promotions.csv"
    out = io.StringIO()
    call_command(
        "export_promotions", "--retailer=acme", "--date=2025-06-05", f"-o={target}", stdout=out
    )
    text = target.read_bytes().decode()
    assert text.startswith(HEADER)
    assert "acme-1,'=HYPERLINK(evil),chain," in text
    assert "Wrote 3 promoted products in force on 2025-06-05" in out.getvalue()


def test_export_promotions_refuses_a_day_without_approved_promotions(retailer, approved):
    with pytest.raises(CommandError, match="no approved promotions in force on 2025-06-09"):
        call_command("export_promotions", "--retailer=acme", "--date=2025-06-09", "-o=-")


def test_current_promotions_api_lists_the_weeks_items_in_few_queries(
    api_client, retailer, other_retailer, make_staff, approved, django_assert_num_queries
):
    other = make_proposal(other_retailer, products=1)
    promotion_proposal_approve(
        proposal_id=other.pk, actor=make_staff(other_retailer, Role.APPROVER)
    )
    client = token_client(api_client, retailer)[0]
    client.get("/api/v1/promotions/current/?date=2025-06-01")  # the token is now cached
    # Every item in one query; the rate counter was leased by the first request.
    with django_assert_num_queries(1):
        response = client.get("/api/v1/promotions/current/?date=2025-06-08")
    assert response.status_code == 200
    body = response.json()
    assert body["date"] == "2025-06-08"
    assert [p["sku"] for p in body["promotions"]] == ["acme-1", "acme-2", "acme-3"]
    assert body["promotions"][0] | {} == {
        "sku": "acme-1",
        "product": "Product acme-1",
        "scope": "chain",
        "store": None,
        "regular_price": "2.00",
        "promoted_price": "1.60",
        "discount_rate": "0.2000",
        "valid_from": "2025-06-02",
        "valid_to": "2025-06-08",
    }
    assert client.get("/api/v1/promotions/current/?date=2025-06-09").json()["promotions"] == []
    assert client.get("/api/v1/promotions/current/?date=nope").status_code == 400


def test_current_promotions_api_needs_a_token(api_client):
    assert api_client.get("/api/v1/promotions/current/").status_code == 401


# --- Actual against forecast -------------------------------------------------------------------
def sell(retailer, product, units: str, amount: str, when: dt.datetime) -> None:
    txn = TransactionFactory(retailer=retailer, timestamp=when)
    TransactionLineFactory(
        transaction=txn, product=product, quantity=Decimal(units), amount=Decimal(amount)
    )


def local(day: dt.date, hour: int, retailer) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour), tzinfo=retailer.tz)


def sell_the_week(retailer, approved) -> None:
    first, second = (i.product for i in approved.items.order_by("rank")[:2])
    sell(retailer, first, "20", "32.00", local(WEEK + dt.timedelta(days=1), 10, retailer))
    sell(retailer, second, "30", "48.00", local(WEEK + dt.timedelta(days=3), 10, retailer))
    # The week's last day is imported (another product sold).
    sell(
        retailer,
        ProductFactory(retailer=retailer),
        "1",
        "2.00",
        local(WEEK + dt.timedelta(6), 20, retailer),
    )
    # The next week's sales are not this week's.
    sell(retailer, first, "99", "99.00", local(WEEK + dt.timedelta(days=7), 10, retailer))


def test_outcome_waits_for_the_end_of_the_week_and_its_transactions(retailer, approved):
    after = WEEK + dt.timedelta(days=7)
    assert not promotion_outcome_read(proposal=approved, today=after).ready
    first = approved.items.get(rank=1).product
    sell(retailer, first, "20", "32.00", local(WEEK + dt.timedelta(days=1), 10, retailer))
    assert not promotion_outcome_read(proposal=approved, today=after).ready  # last day missing
    sell_the_week(retailer, approved)
    assert not promotion_outcome_read(proposal=approved, today=WEEK + dt.timedelta(6)).ready
    assert promotion_outcome_read(proposal=approved, today=after).ready


def test_outcome_compares_units_and_margin_per_item(retailer, approved):
    sell_the_week(retailer, approved)
    outcome = promotion_outcome_read(proposal=approved, today=WEEK + dt.timedelta(days=7))
    assert [(r.sku, r.forecast_units, r.actual_units) for r in outcome.rows] == [
        ("acme-1", Decimal("25.00"), Decimal("20")),
        ("acme-2", Decimal("25.00"), Decimal("30")),
        ("acme-3", Decimal("25.00"), Decimal("0")),
    ]
    # Forecast margin 25 x (2.00 x 0.8 - 1.20) = 10.00; actual 32.00 - 20 x 1.20 = 8.00.
    assert [(r.forecast_margin, r.actual_margin) for r in outcome.rows] == [
        (Decimal("10.00"), Decimal("8.00")),
        (Decimal("10.00"), Decimal("12.00")),
        (Decimal("10.00"), Decimal("0.00")),
    ]
    assert [r.units_error for r in outcome.rows] == [0.25, pytest.approx(0.1667, abs=1e-4), None]
    assert (outcome.units_wape, outcome.units_bias) == (0.7, 0.5)  # (5 + 5 + 25) / 50
    assert outcome.margin_wape == 0.7  # (2 + 2 + 10) / 20


def test_proposal_page_shows_waiting_then_the_outcome(client, retailer, make_staff, approved):
    client.force_login(make_staff(retailer, Role.VIEWER))
    url = reverse("campaigns:promotion-detail", args=[approved.pk])
    body = client.get(url).content.decode()
    assert "Waiting for the week" in body
    assert reverse("campaigns:promotion-csv", args=[approved.pk]) in body
    sell_the_week(retailer, approved)
    body = client.get(url).content.decode()
    assert 'id="outcome-wape"' in body
    assert "Units WAPE 0.700" in body


def test_a_proposed_week_shows_no_outcome_block(client, retailer, make_staff):
    proposal = make_proposal(retailer)
    client.force_login(make_staff(retailer, Role.VIEWER))
    body = client.get(reverse("campaigns:promotion-detail", args=[proposal.pk])).content.decode()
    assert "promotion-outcome" not in body
    assert proposal.state == ProposalState.PROPOSED


def test_approved_weeks_count_as_promoted_history(retailer, approved):
    sell_the_week(retailer, approved)
    panel = promotion_panel_read(
        retailer=retailer, since=WEEK - dt.timedelta(weeks=1), before=WEEK + dt.timedelta(weeks=2)
    )
    week = panel[panel["week_start"] == WEEK.isoformat()]
    promoted = set(week.loc[week["mailer_share"] == 1.0, "product_id"])
    assert promoted == {i.product_id for i in approved.items.all()}
    assert (week["display_share"] == 0.0).all()
    next_week = panel[panel["week_start"] == (WEEK + dt.timedelta(weeks=1)).isoformat()]
    assert (next_week["mailer_share"] == 0.0).all()
