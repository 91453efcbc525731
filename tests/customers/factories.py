"""Factories for customers and their purchases."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import factory

from customers.models import Customer, Transaction, TransactionLine
from tests.retailers.factories import ProductFactory, RetailerFactory, StoreFactory


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Customer

    retailer = factory.SubFactory(RetailerFactory)
    external_id = factory.Sequence(lambda n: f"C{n:06d}")
    enrolled_on = dt.date(2024, 1, 15)
    marketing_consent = True


class TransactionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Transaction

    retailer = factory.SubFactory(RetailerFactory)
    external_id = factory.Sequence(lambda n: f"T{n:08d}")
    customer = factory.SubFactory(CustomerFactory, retailer=factory.SelfAttribute("..retailer"))
    store = factory.SubFactory(StoreFactory, retailer=factory.SelfAttribute("..retailer"))
    timestamp = factory.LazyFunction(lambda: dt.datetime(2024, 6, 1, 10, 0, tzinfo=dt.UTC))


class TransactionLineFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TransactionLine

    transaction = factory.SubFactory(TransactionFactory)
    retailer = factory.SelfAttribute("transaction.retailer")
    line_no = factory.Sequence(lambda n: n + 1)
    product = factory.SubFactory(ProductFactory, retailer=factory.SelfAttribute("..retailer"))
    quantity = Decimal("1.000")
    amount = Decimal("2.00")
    discount = Decimal("0.00")
