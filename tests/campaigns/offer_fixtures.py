"""A proposed campaign with product-offer candidates, checked by hand in the tests that use it.

Products: milk (price 10.00, brand "Acme Dairy"), tea (4.00, "House"). One template offer type,
20 % off any product, half funded by the supplier (the product's brand). Acme Dairy funds at most
0.40 per campaign, so at most one milk offer is treated (its expected supplier share is
0.35 x 10.00 x 20 % x 0.5 = 0.35 for a buy-again candidate).

Members: c1 and c2 treated with a generic coupon, c3 in control; c4 is no member yet.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

import pandas as pd

from campaigns.models import BonusKind, BonusType, Campaign, CampaignState, SupplierBudget
from customers.models import Customer
from retailers.models import Product
from tests.campaigns.factories import BonusTypeFactory
from tests.campaigns.rewards_factories import TODAY, CampaignFactory, CampaignMemberFactory
from tests.customers.factories import CustomerFactory
from tests.retailers.factories import ProductFactory


@dataclass
class OfferWorld:
    campaign: Campaign
    offer_type: BonusType
    milk: Product
    tea: Product
    customers: list[Customer]
    candidates: pd.DataFrame


def offer_type(retailer, **kwargs) -> BonusType:
    return BonusTypeFactory(
        retailer=retailer,
        code=kwargs.pop("code", "offer20"),
        kind=BonusKind.PRODUCT_OFFER,
        face_value=Decimal("20.00"),
        supplier_share=Decimal("0.500"),
        validity_days=7,
        **kwargs,
    )


def offer_world(retailer, *, budget: str = "1.50") -> OfferWorld:
    campaign = CampaignFactory(
        retailer=retailer,
        state=CampaignState.PROPOSED,
        budget=Decimal(budget),
        spend_limit=Decimal("100.00"),
        control_share=Decimal("0"),
        week_start=TODAY,
        week_end=TODAY + dt.timedelta(days=6),
    )
    coupon = BonusTypeFactory(
        retailer=retailer, code="coupon", kind=BonusKind.AMOUNT_DISCOUNT, face_value=Decimal("1")
    )
    customers = [CustomerFactory(retailer=retailer) for _ in range(4)]
    for customer, value, cost, control in (
        (customers[0], "1.00", "0.50", False),
        (customers[1], "0.20", "1.00", False),
        (customers[2], "1.00", "0.50", True),
    ):
        CampaignMemberFactory(
            campaign=campaign,
            customer=customer,
            bonus_type=coupon,
            is_control=control,
            expected_value=Decimal(value),
            expected_cost=Decimal(cost),
            send_on=TODAY,
            expires_on=TODAY + dt.timedelta(days=6),
        )
    milk = ProductFactory(
        retailer=retailer, sku="MILK1", name="Milk", brand="Acme Dairy", price=Decimal("10.00")
    )
    tea = ProductFactory(retailer=retailer, sku="TEA1", name="Tea", brand="", price=Decimal("4"))
    btype = offer_type(retailer)
    SupplierBudget.objects.create(retailer=retailer, supplier="Acme Dairy", budget=Decimal("0.40"))
    c1, c2, c3, c4 = (c.pk for c in customers)
    rows = [
        (c1, milk.pk, "buy_again", 2.0, "you often buy Milk; last bought 5 weeks ago"),
        (c1, tea.pk, "try", 0.5, "customers like you buy Tea"),
        (c2, milk.pk, "buy_again", 1.5, "you often buy Milk; last bought 3 weeks ago"),
        (c3, milk.pk, "buy_again", 2.0, "you often buy Milk; last bought 6 weeks ago"),
        (c4, tea.pk, "popular", 0.8, "popular in your segment"),
    ]
    candidates = pd.DataFrame(
        rows, columns=["customer_id", "product_id", "kind", "incremental_value", "reason"]
    )
    candidates["incremental_value"] = candidates["incremental_value"].map(lambda v: Decimal(str(v)))
    candidates["score"] = 1.0
    candidates["rank"] = candidates.groupby("customer_id").cumcount() + 1
    return OfferWorld(campaign, btype, milk, tea, customers, candidates)
