"""POST /api/v1/redemptions/ and /points/redeem/: idempotency keys, refusals, budget."""

import datetime as dt
from decimal import Decimal

import pytest

from campaigns.models import Bonus, BonusState, Campaign, IdempotencyRecord, Redemption
from campaigns.services import redemption as redemption_service
from customers.services.points import points_adjust, points_summary
from tests.campaigns.rewards_factories import TODAY, BonusFactory, token_client
from tests.customers.factories import CustomerFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/redemptions/"


@pytest.fixture
def client(api_client, retailer):
    return token_client(api_client, retailer)[0]


@pytest.fixture
def bonus(retailer):
    return BonusFactory(member__campaign__retailer=retailer)


def redeem(client, code, key, **extra):
    return client.post(URL, {"code": code, **extra}, format="json", HTTP_IDEMPOTENCY_KEY=key)


def test_redeem_succeeds_and_books_the_cost(client, bonus):
    response = redeem(client, bonus.code, "k1", basket_amount="12.50")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["code"], body["use_no"], body["uses_left"], body["cost"]) == (
        bonus.code,
        1,
        0,
        "1.00",
    )
    bonus.refresh_from_db()
    assert (bonus.uses, bonus.state) == (1, BonusState.REDEEMED)
    bonus.campaign.refresh_from_db()
    assert bonus.campaign.spent == Decimal("1.00")


def test_redeem_code_is_case_insensitive(client, bonus):
    assert redeem(client, bonus.code.lower(), "k1").status_code == 201


def test_missing_idempotency_key_is_400(client, bonus):
    response = client.post(URL, {"code": bonus.code}, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "idempotency_key_required"
    assert Redemption.objects.count() == 0


def test_same_key_same_body_replays_without_second_effect(client, bonus):
    first = redeem(client, bonus.code, "k1")
    second = redeem(client, bonus.code, "k1")
    assert second.status_code == 201
    assert second.json() == first.json()
    assert second["Idempotent-Replayed"] == "true"
    assert Redemption.objects.count() == 1


def test_a_retry_that_could_succeed_again_changes_nothing(client, retailer):
    """The retry's own effect (a second use of a three-use bonus) is rolled back: key taken."""
    bonus = BonusFactory(member__campaign__retailer=retailer, max_uses=3)
    first = redeem(client, bonus.code, "k1")
    retry = redeem(client, bonus.code, "k1")
    assert (retry.status_code, retry.json()) == (201, first.json())
    assert retry["Idempotent-Replayed"] == "true"
    bonus.refresh_from_db()
    assert bonus.uses == 1
    assert Redemption.objects.count() == 1
    assert Campaign.objects.get(pk=bonus.campaign_id).spent == Decimal("1.00")


def test_points_redeem_retry_spends_once(client, retailer):
    customer = CustomerFactory(retailer=retailer, external_id="C1")
    points_adjust(customer=customer, points=200, reason="opening balance")
    body = {"customer_id": "C1", "points": 60}
    url = "/api/v1/points/redeem/"
    first = client.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY="p1")
    retry = client.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY="p1")
    assert (first.status_code, retry.status_code) == (201, 201)
    assert (
        retry.json()
        == first.json()
        == {"customer_id": "C1", "points": 60, "balance": 140, "seq": 2}
    )
    assert points_summary(customer=customer).balance == 140


def test_same_key_different_body_is_422(client, bonus):
    redeem(client, bonus.code, "k1")
    response = redeem(client, bonus.code, "k1", basket_amount="3.00")
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "idempotency_key_reused"


def test_second_redemption_under_another_key_is_409(client, bonus):
    assert redeem(client, bonus.code, "k1").status_code == 201
    response = redeem(client, bonus.code, "k2")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "already_redeemed"
    # The refusal is stored too: the same key replays it.
    assert redeem(client, bonus.code, "k2").json() == response.json()
    assert Redemption.objects.count() == 1


def test_multi_use_bonus_allows_max_uses(client, retailer):
    bonus = BonusFactory(member__campaign__retailer=retailer, max_uses=2)
    codes = [redeem(client, bonus.code, f"k{i}").status_code for i in range(3)]
    assert codes == [201, 201, 409]
    assert list(Redemption.objects.order_by("use_no").values_list("use_no", flat=True)) == [1, 2]


