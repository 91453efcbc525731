"""Factories for the bonus catalogue and offer history."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import factory

from campaigns.models import Bonus, BonusKind, BonusType, Campaign, CampaignMember, PastOffer
from tests.customers.factories import CustomerFactory
from tests.retailers.factories import RetailerFactory


class BonusTypeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = BonusType
        django_get_or_create = ("retailer", "code")

    retailer = factory.SubFactory(RetailerFactory)
    code = factory.Sequence(lambda n: f"bonus-{n}")
    name = factory.LazyAttribute(lambda o: o.code.title())
    kind = BonusKind.PERCENT_DISCOUNT
    is_active = True


class PastOfferFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PastOffer

    retailer = factory.SubFactory(RetailerFactory)
    external_id = factory.Sequence(lambda n: f"O{n:06d}")
    customer = factory.SubFactory(CustomerFactory, retailer=factory.SelfAttribute("..retailer"))
    bonus_type = factory.SubFactory(BonusTypeFactory, retailer=factory.SelfAttribute("..retailer"))
    sent_on = dt.date(2024, 3, 1)
    valid_until = dt.date(2024, 3, 14)
    redeemed_on = None


class CampaignFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Campaign

    retailer = factory.SubFactory(RetailerFactory)
    name = factory.Sequence(lambda n: f"Campaign {n}")
    week_start = dt.date(2024, 3, 4)
    week_end = dt.date(2024, 3, 10)
    budget = Decimal("100.00")
    spend_limit = Decimal("100.00")


class CampaignMemberFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CampaignMember

    retailer = factory.SubFactory(RetailerFactory)
    campaign = factory.SubFactory(CampaignFactory, retailer=factory.SelfAttribute("..retailer"))
    customer = factory.SubFactory(CustomerFactory, retailer=factory.SelfAttribute("..retailer"))
    bonus_type = factory.SubFactory(BonusTypeFactory, retailer=factory.SelfAttribute("..retailer"))
    segment = "loyal"
    send_on = dt.date(2024, 3, 4)
    expires_on = dt.date(2024, 3, 10)
    expected_value = Decimal("1.50")
    expected_cost = Decimal("0.80")


class BonusFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Bonus

    retailer = factory.SubFactory(RetailerFactory)
    member = factory.SubFactory(CampaignMemberFactory, retailer=factory.SelfAttribute("..retailer"))
    campaign = factory.SelfAttribute("member.campaign")
    customer = factory.SelfAttribute("member.customer")
    bonus_type = factory.SelfAttribute("member.bonus_type")
    code = factory.Sequence(lambda n: f"CODE{n:06d}")
    value = Decimal("10.00")
    redemption_cost = Decimal("1.00")
    valid_from = factory.SelfAttribute("member.send_on")
    valid_to = factory.SelfAttribute("member.expires_on")
