"""Factories and helpers for the rewards tests: campaigns, members, bonuses, API tokens."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import factory

from campaigns.models import Bonus, BonusKind, Campaign, CampaignMember, CampaignState
from campaigns.services.issuance import bonus_code_generate
from campaigns.services.tokens import api_token_create
from tests.campaigns.factories import BonusTypeFactory
from tests.customers.factories import CustomerFactory
from tests.retailers.factories import TIME_ZONE, RetailerFactory

#: The retailers' business date when the tests were collected (their zone, not UTC: between
#: midnight and 02:00 in Helsinki the two dates differ).
TODAY = dt.datetime.now(ZoneInfo(TIME_ZONE)).date()


class CampaignFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Campaign

    retailer = factory.SubFactory(RetailerFactory)
    name = factory.Sequence(lambda n: f"Campaign {n}")
    week_start = factory.LazyFunction(lambda: TODAY - dt.timedelta(days=1))
    week_end = factory.LazyFunction(lambda: TODAY + dt.timedelta(days=6))
    state = CampaignState.ISSUED
    budget = Decimal("1000.00")
    spend_limit = Decimal("1000.00")


class CampaignMemberFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CampaignMember

    retailer = factory.SelfAttribute("campaign.retailer")
    campaign = factory.SubFactory(CampaignFactory)
    customer = factory.SubFactory(CustomerFactory, retailer=factory.SelfAttribute("..retailer"))
    bonus_type = factory.SubFactory(
        BonusTypeFactory,
        retailer=factory.SelfAttribute("..retailer"),
        kind=BonusKind.AMOUNT_DISCOUNT,
        face_value=Decimal("1.00"),
    )
    send_on = factory.LazyFunction(lambda: TODAY - dt.timedelta(days=1))
    expires_on = factory.LazyFunction(lambda: TODAY + dt.timedelta(days=13))
    expected_cost = Decimal("0.50")
    redemption_probability = Decimal("0.5")


class BonusFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Bonus

    member = factory.SubFactory(CampaignMemberFactory)
    retailer = factory.SelfAttribute("member.retailer")
    campaign = factory.SelfAttribute("member.campaign")
    customer = factory.SelfAttribute("member.customer")
    bonus_type = factory.SelfAttribute("member.bonus_type")
    code = factory.LazyFunction(bonus_code_generate)
    value = Decimal("1.00")
    redemption_cost = Decimal("1.00")
    valid_from = factory.LazyFunction(lambda: TODAY - dt.timedelta(days=1))
    valid_to = factory.LazyFunction(lambda: TODAY + dt.timedelta(days=13))
    max_uses = 1


def token_client(api_client, retailer, name="till-1"):
    """``(client, key, token)``: an APIClient sending a fresh token of ``retailer``."""
    new = api_token_create(retailer=retailer, name=name)
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {new.key}")
    return api_client, new.key, new.token


def bulk_bonuses(campaign, count: int, cost: Decimal = Decimal("1.00")) -> list[str]:
    """``count`` single-use bonuses of ``campaign`` for as many new customers, in bulk; codes."""
    from customers.models import Customer

    retailer = campaign.retailer
    btype = BonusTypeFactory(
        retailer=retailer, kind=BonusKind.AMOUNT_DISCOUNT, face_value=Decimal("1.00")
    )
    customers = Customer.objects.bulk_create(
        Customer(retailer=retailer, external_id=f"BULK{campaign.pk}-{i}", enrolled_on=TODAY)
        for i in range(count)
    )
    members = CampaignMember.objects.bulk_create(
        CampaignMember(
            retailer=retailer,
            campaign=campaign,
            customer=c,
            bonus_type=btype,
            send_on=TODAY - dt.timedelta(days=1),
            expires_on=TODAY + dt.timedelta(days=13),
        )
        for c in customers
    )
    bonuses = Bonus.objects.bulk_create(
        Bonus(
            retailer=retailer,
            campaign=campaign,
            member=m,
            customer_id=m.customer_id,
            bonus_type=btype,
            code=bonus_code_generate(),
            value=Decimal("1.00"),
            redemption_cost=cost,
            valid_from=TODAY - dt.timedelta(days=1),
            valid_to=TODAY + dt.timedelta(days=13),
        )
        for m in members
    )
    return [b.code for b in bonuses]
