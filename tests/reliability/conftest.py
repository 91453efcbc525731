"""Fixtures of the reliability suite (the optimizer's fast scoring settings are reused)."""

import pytest

from customers.models import PointsEntry, PointsKind
from tests.campaigns.rewards_factories import BonusFactory, token_client
from tests.customers.factories import CustomerFactory
from tests.optimizer.conftest import scoring_settings  # noqa: F401
from tests.reliability.hostile import BONUS_CODE
from tests.retailers.factories import ProductFactory, StoreFactory


@pytest.fixture
def shop(retailer):
    """``retailer`` with store S1, product A, customer C1 holding 1000 points and a bonus."""
    StoreFactory(retailer=retailer, external_id="S1")
    ProductFactory(retailer=retailer, sku="A")
    customer = CustomerFactory(retailer=retailer, external_id="C1")
    PointsEntry.objects.create(
        retailer=retailer,
        customer=customer,
        seq=1,
        kind=PointsKind.ADJUSTMENT,
        points=1000,
        balance_after=1000,
        reason="seed",
    )
    BonusFactory(member__campaign__retailer=retailer, member__customer=customer, code=BONUS_CODE)
    return retailer


@pytest.fixture
def till(api_client, shop):
    """An API client with a valid token of ``shop`` (test_hostile_csv has its own)."""
    return token_client(api_client, shop)[0]
