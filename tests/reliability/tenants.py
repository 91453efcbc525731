"""A "rich" tenant: one row of every retailer-owned model (and of the global admin models), with
a marker string in every human-readable key, so that any page showing it can be caught.

Used by the isolation walk (``test_isolation.py``) and the security tests. Every registered admin
model must have an object here; the walk fails with a message naming the model otherwise.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import Group
from django.db import models
from django.utils import timezone

from campaigns.models import (
    BonusKind,
    CampaignOffer,
    Delivery,
    EmailTemplate,
    IdempotencyRecord,
    PromotionItem,
    PromotionProposal,
    Redemption,
    SupplierBudget,
)
from campaigns.services.audit import audit_record
from campaigns.services.tokens import api_token_create
from customers.models import PointsEntry, PointsKind, TransactionLine
from customers.services.portal import portal_link_create
from loyalty_site.sealing import seal
from optimizer.models import (
    AllocationRun,
    CustomerScore,
    OfferCandidate,
    PromotionRun,
    RecommendationRun,
    ScoringChunk,
    ScoringModelVersion,
    ScoringRun,
)
from retailers.models import (
    CompetitorPrice,
    ExportJob,
    ImportJob,
    ImportKind,
    InventoryLevel,
    Membership,
    PromotionHistory,
    Retailer,
    Role,
    RunStatus,
)
from retailers.webhook_models import OutboxEvent, WebhookDelivery, WebhookEndpoint
from tests.campaigns.factories import BonusTypeFactory, PastOfferFactory
from tests.campaigns.rewards_factories import BonusFactory, CampaignFactory, CampaignMemberFactory
from tests.customers.factories import CustomerFactory, TransactionFactory
from tests.retailers.factories import ProductFactory, RetailerFactory, StoreFactory, UserFactory


@dataclass
class Tenant:
    """A retailer with one row of every kind, its credentials and the marker in its keys."""

    retailer: Retailer
    marker: str
    objects: dict[str, models.Model] = field(default_factory=dict)
    api_key: str = ""
    portal_token: str = ""
    revoked_portal_token: str = ""
    staff: Any = None

    def __getitem__(self, name: str) -> Any:
        return self.objects[name]

    def by_model(self) -> dict[type[models.Model], models.Model]:
        """The first object of each concrete model (proxy models resolve to their concrete one)."""
        found: dict[type[models.Model], models.Model] = {}
        for obj in self.objects.values():
            found.setdefault(type(obj), obj)
        return found


def _score(tenant_retailer: Retailer, run: ScoringRun, customer: Any, code: str) -> CustomerScore:
    return CustomerScore.objects.create(
        retailer=tenant_retailer,
        run=run,
        customer=customer,
        churn_probability=Decimal("0.5"),
        p_alive=Decimal("0.5"),
        expected_visits=Decimal("2.0"),
        expected_spend=Decimal("60.00"),
        clv=Decimal("400.00"),
        responses={code: 0.3},
        segment="loyal",
        recency_days=5,
        frequency=20,
        frequency_52w=8,
        monetary_52w=Decimal("500.00"),
        avg_basket=Decimal("30.00"),
        tenure_days=700,
        discount_share=Decimal("0.05"),
        redemption_rate=Decimal("0.2"),
    )


def build_tenant(marker: str, *, role: str = Role.ADMIN) -> Tenant:
    """A retailer called ``marker`` with one row of every retailer-owned model.

    Every natural key (SKU, store id, customer id, bonus code, names) contains ``marker``.
    """
    from django_q.models import OrmQ, Schedule, Task

    retailer = RetailerFactory(slug=marker, name=f"{marker.title()} Markets")
    tenant = Tenant(retailer=retailer, marker=marker)
    o = tenant.objects
    staff = UserFactory(username=f"{marker}-staff", is_staff=True)
    tenant.staff = staff
    o["user"] = staff
    o["membership"] = Membership.objects.create(user=staff, retailer=retailer, role=role)
    o["retailer"] = retailer
    o["store"] = StoreFactory(retailer=retailer, external_id=f"{marker}-S1", name=f"{marker} store")
    o["product"] = ProductFactory(retailer=retailer, sku=f"{marker}-SKU1", name=f"{marker} beans")
    o["inventory"] = InventoryLevel.objects.create(
        retailer=retailer,
        product=o["product"],
        store=o["store"],
        date=dt.date(2025, 5, 1),
        on_hand=7,
    )
    o["competitor_price"] = CompetitorPrice.objects.create(
        retailer=retailer,
        product=o["product"],
        competitor=f"{marker} rival",
        date=dt.date(2025, 5, 1),
        price=Decimal("1.99"),
    )
    o["promotion_history"] = PromotionHistory.objects.create(
        retailer=retailer, product=o["product"], week_start=dt.date(2025, 4, 28), display_stores=1
    )
    o["customer"] = CustomerFactory(
        retailer=retailer, external_id=f"{marker}-C1", email=f"{marker}@example.com"
    )
    o["transaction"] = TransactionFactory(
        retailer=retailer, external_id=f"{marker}-T1", customer=o["customer"], store=o["store"]
    )
    o["transaction_line"] = TransactionLine.objects.create(
        retailer=retailer,
        transaction=o["transaction"],
        line_no=1,
        product=o["product"],
        quantity=Decimal("1.000"),
        amount=Decimal("2.00"),
        discount=Decimal("0.00"),
    )
    o["bonus_type"] = BonusTypeFactory(
        retailer=retailer,
        code=f"{marker}-coupon",
        kind=BonusKind.AMOUNT_DISCOUNT,
        face_value=Decimal("1.00"),
    )
    o["past_offer"] = PastOfferFactory(
        retailer=retailer,
        external_id=f"{marker}-O1",
        customer=o["customer"],
        bonus_type=o["bonus_type"],
    )
    o["scoring_run"] = ScoringRun.objects.create(
        retailer=retailer, as_of=dt.date(2025, 6, 2), status=RunStatus.SUCCEEDED
    )
    o["scoring_chunk"] = ScoringChunk.objects.create(
        retailer=retailer,
        run=o["scoring_run"],
        index=0,
        first_customer_id=o["customer"].pk,
        last_customer_id=o["customer"].pk,
        customers=1,
        status=RunStatus.SUCCEEDED,
    )
    o["model_version"] = ScoringModelVersion.objects.create(
        retailer=retailer,
        run=o["scoring_run"],
        artifact_path=f"{marker}/model.joblib",
        sha256="0" * 64,
        sklearn_version="1.9.1",
    )
    o["score"] = _score(retailer, o["scoring_run"], o["customer"], o["bonus_type"].code)
    o["recommendation_run"] = RecommendationRun.objects.create(
        retailer=retailer, as_of=dt.date(2025, 6, 2), status=RunStatus.SUCCEEDED
    )
    o["offer_candidate"] = OfferCandidate.objects.create(
        retailer=retailer,
        run=o["recommendation_run"],
        customer=o["customer"],
        product=o["product"],
        kind=OfferCandidate.Kind.BUY_AGAIN,
        score=1.0,
        rank=1,
        incremental_value=Decimal("0.40"),
        reason=f"you often buy {marker} beans; last bought 2 weeks ago",
    )
    o["allocation_run"] = AllocationRun.objects.create(
        retailer=retailer,
        scoring_run=o["scoring_run"],
        week_start=dt.date(2025, 6, 2),
        budget=Decimal("100.00"),
        status=RunStatus.SUCCEEDED,
    )
    o["campaign"] = CampaignFactory(
        retailer=retailer, name=f"{marker} campaign", allocation_run=o["allocation_run"]
    )
    o["member"] = CampaignMemberFactory(
        campaign=o["campaign"], customer=o["customer"], bonus_type=o["bonus_type"]
    )
    o["bonus"] = BonusFactory(member=o["member"], code=f"{marker.upper()}BONUS1")
    o["supplier_budget"] = SupplierBudget.objects.create(
        retailer=retailer, supplier=f"{marker} supplier", budget=Decimal("10.00")
    )
    o["campaign_offer"] = CampaignOffer.objects.create(
        retailer=retailer,
        campaign=o["campaign"],
        member=o["member"],
        customer=o["customer"],
        product=o["product"],
        bonus_type=o["bonus_type"],
        rank=1,
        discount_percent=Decimal("20.00"),
        supplier=f"{marker} supplier",
        reason=f"{marker} offer",
    )
    o["promotion_run"] = PromotionRun.objects.create(
        retailer=retailer, week_start=dt.date(2025, 6, 2), status=RunStatus.SUCCEEDED
    )
    o["proposal"] = PromotionProposal.objects.create(
        retailer=retailer,
        promotion_run=o["promotion_run"],
        week_start=dt.date(2025, 6, 2),
        notes=f"{marker} proposal",
    )
    o["proposal_item"] = PromotionItem.objects.create(
        retailer=retailer,
        proposal=o["proposal"],
        product=o["product"],
        rank=1,
        baseline_units=Decimal("10"),
        promoted_units=Decimal("15"),
        lift=Decimal("1.5"),
        incremental_units=Decimal("5"),
        incremental_revenue=Decimal("10.00"),
        incremental_margin=Decimal("3.00"),
        discount_cost=Decimal("1.00"),
        reason=f"{marker} reason",
    )
    o["import_job"] = ImportJob.objects.create(
        retailer=retailer,
        kind=ImportKind.PRODUCTS,
        file=f"imports/{marker}.csv",
        original_name=f"{marker}.csv",
        status=RunStatus.SUCCEEDED,
    )
    o["export_job"] = ExportJob.objects.create(  # finished, downloadable for years
        retailer=retailer,
        kind=ImportKind.PRODUCTS,
        file=f"exports/{marker}.csv",
        status=RunStatus.SUCCEEDED,
        total_rows=1,
        expires_at=dt.datetime(2999, 1, 1, tzinfo=dt.UTC),
    )
    new_token = api_token_create(retailer=retailer, name=f"{marker} till")
    o["api_token"], tenant.api_key = new_token.token, new_token.key
    link = portal_link_create(customer=o["customer"])
    o["portal_access"], tenant.portal_token = link.access, link.token
    o["points_entry"] = PointsEntry.objects.create(
        retailer=retailer,
        customer=o["customer"],
        seq=1,
        kind=PointsKind.EARNED,
        points=10,
        balance_after=10,
        reason=f"{marker} purchase",
    )
    o["redemption"] = Redemption.objects.create(
        retailer=retailer,
        bonus=o["bonus"],
        use_no=1,
        cost=Decimal("1.00"),
        api_token=o["api_token"],
    )
    o["email_template"] = EmailTemplate.objects.create(
        retailer=retailer, subject=f"{marker} offer {{{{ code }}}}", per_minute=100
    )
    o["delivery"] = Delivery.objects.create(
        retailer=retailer,
        bonus=o["bonus"],
        campaign=o["campaign"],
        customer=o["customer"],
        portal_link=o["portal_access"],
        send_on=o["bonus"].valid_from,
        message_id=f"<{marker}-offer@example.invalid>",
        last_error=f"{marker} refused",
    )
    o["idempotency"] = IdempotencyRecord.objects.create(
        retailer=retailer, key=f"{marker}-key", endpoint="redemptions", request_hash="0" * 64
    )
    now_ = timezone.now()
    o["webhook_endpoint"] = WebhookEndpoint.objects.create(
        retailer=retailer,
        url=f"https://{marker}.example.com/hook",
        event_types=["points.changed"],
        secret=seal(f"whsec_{marker}"),
    )
    o["outbox_event"] = OutboxEvent.objects.create(
        retailer=retailer, type="points.changed", payload={"marker": marker}, created_at=now_
    )
    o["webhook_delivery"] = WebhookDelivery.objects.create(
        retailer=retailer,
        endpoint=o["webhook_endpoint"],
        event=o["outbox_event"],
        next_attempt_at=now_,
        window_started_at=now_,
        last_error=f"{marker} error",
    )
    o["audit_entry"] = audit_record(
        target=o["campaign"], action="propose", actor_label=f"{marker} test", comment=marker
    )
    # Global (not retailer-owned) rows that the admin lists: a retailer's staff must never see
    # or change them.
    o["group"] = Group.objects.create(name=f"{marker}-group")
    o["schedule"] = Schedule.objects.create(
        name=f"{marker}-schedule", func="math.floor", args="1.5", schedule_type=Schedule.WEEKLY
    )
    now = timezone.now()
    o["task"] = Task.objects.create(
        id=uuid.uuid4().hex,
        name=f"{marker}-task",
        func="math.floor",
        started=now,
        stopped=now,
        success=True,
    )
    o["ormq"] = OrmQ.objects.create(key=f"{marker}-queue", payload="x", lock=now)
    from axes.models import AccessAttempt, AccessFailureLog, AccessLog

    o["axes_attempt"] = AccessAttempt.objects.create(
        username=f"{marker}-staff", ip_address="10.0.0.9", failures_since_start=1
    )
    o["axes_log"] = AccessLog.objects.create(username=f"{marker}-staff", ip_address="10.0.0.9")
    o["axes_failure"] = AccessFailureLog.objects.create(
        username=f"{marker}-staff", ip_address="10.0.0.9", locked_out=False
    )
    # A revoked link of the same customer (must be a 404 for everybody).
    revoked = portal_link_create(customer=o["customer"])
    revoked.access.revoked_at = now
    revoked.access.save(update_fields=["revoked_at"])
    tenant.revoked_portal_token = revoked.token
    return tenant
