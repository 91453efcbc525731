"""Factories and tenant builders for the optimizer's (Django side) tests."""

from __future__ import annotations

import datetime as dt

import factory
from django.db import transaction

from loyalty_site.site.demo import synthetic
from loyalty_site.site.demo.writing import (
    write_bonus_types,
    write_customers,
    write_past_offers,
    write_products,
    write_stores,
    write_transactions,
)
from optimizer.models import RecommendationRun, ScoringRun
from retailers.models import Retailer, RunStatus
from tests.retailers.factories import RetailerFactory

#: The synthetic tenants' scoring date (their history ends the day before).
AS_OF = dt.date(2025, 6, 2)


class ScoringRunFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ScoringRun

    retailer = factory.SubFactory(RetailerFactory)
    as_of = AS_OF
    horizon_weeks = 8
    status = RunStatus.SUCCEEDED


def synthetic_tenant(
    retailer: Retailer, *, customers: int = 60, seed: int = 1, weeks: int = 30
) -> synthetic.SyntheticRetailer:
    """Write a small synthetic history (``loyalty_site.site.demo.synthetic``) into ``retailer``.

    ``weeks`` of transactions, offers and categories end the day before :data:`AS_OF`.
    Returns the generated frames (natural keys) for checks.
    """
    data = synthetic.generate(customers, seed=seed, weeks=weeks, as_of=AS_OF)
    with transaction.atomic():
        stores = write_stores(retailer, data.stores)
        products = write_products(retailer, data.products)
        bonus = write_bonus_types(retailer, data.bonus_types)
        people = write_customers(retailer, data.customers)
        write_transactions(
            retailer,
            data.transactions,
            data.lines,
            customer_ids=people,
            store_ids=stores,
            product_ids=products,
        )
        write_past_offers(retailer, data.offers, customer_ids=people, bonus_type_ids=bonus)
    return data


class RecommendationRunFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = RecommendationRun

    retailer = factory.SubFactory(RetailerFactory)
    as_of = AS_OF
    status = RunStatus.SUCCEEDED
