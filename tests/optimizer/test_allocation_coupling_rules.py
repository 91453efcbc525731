"""Coupling rules and the gap tolerance end to end on PostgreSQL: the retailer's defaults, the
customer attributes the frames read (home store, region, channel) and a binding store cap."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from campaigns.models import CampaignMember
from customers.models import Customer
from optimizer.exceptions import AllocationSettingsInvalid
from optimizer.frames.customer_attributes import customer_attributes_add
from optimizer.models import AllocationRun
from optimizer.services.allocation import allocation_run_execute
from retailers.models import RunStatus
from tests.customers.factories import TransactionFactory
from tests.optimizer.allocation_fixtures import AS_OF, scored_tenant, start_allocation
from tests.retailers.factories import StoreFactory

pytestmark = pytest.mark.django_db
VISIT = dt.datetime(2025, 5, 20, 10, 0, tzinfo=dt.UTC)  # inside the 52 weeks before AS_OF


def two_stores(retailer) -> list[Customer]:
    """Scored tenant whose first 20 customers shop at store A (North), the others at B (South)."""
    scored_tenant(retailer)
    store_a = StoreFactory(retailer=retailer, external_id="A", region="North")
    store_b = StoreFactory(retailer=retailer, external_id="B", region="South")
    customers = list(Customer.objects.filter(retailer=retailer).order_by("pk"))
    for n, customer in enumerate(customers):
        home, other = (store_a, store_b) if n < 20 else (store_b, store_a)
        for _ in range(2):
            TransactionFactory(retailer=retailer, customer=customer, store=home, timestamp=VISIT)
        TransactionFactory(retailer=retailer, customer=customer, store=other, timestamp=VISIT)
    return customers


def solve(retailer, **constraints):
    run = start_allocation(
        retailer=retailer, budget=Decimal("200.00"), constraints=constraints, enqueue=False
    )
    return allocation_run_execute(run_id=run.pk)


def treated_at_store_a(run: AllocationRun, customers: list[Customer]) -> int:
    at_a = [c.pk for c in customers[:20]]
    return CampaignMember.objects.filter(
        campaign=run.campaign, is_control=False, customer_id__in=at_a
    ).count()


def test_a_binding_store_cap_changes_the_allocation_and_holds(retailer):
    customers = two_stores(retailer)
    free = solve(retailer)
    assert free.status == RunStatus.SUCCEEDED, free.error
    assert treated_at_store_a(free, customers) > 3

    cap = {"name": "store A", "attribute": "store", "value": "A", "limit": 3}
    capped = solve(retailer, coupling=[cap])

    assert capped.status == RunStatus.SUCCEEDED, capped.error
    assert treated_at_store_a(capped, customers) == 3
    (report,) = capped.campaign.solver["coupling"]
    assert report["name"] == "store A"
    assert report["used"] == 3
    assert report["limit"] == "3"
    assert report["binding"] is True
    assert report["description"] == "at most 3 bonuses for store = A"
    assert "store A" in capped.campaign.solver["binding"]


def test_region_minimum_and_bonus_type_filter_reach_the_engine(retailer):
    customers = two_stores(retailer)
    rule = {
        "name": "south coupons",
        "attribute": "region",
        "value": "South",
        "bonus_types": ["coupon-5"],
        "limit": 2,
    }
    run = solve(retailer, coupling=[rule])
    assert run.status == RunStatus.SUCCEEDED, run.error
    south = [c.pk for c in customers[20:]]
    coupons = CampaignMember.objects.filter(
        campaign=run.campaign,
        is_control=False,
        customer_id__in=south,
        bonus_type__code="coupon-5",
    ).count()
    assert coupons <= 2
    assert run.campaign.solver["coupling"][0]["used"] == coupons


def test_runs_take_the_retailers_rules_and_tolerance_and_keep_them(retailer):
    two_stores(retailer)
    retailer.allocation_rules = [{"attribute": "store", "value": "A", "limit": 5}]
    retailer.gap_tolerance = Decimal("0.002")
    retailer.save()

    run = start_allocation(retailer=retailer, budget=Decimal("200.00"), enqueue=False)
    assert run.constraints["coupling"][0]["value"] == "A"
    assert run.constraints["gap_tolerance"] == "0.002"

    retailer.allocation_rules = []
    retailer.gap_tolerance = Decimal("0.01")
    retailer.save()
    run = allocation_run_execute(run_id=run.pk)
    assert run.status == RunStatus.SUCCEEDED, run.error
    assert run.campaign.solver["gap_tolerance"] == pytest.approx(0.002)
    assert [r["name"] for r in run.campaign.solver["coupling"]] == ["store A cap"]


def test_an_explicit_empty_rule_list_ignores_the_retailers(retailer):
    two_stores(retailer)
    retailer.allocation_rules = [{"attribute": "store", "value": "A", "limit": 5}]
    retailer.save()
    run = solve(retailer, coupling=[])
    assert run.constraints["coupling"] == []
    assert run.campaign.solver["coupling"] == []


def test_rules_naming_an_unknown_store_or_inactive_type_are_refused(retailer):
    two_stores(retailer)
    with pytest.raises(AllocationSettingsInvalid, match="no store 'Z'") as caught:
        solve(retailer, coupling=[{"attribute": "store", "value": "Z", "limit": 1}])
    assert caught.value.field == "coupling[0].value"
    rule = {"attribute": "segment", "value": "loyal", "bonus_types": ["gift"], "limit": 1}
    with pytest.raises(AllocationSettingsInvalid, match="gift is not an active bonus type"):
        solve(retailer, coupling=[rule])


def test_customer_attributes_home_store_region_and_channel(retailer):
    customers = two_stores(retailer)
    Customer.objects.filter(pk__in=[c.pk for c in customers[1:3]]).update(email="a@example.com")
    Customer.objects.filter(pk=customers[1].pk).update(marketing_consent=False)
    run = start_allocation(retailer=retailer, budget=Decimal("20.00"), enqueue=False)
    frame = customers_frame(run)
    out = customer_attributes_add(run, frame, {"store", "region", "channel"}).set_index(
        "customer_id"
    )
    assert out.loc[customers[0].pk, "store"] == "A"
    assert out.loc[customers[25].pk, "region"] == "South"
    assert out.loc[customers[0].pk, "channel"] == "till"  # no address
    assert out.loc[customers[1].pk, "channel"] == "till"  # no consent
    assert out.loc[customers[2].pk, "channel"] == "email"


def test_customers_without_a_store_visit_in_the_year_have_no_home_store(retailer):
    customers = two_stores(retailer)
    old = dt.datetime(2024, 1, 2, 10, 0, tzinfo=dt.UTC)  # more than 52 weeks before AS_OF
    Customer.objects.filter(pk=customers[3].pk).first().transactions.update(timestamp=old)
    run = start_allocation(retailer=retailer, budget=Decimal("20.00"), enqueue=False)
    out = customer_attributes_add(run, customers_frame(run), {"store"}).set_index("customer_id")
    assert out.loc[customers[3].pk, "store"] == ""
    assert AS_OF - old.date() > dt.timedelta(weeks=52)


def customers_frame(run):
    from optimizer.frames.allocation import allocation_inputs_read

    return allocation_inputs_read(run=run).customers


def test_retailer_clean_refuses_bad_rules_naming_the_field(retailer):
    retailer.allocation_rules = [{"attribute": "city", "value": "x", "limit": 1}]
    with pytest.raises(ValidationError) as caught:
        retailer.full_clean()
    assert "allocation_rules" in caught.value.message_dict
    assert "coupling[0].attribute" in caught.value.message_dict["allocation_rules"][0]
    retailer.allocation_rules = [{"attribute": "channel", "value": "email", "limit": 100}]
    retailer.full_clean()
