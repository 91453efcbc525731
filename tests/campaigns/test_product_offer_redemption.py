"""A product offer is redeemed at the till only on a basket containing its product (PostgreSQL):
the refusal names the missing product, takes no use and books nothing; idempotency keys and
simultaneous tills behave as for every other bonus."""

from __future__ import annotations

from decimal import Decimal

import pytest

from campaigns.models import Bonus, BonusState, Campaign, CampaignOffer, Redemption
from campaigns.services.issuance import bonus_code_generate
from tests.campaigns.offer_fixtures import offer_type
from tests.campaigns.rewards_factories import TODAY, CampaignMemberFactory, token_client
from tests.campaigns.test_redemption_concurrency import _codes, _slow_hook, post, race
from tests.retailers.factories import ProductFactory

URL = "/api/v1/redemptions/"


def product_offer_bonus(retailer, *, max_uses: int = 1) -> Bonus:
    """An issued 20 % offer on milk (10.00), half supplier-funded: the retailer's cost is 1.00."""
    member = CampaignMemberFactory(campaign__retailer=retailer)
    milk = ProductFactory(retailer=retailer, sku="MILK1", name="Milk", price=Decimal("10.00"))
    btype = offer_type(retailer, max_uses=max_uses)
    offer = CampaignOffer.objects.create(
        retailer=retailer,
        campaign=member.campaign,
        member=member,
        customer=member.customer,
        product=milk,
        bonus_type=btype,
        rank=1,
        discount_percent=Decimal("20.00"),
        supplier="Acme Dairy",
    )
    return Bonus.objects.create(
        retailer=retailer,
        campaign=member.campaign,
        offer=offer,
        product=milk,
        customer=member.customer,
        bonus_type=btype,
        code=bonus_code_generate(),
        value=Decimal("20.00"),
        redemption_cost=Decimal("1.00"),
        valid_from=TODAY,
        valid_to=TODAY,
        max_uses=max_uses,
    )


def redeem(client, code, key, lines=None):
    body = {"code": code} if lines is None else {"code": code, "lines": lines}
    return client.post(URL, body, format="json", HTTP_IDEMPOTENCY_KEY=key)


@pytest.mark.django_db
class TestBasketCheck:
    @pytest.fixture
    def client(self, api_client, retailer):
        return token_client(api_client, retailer)[0]

    @pytest.fixture
    def bonus(self, retailer):
        return product_offer_bonus(retailer)

    def test_refused_without_the_product_naming_it_and_nothing_taken(self, client, bonus):
        for key, lines in (("k1", None), ("k2", [{"sku": "BREAD9", "quantity": "2"}])):
            response = redeem(client, bonus.code, key, lines)
            assert response.status_code == 422, response.json()
            error = response.json()["error"]
            assert error["code"] == "product_not_in_basket"
            assert "MILK1 (Milk)" in error["message"]
        bonus.refresh_from_db()
        assert (bonus.uses, bonus.state) == (0, BonusState.ISSUED)
        assert not Redemption.objects.exists()
        assert Campaign.objects.get(pk=bonus.campaign_id).spent == Decimal("0.00")

    def test_redeemed_with_the_product_in_the_basket_and_cost_booked(self, client, bonus):
        lines = [{"sku": "BREAD9"}, {"sku": "MILK1", "quantity": "1"}]
        response = redeem(client, bonus.code, "k1", lines)
        assert response.status_code == 201, response.json()
        body = response.json()
        assert (body["kind"], body["value"], body["cost"]) == ("product_offer", "20.00", "1.00")
        assert Campaign.objects.get(pk=bonus.campaign_id).spent == Decimal("1.00")
        replay = redeem(client, bonus.code, "k1", lines)
        assert replay.json() == body
        assert replay["Idempotent-Replayed"] == "true"
        again = redeem(client, bonus.code, "k2", lines)
        assert (again.status_code, again.json()["error"]["code"]) == (409, "already_redeemed")
        assert Redemption.objects.filter(bonus=bonus).count() == 1

    def test_a_refusal_is_replayed_under_its_key_even_with_the_product_added(self, client, bonus):
        assert redeem(client, bonus.code, "k1").status_code == 422
        # Same key, different body: the key's stored answer is for another request.
        reused = redeem(client, bonus.code, "k1", [{"sku": "MILK1"}])
        assert (reused.status_code, reused.json()["error"]["code"]) == (
            422,
            "idempotency_key_reused",
        )
        assert redeem(client, bonus.code, "k2", [{"sku": "MILK1"}]).status_code == 201

    def test_a_generic_bonus_ignores_the_lines(self, client, retailer):
        from tests.campaigns.rewards_factories import BonusFactory

        generic = BonusFactory(member__campaign__retailer=retailer)
        assert redeem(client, generic.code, "k1", [{"sku": "ANY"}]).status_code == 201

    def test_a_line_without_sku_is_a_validation_error_naming_the_field(self, client, bonus):
        response = redeem(client, bonus.code, "k1", [{"quantity": "1"}])
        assert response.status_code == 400
        assert "lines" in str(response.json())


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("delay", [False, True])
def test_simultaneous_tills_redeem_a_product_offer_once(retailer, api_client, monkeypatch, delay):
    if delay:
        _slow_hook(monkeypatch)
    key = token_client(api_client, retailer)[1]
    bonus = product_offer_bonus(retailer)
    body = {"code": bonus.code, "lines": [{"sku": "MILK1"}]}
    results = race(40, post(key, URL, body, lambda i: f"k{i}"))
    assert _codes(results) == {(201, "ok"): 1, (409, "already_redeemed"): 39}
    assert Redemption.objects.filter(bonus=bonus).count() == 1
    assert Campaign.objects.get(pk=bonus.campaign_id).spent == Decimal("1.00")