def test_expired_bonus_is_410(client, retailer):
    bonus = BonusFactory(
        member__campaign__retailer=retailer,
        valid_from=TODAY - dt.timedelta(days=20),
        valid_to=TODAY - dt.timedelta(days=2),
    )
    response = redeem(client, bonus.code, "k1")
    assert response.status_code == 410
    assert response.json()["error"]["code"] == "expired"


def test_budget_exhausted_is_409_and_rolls_back_the_use(client, retailer):
    bonus = BonusFactory(
        member__campaign__retailer=retailer,
        member__campaign__spend_limit=Decimal("0.50"),
        redemption_cost=Decimal("1.00"),
    )
    response = redeem(client, bonus.code, "k1")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "budget_exhausted"
    bonus.refresh_from_db()
    assert (bonus.uses, bonus.state) == (0, BonusState.ISSUED)


@pytest.mark.parametrize("step_by_step", [False, True])
def test_a_free_bonus_still_redeems_once_the_campaign_budget_is_spent(
    client, retailer, monkeypatch, step_by_step
):
    if step_by_step:
        monkeypatch.setattr(redemption_service, "_take_at_once", lambda cursor, use: None)
    bonus = BonusFactory(
        member__campaign__retailer=retailer,
        member__campaign__spend_limit=Decimal("5.00"),
        member__campaign__spent=Decimal("5.00"),
        redemption_cost=Decimal("0.00"),
    )
    response = redeem(client, bonus.code, "k1")
    assert response.status_code == 201, response.json()
    assert response.json()["cost"] == "0.00"
    assert Campaign.objects.get(pk=bonus.campaign_id).spent == Decimal("5.00")
    assert Redemption.objects.get(bonus=bonus).cost == Decimal("0.00")


def test_a_refusal_is_replayed_under_its_key_even_once_it_would_succeed(client, retailer):
    bonus = BonusFactory(
        member__campaign__retailer=retailer,
        member__campaign__spend_limit=Decimal("0.50"),
        redemption_cost=Decimal("1.00"),
    )
    refused = redeem(client, bonus.code, "k1")
    assert refused.status_code == 409
    Campaign.objects.filter(pk=bonus.campaign_id).update(spend_limit=Decimal("10.00"))
    replay = redeem(client, bonus.code, "k1")
    assert (replay.status_code, replay.json()) == (409, refused.json())
    assert replay["Idempotent-Replayed"] == "true"
    record = IdempotencyRecord.objects.get(key="k1")
    assert (record.status_code, record.response_body) == (409, refused.json())
    assert redeem(client, bonus.code, "k2").status_code == 201


def test_bonus_cancelled_between_read_and_use_is_refused_as_cancelled(client, bonus, monkeypatch):
    """The use is taken only from a bonus still issued: a cancel that lands after the read wins."""
    real_find = redemption_service._find

    def find_then_cancel(cursor, retailer, code):
        found = real_find(cursor, retailer, code)
        Bonus.objects.filter(pk=bonus.pk).update(state=BonusState.CANCELLED)
        return found

    monkeypatch.setattr(redemption_service, "_find", find_then_cancel)
    # PostgreSQL's one-statement path has no such window: take the step-by-step path.
    monkeypatch.setattr(redemption_service, "_take_at_once", lambda cursor, use: None)
    response = redeem(client, bonus.code, "k1")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "cancelled"
    # (The simulated cancel ran inside the refused request's transaction and was rolled back
    # with it; a real one commits on its own.)
    bonus.refresh_from_db()
    assert bonus.uses == 0
    assert Redemption.objects.count() == 0


def test_redemption_row_records_till_store_basket_and_time(client, retailer, bonus):
    from retailers.models import Store

    store = Store.objects.create(retailer=retailer, external_id="S9", name="High Street")
    response = redeem(client, bonus.code, "k1", basket_amount="12.34", store_id="S9")
    assert response.status_code == 201
    row = Redemption.objects.get()
    assert row.pk == response.json()["redemption_id"]
    assert (row.retailer_id, row.bonus_id, row.use_no) == (retailer.pk, bonus.pk, 1)
    assert (row.store_id, row.basket_amount, row.cost) == (
        store.pk,
        Decimal("12.34"),
        Decimal("1.00"),
    )
    assert row.api_token is not None
    assert row.api_token.retailer_id == retailer.pk
    assert row.redeemed_at.tzinfo is not None
    assert response.json()["redeemed_at"].replace("Z", "+00:00") == row.redeemed_at.isoformat()


