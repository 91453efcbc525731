"""Words a marketer reads on the staff pages: bonus names (not codes), customer ids in number
order."""

from __future__ import annotations

import pytest

from campaigns.selectors import campaign_breakdown_by_type
from optimizer.customer_scores import customer_list
from tests.campaigns.factories import BonusTypeFactory, CampaignFactory
from tests.customers.factories import CustomerFactory

pytestmark = pytest.mark.django_db


def test_breakdown_by_type_names_the_bonus_and_keeps_an_unknown_code(retailer):
    BonusTypeFactory(retailer=retailer, code="type-a", name="5 EUR off the next basket")
    campaign = CampaignFactory(
        retailer=retailer,
        breakdown={"by_bonus_type": [{"bonus_type": "type-a"}, {"bonus_type": "gone"}]},
    )
    rows = campaign_breakdown_by_type(campaign=campaign)
    assert [row["bonus_name"] for row in rows] == ["5 EUR off the next basket", "gone"]


def test_customer_ids_sort_as_numbers(retailer):
    for external_id in ("2063", "10", "2042", "9"):
        CustomerFactory(retailer=retailer, external_id=external_id)
    ids = [c.external_id for c in customer_list(retailer=retailer, run=None)]
    assert ids == ["9", "10", "2042", "2063"]
