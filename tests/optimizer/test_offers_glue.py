"""Personalised offers for a proposed campaign, from candidates to issued bonuses (PostgreSQL).

The figures are checked by hand in ``tests/campaigns/offer_fixtures.py``: budget 1.50; the
generic coupons cost 0.50 (c1, value 1.00) and 1.00 (c2, value 0.20); c1's milk offer costs the
retailer 0.35 (value 2.00 - 0.35 = 1.65), c1's tea 0.04 (0.46), c4's tea 0.024 (0.776).
The best within 1.50 and two offers each: c1 milk + coupon, c4 tea, c2's coupon dropped
(3.426 against 3.086 when keeping it with c1 milk + tea).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from campaigns.models import AuditEntry, Bonus, CampaignMember, CampaignOffer
from campaigns.services.issuance import campaign_bonuses_issue
from campaigns.services.workflow import campaign_approve
from optimizer.exceptions import OffersUnavailable
from optimizer.services.campaign_results import campaign_results_measure
from optimizer.services.offers import campaign_offers_allocate
from retailers.models import Role
from tests.campaigns.offer_fixtures import offer_world
from tests.customers.factories import TransactionFactory, TransactionLineFactory

pytestmark = pytest.mark.django_db


def _allocate(world, **kwargs):
    return campaign_offers_allocate(
        campaign_id=world.campaign.pk, actor=None, candidates=world.candidates, **kwargs
    )


def test_offers_allocate_chooses_within_budget_supplier_budget_and_n(retailer):
    world = offer_world(retailer)
    c1, c2, c3, c4 = world.customers
    outcome = _allocate(world, max_offers=2)
    treated = CampaignOffer.objects.filter(campaign=world.campaign, member__is_control=False)
    assert {(o.customer_id, o.product_id) for o in treated} == {
        (c1.pk, world.milk.pk),
        (c4.pk, world.tea.pk),
    }
    # c3 is in control: the offer it would have had is kept, never issued.
    held = CampaignOffer.objects.get(campaign=world.campaign, member__is_control=True)
    assert (held.customer_id, held.product_id) == (c3.pk, world.milk.pk)
    milk = treated.get(customer=c1)
    assert (milk.rank, milk.supplier, milk.expected_retailer_cost) == (
        1,
        "Acme Dairy",
        Decimal("0.35"),
    )
    assert milk.expected_supplier_cost == Decimal("0.35")
    assert milk.reason == "you often buy Milk; last bought 5 weeks ago"
    assert CampaignMember.objects.get(campaign=world.campaign, customer=c2).bonus_type is None
    assert CampaignMember.objects.get(campaign=world.campaign, customer=c4).is_control is False
    assert (outcome.offers, outcome.control_offers, outcome.dropped_generic) == (2, 1, 1)
    world.campaign.refresh_from_db()
    report = world.campaign.solver["offers"]
    assert report["objective"] == pytest.approx(3.426)
    assert report["lp_bound"] >= report["bound"] >= report["objective"] - 1e-6
    assert report["gap"] <= 1e-4
    suppliers = world.campaign.breakdown["offers"]["by_supplier"]
    assert suppliers == [{"supplier": "Acme Dairy", "offers": 1, "expected_supplier_cost": 0.35}]
    top = world.campaign.breakdown["offers"]["top_products"]
    assert {(p["name"], p["sku"]) for p in top} == {
        ("Milk", world.milk.sku),
        ("Tea", world.tea.sku),
    }
    assert AuditEntry.objects.filter(action="offers_allocate").count() == 1


def test_offers_allocate_by_decomposition_writes_the_same_offers(retailer):
    world = offer_world(retailer)
    c1, _, _, c4 = world.customers
    outcome = _allocate(world, max_offers=2, method="decomposition")
    treated = CampaignOffer.objects.filter(campaign=world.campaign, member__is_control=False)
    assert {(o.customer_id, o.product_id) for o in treated} == {
        (c1.pk, world.milk.pk),
        (c4.pk, world.tea.pk),
    }
    assert outcome.dropped_generic == 1
    world.campaign.refresh_from_db()
    report = world.campaign.solver["offers"]
    assert report["method"].startswith("decomposition")
    assert report["objective"] == pytest.approx(3.426)
    assert report["bound"] >= report["objective"] - 1e-6


def test_offers_allocate_again_gives_back_the_dropped_generic_first(retailer):
    world = offer_world(retailer)
    _allocate(world, max_offers=2)
    world.campaign.budget = Decimal("5.00")
    world.campaign.save(update_fields=["budget"])
    outcome = _allocate(world, max_offers=2)
    c2 = world.customers[1]
    member = CampaignMember.objects.get(campaign=world.campaign, customer=c2)
    assert member.bonus_type is not None
    assert member.expected_cost == Decimal("1.00")
    assert outcome.dropped_generic == 0
    assert CampaignOffer.objects.filter(campaign=world.campaign).count() == 3


def test_offers_are_issued_to_treated_members_only_with_the_retailer_share_as_cost(
    retailer, make_staff
):
    world = offer_world(retailer)
    _allocate(world, max_offers=2)
    campaign_approve(campaign_id=world.campaign.pk, actor=make_staff(retailer, Role.APPROVER))
    created = campaign_bonuses_issue(campaign_id=world.campaign.pk)
    again = campaign_bonuses_issue(campaign_id=world.campaign.pk)
    assert (created, again) == (3, 0)  # c1 coupon, c1 milk, c4 tea
    milk = Bonus.objects.get(product=world.milk)
    assert (milk.customer_id, milk.value, milk.redemption_cost) == (
        world.customers[0].pk,
        Decimal("20.00"),
        Decimal("1.00"),  # 10.00 x 20 % x (1 - 0.5)
    )
    assert milk.member is None
    assert milk.offer.member.customer_id == milk.customer_id
    assert hasattr(milk, "delivery")
    assert not Bonus.objects.filter(customer=world.customers[2]).exists()


def test_offers_allocate_refuses_without_a_product_offer_type(retailer):
    world = offer_world(retailer)
    world.offer_type.is_active = False
    world.offer_type.save(update_fields=["is_active"])
    with pytest.raises(OffersUnavailable, match="product-offer bonus type"):
        _allocate(world)


def test_results_compare_offered_product_purchases_treated_against_control(retailer, make_staff):
    world = offer_world(retailer)
    _allocate(world, max_offers=2)
    campaign_approve(campaign_id=world.campaign.pk, actor=make_staff(retailer, Role.APPROVER))
    campaign_bonuses_issue(campaign_id=world.campaign.pk)
    c1, _, c3, _ = world.customers
    during = dt.datetime.combine(world.campaign.week_start, dt.time(12), tzinfo=retailer.tz)
    # c1 (treated) buys the milk offered; c3 (control) buys only tea, not its milk.
    for customer, product in ((c1, world.milk), (c3, world.tea)):
        basket = TransactionFactory(retailer=retailer, customer=customer, timestamp=during)
        TransactionLineFactory(transaction=basket, product=product)
    offers = campaign_results_measure(campaign=world.campaign)["product_offers"]
    assert offers["treated"] == {"offers": 2, "bought": 1, "rate": 0.5}
    assert offers["control"] == {"offers": 1, "bought": 0, "rate": 0.0}
    assert offers["uplift"] == pytest.approx(0.5)
