"""The domain services write their webhook events in their own transaction, and nothing that
goes wrong with delivering them reaches the request that caused them."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from campaigns.models import BonusState, CampaignState
from campaigns.services.issuance import campaign_bonuses_issue
from campaigns.services.promotions import promotion_proposal_approve
from campaigns.services.redemption import bonuses_expire_due
from campaigns.services.workflow import campaign_approve, campaign_close
from retailers.models import Role
from retailers.webhook_models import DeliveryStatus, OutboxEvent, WebhookDelivery
from retailers.webhooks import webhook_endpoint_create
from tests.campaigns import rewards_factories as rf
from tests.campaigns.factories import CampaignFactory
from tests.campaigns.test_promotion_views import make_proposal
from tests.customers.factories import CustomerFactory
from tests.retailers.factories import ProductFactory, StoreFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def subscribe(retailer, settings):
    settings.WEBHOOK_ALLOW_LOCAL_HTTP = True

    def make(*types: str, url: str = "https://hooks.example.com/in"):
        return webhook_endpoint_create(retailer_id=retailer.pk, url=url, event_types=list(types))

    return make


def events(type: str) -> list[dict]:
    return [e.payload for e in OutboxEvent.objects.filter(type=type).order_by("pk")]


def test_campaign_approve_and_close_emit_their_events(retailer, make_staff, subscribe):
    subscribe("campaign.approved", "campaign.closed")
    campaign = CampaignFactory(retailer=retailer, state=CampaignState.PROPOSED)
    approver = make_staff(retailer, Role.APPROVER)
    for _ in range(2):  # approving twice reports it once
        campaign_approve(campaign_id=campaign.pk, actor=approver)
    [approved] = events("campaign.approved")
    assert approved["data"]["campaign"]["id"] == campaign.pk
    assert approved["data"]["campaign"]["state"] == "approved"
    campaign.__class__.objects.filter(pk=campaign.pk).update(state=CampaignState.ISSUED)
    campaign_close(campaign_id=campaign.pk, results={"lift": "0.10"})
    [closed] = events("campaign.closed")
    assert closed["data"]["campaign"]["results"] == {"lift": "0.10"}


def test_issuance_emits_the_issued_bonuses(retailer, subscribe):
    subscribe("bonus.issued")
    member = rf.CampaignMemberFactory(
        campaign__retailer=retailer, campaign__state=CampaignState.APPROVED
    )
    assert campaign_bonuses_issue(campaign_id=member.campaign_id) == 1
    [issued] = events("bonus.issued")
    [row] = issued["data"]["bonuses"]
    assert row["customer"] == member.customer.external_id
    assert row["code"] == member.bonus.code
    assert row["value"] == "1.00"


def test_expiry_emits_the_expired_bonuses_per_retailer(retailer, other_retailer, subscribe):
    subscribe("bonus.expired")
    past = rf.TODAY - dt.timedelta(days=10)
    old = rf.BonusFactory(
        member__campaign__retailer=retailer, valid_from=past, valid_to=past + dt.timedelta(days=1)
    )
    rf.BonusFactory(member__campaign__retailer=retailer)  # still valid
    rf.BonusFactory(  # expires, but its retailer has no endpoint
        member__campaign__retailer=other_retailer,
        valid_from=past,
        valid_to=past + dt.timedelta(days=1),
    )
    assert bonuses_expire_due() == 2
    [expired] = events("bonus.expired")
    assert [b["code"] for b in expired["data"]["bonuses"]] == [old.code]
    assert OutboxEvent.objects.get().retailer_id == retailer.pk


def test_promotion_approval_emits_the_published_items(retailer, make_staff, subscribe):
    subscribe("promotion.approved")
    proposal = make_proposal(retailer, products=2)
    promotion_proposal_approve(proposal_id=proposal.pk, actor=make_staff(retailer, Role.APPROVER))
    [approved] = events("promotion.approved")
    items = approved["data"]["items"]
    assert [i["sku"] for i in items] == ["acme-1", "acme-2"]
    assert items[0]["discount_rate"] == "0.2000"
    assert items[0]["valid_from"] == "2025-06-02"
    assert items[0]["valid_to"] == "2025-06-08"


# --- The request that caused the event ---------------------------------------------------------
def basket() -> dict:
    return {
        "transaction_id": "T1",
        "customer_id": "C1",
        "store_id": "S1",
        "timestamp": (timezone.now() - dt.timedelta(hours=1)).isoformat(),
        "lines": [{"sku": "A", "quantity": "2", "amount": "7.50"}],
    }


@pytest.fixture
def till(api_client, retailer):
    CustomerFactory(retailer=retailer, external_id="C1")
    StoreFactory(retailer=retailer, external_id="S1")
    ProductFactory(retailer=retailer, sku="A")
    return rf.token_client(api_client, retailer)[0]


def test_points_change_at_the_till_is_reported_even_when_the_sender_is_down(
    till, subscribe, monkeypatch, django_capture_on_commit_callbacks
):
    subscribe("points.changed")

    def broker_down(*args, **kwargs):
        raise ConnectionError("broker down")

    monkeypatch.setattr("retailers.webhooks.async_task", broker_down)
    with django_capture_on_commit_callbacks(execute=True):
        response = till.post("/api/v1/transactions/", basket(), format="json")
    assert response.status_code == 201, response.json()
    [changed] = events("points.changed")
    assert (changed["data"]["customer"], changed["data"]["points"]) == ("C1", 7)
    assert changed["data"]["balance_after"] == 7
    assert WebhookDelivery.objects.get().status == DeliveryStatus.PENDING


def test_a_failing_delivery_in_the_commit_hook_never_fails_the_request(
    till, subscribe, django_capture_on_commit_callbacks
):
    # Tests run django-q2 in sync mode, so the nudge sends right away, here to a closed port.
    subscribe("points.changed", url="http://127.0.0.1:9/hooks")
    with django_capture_on_commit_callbacks(execute=True):
        response = till.post("/api/v1/transactions/", basket(), format="json")
    assert response.status_code == 201
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == DeliveryStatus.PENDING
    assert delivery.attempts == 1
    assert delivery.last_error


def test_redemption_emits_bonus_redeemed(retailer, api_client, subscribe):
    subscribe("bonus.redeemed")
    client = rf.token_client(api_client, retailer)[0]
    bonus = rf.BonusFactory(member__campaign__retailer=retailer)
    response = client.post(
        "/api/v1/redemptions/", {"code": bonus.code}, format="json", HTTP_IDEMPOTENCY_KEY="k1"
    )
    assert response.status_code == 201
    [redeemed] = events("bonus.redeemed")
    assert redeemed["data"]["code"] == bonus.code
    assert redeemed["data"]["cost"] == "1.00"
    bonus.refresh_from_db()
    assert bonus.state == BonusState.REDEEMED


def test_a_refused_redemption_writes_no_event(retailer, api_client, subscribe):
    subscribe("bonus.redeemed")
    client = rf.token_client(api_client, retailer)[0]
    bonus = rf.BonusFactory(member__campaign__retailer=retailer, redemption_cost=Decimal("1.00"))
    rf.CampaignFactory._meta.model.objects.filter(pk=bonus.campaign_id).update(
        spend_limit=Decimal("0.00")
    )
    response = client.post(
        "/api/v1/redemptions/", {"code": bonus.code}, format="json", HTTP_IDEMPOTENCY_KEY="k1"
    )
    assert response.status_code == 409
    assert not OutboxEvent.objects.exists()
