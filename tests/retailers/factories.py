"""Factories for retailer-side rows."""

from __future__ import annotations

from decimal import Decimal

import factory
from django.contrib.auth import get_user_model

from retailers.models import Membership, Product, Retailer, Role, Store

#: Every factory-made retailer's zone: "today" in the tests is today here, not in UTC.
TIME_ZONE = "Europe/Helsinki"


class RetailerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Retailer
        django_get_or_create = ("slug",)

    slug = factory.Sequence(lambda n: f"retailer-{n}")
    name = factory.LazyAttribute(lambda o: o.slug.replace("-", " ").title())
    currency = "EUR"
    time_zone = TIME_ZONE


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda o: f"{o.username}@example.com")
    password = factory.django.Password("pw-Secret-123")


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    retailer = factory.SubFactory(RetailerFactory)
    role = Role.ANALYST


class StoreFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Store

    retailer = factory.SubFactory(RetailerFactory)
    external_id = factory.Sequence(lambda n: f"S{n:03d}")
    name = factory.LazyAttribute(lambda o: f"Store {o.external_id}")
    region = "North"


class ProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Product

    retailer = factory.SubFactory(RetailerFactory)
    sku = factory.Sequence(lambda n: f"SKU{n:05d}")
    name = factory.LazyAttribute(lambda o: f"Product {o.sku}")
    category = "Grocery"
    brand = "House"
    unit_cost = Decimal("1.20")
    price = Decimal("2.00")
