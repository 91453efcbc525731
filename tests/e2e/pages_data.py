"""Small data for the page walk (tests/e2e/test_page_layout.py): one scored retailer with a
proposed campaign, a 20-product promotion proposal with long reasons, a customer with baskets
and points, and a portal link. Built with the factories, so the walk runs in CI in seconds."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pandas as pd

from campaigns.models import BonusKind, BonusType, Campaign, PromotionItem, PromotionProposal
from campaigns.services.promotions import proposal_totals
from customers.models import Customer
from customers.services.portal import portal_link_create
from optimizer.models import AllocationRun, PromotionRun, RecommendationRun, ScoringRun
from optimizer.services.allocation import allocation_run_execute
from optimizer.services.offers import campaign_offers_allocate
from optimizer.services.recommend import recommendation_run_create, recommendation_run_execute
from retailers.models import Retailer, RunStatus
from tests.customers.factories import TransactionFactory, TransactionLineFactory
from tests.optimizer.allocation_fixtures import scored_tenant, start_allocation
from tests.retailers.factories import ProductFactory

WEEK = dt.date(2025, 6, 2)
REASON = (
    "Strong lift in the last three promotions, stock covers the forecast twice over and the "
    "competitor is 8 % dearer this week"
)


@dataclass(frozen=True)
class Pages:
    """Ids the page walk needs."""

    scoring_run: ScoringRun
    allocation_run: AllocationRun
    recommendation_run: RecommendationRun
    campaign: Campaign
    proposal: PromotionProposal
    customer: Customer
    portal_path: str


def _promotion_proposal(retailer: Retailer, products: int = 20) -> PromotionProposal:
    run = PromotionRun.objects.create(
        retailer=retailer, week_start=WEEK, status=RunStatus.SUCCEEDED, options={"k": products}
    )
    proposal = PromotionProposal.objects.create(
        retailer=retailer,
        promotion_run=run,
        week_start=WEEK,
        options={"k": products, "max_per_category": 3, "recent_weeks": 4},
        solver={"solver": "HiGHS", "status": "Optimal", "objective": 1068.0812},
    )
    for rank in range(1, products + 1):
        PromotionItem.objects.create(
            retailer=retailer,
            proposal=proposal,
            product=ProductFactory(
                retailer=retailer, sku=f"SKU-{rank:04d}", name=f"Organic rolled oats {rank} kg"
            ),
            rank=rank,
            discount_rate=Decimal("0.2000"),
            baseline_units=Decimal("10.00"),
            promoted_units=Decimal("25.00"),
            lift=Decimal("2.500"),
            incremental_units=Decimal("15.00"),
            incremental_revenue=Decimal("1230.50"),
            incremental_margin=Decimal(f"{rank}.00"),
            discount_cost=Decimal("5.00"),
            on_hand=100,
            stock_cover=Decimal("4.00"),
            competitor_gap=Decimal("-0.0800"),
            reach=1234,
            reason=REASON,
        )
    proposal.totals = proposal_totals(proposal.items.all())
    proposal.save(update_fields=["totals"])
    return proposal


def _personalised_offers(campaign: Campaign, products: int = 3) -> None:
    """Product offers on the proposal (long names: the offers tables must fit both widths)."""
    retailer = campaign.retailer
    BonusType.objects.create(
        retailer=retailer,
        code="product-20",
        name="20 % off a recommended product",
        kind=BonusKind.PRODUCT_OFFER,
        face_value=Decimal("20.00"),
        supplier_share=Decimal("0.500"),
        requires_consent=False,
        is_active=True,
    )
    offered = [
        ProductFactory(
            retailer=retailer,
            sku=f"OFFER-{n}",
            name=f"Wholegrain organic breakfast cereal with dried fruit and nuts {n}",
            brand="Nordic Breakfast Cereals Cooperative of Small Farms",
        )
        for n in range(products)
    ]
    customers = list(campaign.members.values_list("customer_id", flat=True)[:20])
    rows = [
        (
            c,
            p.pk,
            "buy_again",
            1.0,
            n + 1,
            Decimal("3.00"),
            "you often buy it; last bought 5 weeks ago",
        )
        for c in customers
        for n, p in enumerate(offered)
    ]
    columns = ["customer_id", "product_id", "kind", "score", "rank", "incremental_value", "reason"]
    campaign_offers_allocate(
        campaign_id=campaign.pk, actor=None, candidates=pd.DataFrame(rows, columns=columns)
    )


def pages_data(retailer: Retailer) -> Pages:
    """Everything the page walk visits, for ``retailer``."""
    scoring = scored_tenant(retailer, customers=40)
    # 40 customers are too few for a holdout: show the champion report of a bigger run.
    report = Path(__file__).parents[1] / "optimizer" / "data" / "champions_report.json"
    scoring.metrics = {**scoring.metrics, "champions": json.loads(report.read_text())}
    scoring.save(update_fields=["metrics"])
    run = start_allocation(
        retailer=retailer, budget=Decimal("20.00"), control_share=0.2, enqueue=False
    )
    run = allocation_run_execute(run_id=run.pk)
    assert run.status == RunStatus.SUCCEEDED, run.error
    _personalised_offers(run.campaign)
    customer = Customer.objects.filter(retailer=retailer).order_by("pk").first()
    assert customer is not None
    for day in range(3):
        basket = TransactionFactory(
            retailer=retailer,
            customer=customer,
            timestamp=dt.datetime(2025, 5, 1 + day, 10, tzinfo=dt.UTC),
        )
        TransactionLineFactory(transaction=basket, amount=Decimal("12.40"))
    recommendation = recommendation_run_create(retailer=retailer, enqueue=False)
    recommendation = recommendation_run_execute(run_id=recommendation.pk, inline=True)
    assert recommendation is not None
    assert recommendation.status == RunStatus.SUCCEEDED, recommendation.error
    return Pages(
        scoring_run=scoring,
        allocation_run=run,
        recommendation_run=recommendation,
        campaign=run.campaign,
        proposal=_promotion_proposal(retailer),
        customer=customer,
        portal_path=portal_link_create(customer=customer).path,
    )
