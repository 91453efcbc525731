"""Customer pages: list (search, filters, paging, query count) and a customer's page, per role
and across retailers."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse

from optimizer.models import CustomerScore
from retailers.models import Role
from tests.customers.factories import CustomerFactory, TransactionFactory, TransactionLineFactory
from tests.optimizer.factories import ScoringRunFactory
from tests.retailers.factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db
ROLES = [Role.VIEWER, Role.ANALYST, Role.APPROVER, Role.ADMIN]


def make_score(run, customer, *, churn="0.1234", segment="champions", clv="150.00"):
    """A stored score of ``customer`` in ``run``."""
    return CustomerScore.objects.create(
        retailer=run.retailer,
        run=run,
        customer=customer,
        churn_probability=Decimal(churn),
        p_alive=Decimal("0.9"),
        expected_visits=Decimal("2.5"),
        expected_spend=Decimal("30.00"),
        clv=Decimal(clv),
        responses={},
        segment=segment,
        reason="12 visits in the last 13 weeks",
        recency_days=4,
        frequency=30,
        frequency_52w=20,
        monetary_52w=Decimal("600.00"),
        avg_basket=Decimal("30.00"),
        tenure_days=400,
        discount_share=Decimal("0.05"),
        redemption_rate=Decimal("0.5"),
    )


@pytest.fixture
def scored(retailer):
    """Three scored customers of ``retailer`` in a succeeded run: one per churn band."""
    run = ScoringRunFactory(
        retailer=retailer,
        finished_at=dt.datetime(2025, 6, 2, 12, tzinfo=dt.UTC),
        segment_profile=[
            {"segment": "champions", "size": 2, "share": 0.667},
            {"segment": "dormant", "size": 1, "share": 0.333},
        ],
    )
    people = [
        CustomerFactory(retailer=retailer, external_id="C-ANNA", email="anna@example.com"),
        CustomerFactory(retailer=retailer, external_id="C-BORIS", email="boris@shop.example"),
        CustomerFactory(retailer=retailer, external_id="X-CLARA", email="clara@example.com"),
    ]
    make_score(run, people[0], churn="0.1000")
    make_score(run, people[1], churn="0.4500")
    make_score(run, people[2], churn="0.8000", segment="dormant")
    return run, people


@pytest.mark.parametrize("role", ROLES)
def test_customer_pages_render_for_every_role(client, make_staff, retailer, scored, role):
    _, people = scored
    client.force_login(make_staff(retailer, role))
    listing = client.get(reverse("customers:list"))
    assert listing.status_code == 200
    assert [c.external_id for c in listing.context["customers"]] == ["C-ANNA", "C-BORIS", "X-CLARA"]
    assert "dormant" in listing.content.decode()
    page = client.get(reverse("customers:detail", args=[people[2].pk]))
    assert page.status_code == 200
    html = page.content.decode()
    for text in (
        "X-CLARA",
        "dormant",
        "12 visits in the last 13 weeks",
        "80%",
        "No bonuses issued",
    ):
        assert text in html, text


def list_ids(client, **params):
    response = client.get(reverse("customers:list"), params)
    assert response.status_code == 200
    return [c.external_id for c in response.context["customers"]]


def test_customer_list_search_and_filters(client, staff_user, scored):
    client.force_login(staff_user)
    assert list_ids(client, q="c-") == ["C-ANNA", "C-BORIS"]  # customer id prefix
    assert list_ids(client, q="shop.example") == ["C-BORIS"]  # e-mail
    assert list_ids(client, segment="dormant") == ["X-CLARA"]
    assert list_ids(client, risk="high") == ["X-CLARA"]
    assert list_ids(client, risk="medium") == ["C-BORIS"]
    assert list_ids(client, risk="low", segment="champions") == ["C-ANNA"]
    assert list_ids(client, segment="no-such-segment") == ["C-ANNA", "C-BORIS", "X-CLARA"]


def test_customer_list_without_scores_lists_everyone_and_filters_to_nobody(client, staff_user):
    CustomerFactory(retailer=staff_user.memberships.get().retailer, external_id="C1")
    client.force_login(staff_user)
    assert list_ids(client) == ["C1"]
    assert list_ids(client, risk="high") == []
    assert "Not scored yet" in client.get(reverse("customers:list")).content.decode()


def test_customer_list_pages_and_keeps_the_filters(client, staff_user, retailer):
    for n in range(55):
        CustomerFactory(retailer=retailer, external_id=f"C{n:03d}")
    client.force_login(staff_user)
    first = client.get(reverse("customers:list"), {"q": "C0"})
    assert len(first.context["customers"]) == 50
    assert "q=C0&amp;page=2" in first.content.decode()
    second = client.get(reverse("customers:list"), {"q": "C0", "page": 2})
    assert [c.external_id for c in second.context["customers"]] == [
        f"C{n:03d}" for n in range(50, 55)
    ]


@pytest.mark.parametrize("customers", [3, 40])
def test_customer_list_query_count_does_not_grow_with_the_page(
    client, staff_user, scored, customers, django_assert_max_num_queries
):
    run, _ = scored
    for n in range(customers):
        make_score(run, CustomerFactory(retailer=run.retailer, external_id=f"D{n:03d}"))
    client.force_login(staff_user)
    client.get(reverse("customers:list"))  # the first page of a session saves its retailer
    # session, user, memberships, retailers, latest run, count, page: whatever the page size
    with django_assert_max_num_queries(7):
        response = client.get(reverse("customers:list"), {"risk": "low"})
    assert len(response.context["customers"]) == min(50, customers + 1)


def test_other_retailers_customers_are_404(client, retailer, other_retailer, make_staff):
    theirs = CustomerFactory(retailer=other_retailer)
    CustomerFactory(retailer=retailer, external_id="MINE")
    client.force_login(make_staff(retailer, Role.ADMIN))
    assert client.get(reverse("customers:detail", args=[theirs.pk])).status_code == 404
    assert list_ids(client) == ["MINE"]
    assert list_ids(client, q=theirs.external_id) == []


def test_a_member_of_both_retailers_following_a_link_acts_for_that_retailer(
    client, retailer, other_retailer
):
    user = UserFactory()
    MembershipFactory(user=user, retailer=retailer, role=Role.VIEWER)
    MembershipFactory(user=user, retailer=other_retailer, role=Role.VIEWER)
    theirs = CustomerFactory(retailer=other_retailer)
    client.force_login(user)
    response = client.get(reverse("customers:detail", args=[theirs.pk]))
    assert response.status_code == 200
    assert response.context["retailer"] == other_retailer
    assert client.get(reverse("customers:list")).context["retailer"] == other_retailer


def test_customer_page_lists_baskets_recent_first_with_totals_and_pages(
    client, staff_user, retailer
):
    customer = CustomerFactory(retailer=retailer, external_id="C-T")
    for day in range(1, 23):
        basket = TransactionFactory(
            retailer=retailer,
            customer=customer,
            external_id=f"T{day:02d}",
            timestamp=dt.datetime(2025, 3, day, 10, tzinfo=dt.UTC),
        )
        TransactionLineFactory(transaction=basket, line_no=1, amount=Decimal("2.10"))
        TransactionLineFactory(transaction=basket, line_no=2, amount=Decimal("1.15"))
    client.force_login(staff_user)
    page = client.get(reverse("customers:detail", args=[customer.pk]))
    baskets = list(page.context["transactions"])
    assert [b.external_id for b in baskets[:2]] == ["T22", "T21"]
    assert len(baskets) == 20
    assert baskets[0].total == Decimal("3.25")
    assert baskets[0].items == 2
    assert "3.25" in page.content.decode()
    second = client.get(reverse("customers:detail", args=[customer.pk]), {"page": 2})
    assert [b.external_id for b in second.context["transactions"]] == ["T02", "T01"]


def test_customer_page_charts_scores_across_runs(client, staff_user, retailer):
    customer = CustomerFactory(retailer=retailer)
    old = ScoringRunFactory(retailer=retailer, as_of=dt.date(2025, 5, 1))
    new = ScoringRunFactory(retailer=retailer, as_of=dt.date(2025, 6, 1))
    make_score(old, customer, churn="0.2000", clv="100.00")
    make_score(new, customer, churn="0.6000", clv="80.00", segment="at risk")
    client.force_login(staff_user)
    page = client.get(reverse("customers:detail", args=[customer.pk]))
    chart = page.context["history_chart"]
    assert chart["data"][0]["x"] == ["2025-05-01", "2025-06-01"]
    assert chart["data"][0]["y"] == [0.2, 0.6]
    assert chart["data"][1]["y"] == [100.0, 80.0]
    assert page.context["latest_score"]["segment"] == "at risk"
    html = page.content.decode()
    assert 'id="chart-history"' in html  # drawn on the server, no chart script
    assert "<script" not in html.split("</main>")[0]