def test_unknown_code_is_404(client):
    assert redeem(client, "NOPE234567", "k1").status_code == 404


def test_validation_error_names_the_field(client):
    response = client.post(URL, {"basket_amount": "abc"}, format="json", HTTP_IDEMPOTENCY_KEY="k1")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert set(error["fields"]) == {"code", "basket_amount"}
    assert IdempotencyRecord.objects.count() == 0


def test_points_redeem_spends_and_refuses_overdraft(client, retailer):
    customer = CustomerFactory(retailer=retailer, external_id="C1")
    points_adjust(customer=customer, points=100, reason="opening balance")
    url = "/api/v1/points/redeem/"
    ok = client.post(
        url, {"customer_id": "C1", "points": 60}, format="json", HTTP_IDEMPOTENCY_KEY="p1"
    )
    assert ok.status_code == 201
    assert ok.json()["balance"] == 40
    replay = client.post(
        url, {"customer_id": "C1", "points": 60}, format="json", HTTP_IDEMPOTENCY_KEY="p1"
    )
    assert replay.json() == ok.json()
    short = client.post(
        url, {"customer_id": "C1", "points": 60}, format="json", HTTP_IDEMPOTENCY_KEY="p2"
    )
    assert short.status_code == 409
    assert short.json()["error"]["code"] == "insufficient_points"
    bad = client.post(
        url, {"customer_id": "C1", "points": 0}, format="json", HTTP_IDEMPOTENCY_KEY="p3"
    )
    assert bad.status_code == 400
    assert "points" in bad.json()["error"]["fields"]


def test_points_multiplier_credits_extra_points_and_books_their_value(client, retailer):
    from campaigns.models import BonusKind
    from customers.services.points import points_summary
    from tests.campaigns.factories import BonusTypeFactory

    btype = BonusTypeFactory(
        retailer=retailer, kind=BonusKind.POINTS_MULTIPLIER, face_value=Decimal("3")
    )
    bonus = BonusFactory(
        member__campaign__retailer=retailer, member__bonus_type=btype, value=Decimal("3")
    )
    response = redeem(client, bonus.code, "k1", basket_amount="25.40")
    assert response.status_code == 201
    assert response.json()["cost"] == "0.50"  # floor(25.40 x 1 x (3 - 1)) = 50 points x 0.01
    assert points_summary(customer=bonus.customer).balance == 50


def test_postgres_takes_records_and_books_a_fixed_cost_use_in_one_statement(client, bonus):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        assert redeem(client, bonus.code, "k1").status_code == 201
    sql = [q["sql"] for q in queries.captured_queries]
    assert sum("WITH take AS" in s for s in sql) == 1
    assert not [s for s in sql if 'JOIN "campaigns_bonustype"' in s]  # no separate read
    # Then only the stored answer: the budget was booked by the same statement.
    assert not [s for s in sql if s.lstrip().startswith('UPDATE "campaigns_campaign"')]
    assert Campaign.objects.get(pk=bonus.campaign_id).spent == Decimal("1.00")


def test_postgres_multiplier_takes_the_step_by_step_path(client, retailer):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from campaigns.models import BonusKind
    from tests.campaigns.factories import BonusTypeFactory

    btype = BonusTypeFactory(retailer=retailer, kind=BonusKind.POINTS_MULTIPLIER)
    bonus = BonusFactory(member__campaign__retailer=retailer, member__bonus_type=btype)
    with CaptureQueriesContext(connection) as queries:
        response = redeem(client, bonus.code, "k1", basket_amount="10.00")
    assert response.status_code == 201
    sql = [q["sql"] for q in queries.captured_queries]
    assert [s for s in sql if 'JOIN "campaigns_bonustype"' in s]  # the read of step 0
