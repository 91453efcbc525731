"""End to end through the staff pages: a proposed campaign gets personalised product offers from
the latest recommendation run, is approved and issued; the customer sees the offer in the e-mail
and on the portal; the till redeems it only with the product in the basket.

The candidates are rows of a recommendation run written by the test (the recommender's own tests
cover how they are made); the figures are those of ``tests/campaigns/offer_fixtures.py``.
"""

from __future__ import annotations

import pytest
from django.core import mail
from django.urls import reverse

from campaigns.models import Bonus, BonusState, CampaignState
from campaigns.tasks import deliveries_send_task
from optimizer.models import OfferCandidate
from optimizer.services.redeem import REDEEM_PRIORS, redeem_probabilities
from retailers.models import Role
from tests.campaigns.offer_fixtures import offer_world
from tests.campaigns.rewards_factories import token_client
from tests.optimizer.factories import RecommendationRunFactory

pytestmark = pytest.mark.django_db


def candidates_in_db(retailer, world) -> None:
    run = RecommendationRunFactory(retailer=retailer)
    OfferCandidate.objects.bulk_create(
        OfferCandidate(
            retailer=retailer,
            run=run,
            customer_id=int(row.customer_id),
            product_id=int(row.product_id),
            kind=row.kind,
            score=row.score,
            rank=int(row.rank),
            incremental_value=row.incremental_value,
            reason=row.reason,
        )
        for row in world.candidates.itertuples(index=False)
    )


def test_personalised_offer_campaign_from_the_staff_pages_to_the_till(
    client, api_client, retailer, make_staff, django_capture_on_commit_callbacks
):
    world = offer_world(retailer)
    candidates_in_db(retailer, world)
    c1 = world.customers[0]
    c1.email = "c1@x.test"
    c1.save(update_fields=["email"])
    campaign = world.campaign
    detail = reverse("campaigns:campaign-detail", args=[campaign.pk])

    client.force_login(make_staff(retailer, Role.APPROVER))
    assert "Add personalised offers" in client.get(detail).content.decode()
    response = client.post(
        reverse("campaigns:campaign-offers", args=[campaign.pk]), {"max_offers": 2}
    )
    assert response.status_code == 302
    page = client.get(detail).content.decode()
    assert "Top products offered" in page
    assert f'Milk <span class="muted">SKU&nbsp;{world.milk.sku}</span>' in page
    assert f'Tea <span class="muted">SKU&nbsp;{world.tea.sku}</span>' in page
    assert "Acme Dairy" in page  # supplier funding, 0.35 expected
    assert "0.35" in page
    assert "prior (too few resolved offers to fit)" in page
    campaign.refresh_from_db()
    report = campaign.solver["offers"]
    assert f"Solver:</strong> {report['status']}, by {report['method']};" in page
    replaced = len(report["dropped_generic"])
    assert f"Generic bonuses replaced by offers:</strong> {replaced} (" in page  # a count
    assert "{'reason'" not in page  # never the stored records themselves

    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("campaigns:campaign-approve", args=[campaign.pk]), {"comment": ""})
    campaign.refresh_from_db()
    assert campaign.state == CampaignState.ISSUED
    milk = Bonus.objects.get(customer=c1, product=world.milk)

    deliveries_send_task()
    mine = [m for m in mail.outbox if m.to == ["c1@x.test"]]
    offer_mail = next(m for m in mine if milk.code in m.body)
    assert "20 % off Milk" in offer_mail.body
    assert "you often buy Milk; last bought 5 weeks ago" in offer_mail.body

    portal = offer_mail.body.split("Your rewards page: ")[1].split()[0]
    portal_page = client.get(portal).content.decode()
    assert "20% off Milk" in portal_page
    assert "last bought 5 weeks ago" in portal_page
    assert milk.code in portal_page

    till = token_client(api_client, retailer)[0]
    url = "/api/v1/redemptions/"
    refused = till.post(url, {"code": milk.code}, format="json", HTTP_IDEMPOTENCY_KEY="t1")
    assert refused.status_code == 422
    assert "MILK1" in refused.json()["error"]["message"]
    body = {"code": milk.code, "lines": [{"sku": "MILK1", "quantity": "1"}]}
    accepted = till.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY="t2")
    assert accepted.status_code == 201, accepted.json()


def test_redeem_probability_is_fitted_from_resolved_product_offers_else_the_prior(
    client, retailer, make_staff, django_capture_on_commit_callbacks, monkeypatch
):
    world = offer_world(retailer)
    candidates_in_db(retailer, world)
    campaign = world.campaign
    client.force_login(make_staff(retailer, Role.APPROVER))
    client.post(reverse("campaigns:campaign-offers", args=[campaign.pk]), {"max_offers": 2})
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("campaigns:campaign-approve", args=[campaign.pk]), {"comment": ""})
    offers = Bonus.objects.filter(retailer=retailer, offer__isnull=False).order_by("pk")
    kinds = set(offers.values_list("offer__candidate_kind", flat=True))
    assert "buy_again" in kinds
    again = list(offers.filter(offer__candidate_kind="buy_again"))
    again[0].state = BonusState.REDEEMED
    again[0].save(update_fields=["state"])
    Bonus.objects.filter(pk__in=[b.pk for b in again[1:]]).update(state=BonusState.EXPIRED)
    # Cancelled offers are no evidence of the customers' take-up: the other kinds keep the prior.
    offers.exclude(offer__candidate_kind="buy_again").update(state=BonusState.CANCELLED)

    assert redeem_probabilities(retailer=retailer)["buy_again"]["source"] == "prior"  # too few
    monkeypatch.setattr("optimizer.services.redeem.MIN_RESOLVED_OFFERS", len(again))
    table = redeem_probabilities(retailer=retailer)
    assert table["buy_again"] == {
        "p": round(1 / len(again), 4),
        "source": "fitted",
        "resolved": len(again),
        "redeemed": 1,
    }
    for kind in kinds - {"buy_again"}:
        assert table[kind]["source"] == "prior"
        assert table[kind]["p"] == REDEEM_PRIORS[kind]
