"""A small scored tenant for the allocation glue tests: 2 segments, 2 active bonus types."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from campaigns.models import BonusKind
from optimizer.models import CustomerScore, ScoringRun
from tests.campaigns.factories import BonusTypeFactory
from tests.customers.factories import CustomerFactory
from tests.optimizer.factories import ScoringRunFactory

AS_OF = dt.date(2025, 6, 2)  # a Monday: the default campaign week starts that day


def scored_tenant(retailer, *, customers: int = 40) -> ScoringRun:
    """``customers`` scored customers: even ones "at risk" (churn 0.7), odd ones "loyal"."""
    BonusTypeFactory(
        retailer=retailer, code="coupon-5", kind=BonusKind.AMOUNT_DISCOUNT,
        face_value=Decimal("5.00"), requires_consent=False,
    )  # fmt: skip
    BonusTypeFactory(
        retailer=retailer, code="points-300", kind=BonusKind.POINTS,
        face_value=Decimal("300"), requires_consent=False,
    )  # fmt: skip
    run = ScoringRunFactory(retailer=retailer, as_of=AS_OF, bonus_types=["coupon-5", "points-300"])
    rows = []
    for i in range(customers):
        at_risk = i % 2 == 0
        customer = CustomerFactory(retailer=retailer, marketing_consent=True)
        rows.append(
            CustomerScore(
                retailer=retailer,
                run=run,
                customer=customer,
                churn_probability=Decimal("0.70") if at_risk else Decimal("0.10"),
                p_alive=Decimal("0.5"),
                expected_visits=Decimal("2.0") if at_risk else Decimal("9.0"),
                expected_spend=Decimal("60.00") if at_risk else Decimal("300.00"),
                clv=Decimal("400.00") + i,
                responses={"coupon-5": 0.30 + i / 400, "points-300": 0.20},
                segment="at risk" if at_risk else "loyal",
                recency_days=40 if at_risk else 5,
                frequency=20,
                frequency_52w=8 if at_risk else 40,
                monetary_52w=Decimal("500.00"),
                avg_basket=Decimal("30.00"),
                tenure_days=700,
                discount_share=Decimal("0.05"),
                redemption_rate=Decimal("0.2"),
            )
        )
    CustomerScore.objects.bulk_create(rows)
    return run


def start_allocation(
    *,
    retailer,
    budget,
    constraints=None,
    control_share=None,
    spend_limit=None,
    **kwargs,
):
    """``allocation_run_create`` with the settings written as the tests think of them: a
    budget and the ``constraints`` dict, parsed through the one edge parser."""
    from optimizer.services.allocation import allocation_run_create, allocation_settings_parse

    settings = allocation_settings_parse(
        {
            **(constraints or {}),
            "budget": budget,
            "control_share": control_share,
            "spend_limit": spend_limit,
        }
    )
    return allocation_run_create(retailer=retailer, settings=settings, **kwargs)
