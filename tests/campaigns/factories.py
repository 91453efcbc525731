"""Factories for the bonus catalogue and offer history."""

from __future__ import annotations

import datetime as dt

import factory

from campaigns.models import BonusKind, BonusType, PastOffer
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
