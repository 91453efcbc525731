"""POS API: token authentication, tenant scoping, throttling, error bodies, OpenAPI schema."""

from types import SimpleNamespace

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from campaigns.api.throttles import TokenScopedThrottle
from campaigns.services.tokens import api_token_revoke
from loyalty_site import rate_limit
from tests.campaigns.rewards_factories import BonusFactory, token_client
from tests.customers.factories import CustomerFactory

pytestmark = pytest.mark.django_db


def test_missing_token_is_401_with_error_body(api_client, retailer):
    CustomerFactory(retailer=retailer, external_id="C1")
    response = api_client.get("/api/v1/customers/C1/")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    assert response.json()["error"]["code"] == "not_authenticated"


@pytest.mark.parametrize("header", ["Token nope", "Token abc.def", "Token a b", "Token"])
def test_bad_token_is_401(api_client, retailer, header):
    api_client.credentials(HTTP_AUTHORIZATION=header)
    assert api_client.get("/api/v1/campaigns/").status_code == 401


def test_revoked_token_is_401(api_client, retailer):
    client, _, token = token_client(api_client, retailer)
    assert client.get("/api/v1/campaigns/").status_code == 200
    api_token_revoke(token=token)
    response = client.get("/api/v1/campaigns/")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "authentication_failed"


def test_staff_session_is_not_enough(client, staff_user):
    client.force_login(staff_user)
    assert client.get("/api/v1/campaigns/").status_code in (401, 403)


def test_another_retailers_customer_and_code_are_404(api_client, retailer, other_retailer):
    CustomerFactory(retailer=other_retailer, external_id="FOREIGN")
    foreign = BonusFactory(member__campaign__retailer=other_retailer)
    client, _, _ = token_client(api_client, retailer)
    assert client.get("/api/v1/customers/FOREIGN/").status_code == 404
    response = client.post(
        "/api/v1/redemptions/", {"code": foreign.code}, format="json", HTTP_IDEMPOTENCY_KEY="k1"
    )
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    foreign.refresh_from_db()
    assert foreign.uses == 0


def test_campaigns_are_scoped_to_the_tokens_retailer(api_client, retailer, other_retailer):
    mine = BonusFactory(member__campaign__retailer=retailer).campaign
    theirs = BonusFactory(member__campaign__retailer=other_retailer).campaign
    client, _, _ = token_client(api_client, retailer)
    ids = [c["id"] for c in client.get("/api/v1/campaigns/").json()["results"]]
    assert ids == [mine.pk]
    assert client.get(f"/api/v1/campaigns/{theirs.pk}/").status_code == 404
    detail = client.get(f"/api/v1/campaigns/{mine.pk}/").json()
    assert "results" in detail
    assert detail["spent"] == "0.00"


def test_throttle_answers_429_with_retry_after(api_client, retailer, monkeypatch):
    cache.clear()  # token ids are reused between tests; so would be their counters
    # 30 s into a minute, whatever the real time: the requests fall in one window.
    monkeypatch.setattr(rate_limit, "time", SimpleNamespace(time=lambda: 60_000_000 + 30.0))
    monkeypatch.setattr(TokenScopedThrottle, "THROTTLE_RATES", {"pos_read": "2/min"})
    client, _, _ = token_client(api_client, retailer)
    codes = [client.get("/api/v1/campaigns/").status_code for _ in range(3)]
    assert codes == [200, 200, 429]
    response = client.get("/api/v1/campaigns/")
    assert response.json()["error"]["code"] == "throttled"
    assert response["Retry-After"] == "30"


def test_oversized_body_is_413(api_client, retailer, settings):
    settings.API_MAX_BODY_BYTES = 1000
    client, _, _ = token_client(api_client, retailer)
    body = {"code": "X", "store_id": "s" * 2000}
    response = client.post("/api/v1/redemptions/", body, format="json", HTTP_IDEMPOTENCY_KEY="k")
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"


def test_malformed_json_is_400(api_client, retailer):
    client, _, _ = token_client(api_client, retailer)
    response = client.post("/api/v1/transactions/", "{not json", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "parse_error"


def test_schema_lists_the_pos_endpoints(client):
    schema = client.get("/api/v1/schema/?format=json").json()
    for path in (
        "/api/v1/customers/{external_id}/",
        "/api/v1/transactions/",
        "/api/v1/redemptions/",
        "/api/v1/points/redeem/",
        "/api/v1/campaigns/",
        "/api/v1/campaigns/{id}/",
        "/api/v1/scoring-runs/",
    ):
        assert path in schema["paths"], path
    redeem = schema["paths"]["/api/v1/redemptions/"]["post"]
    assert any(p["name"] == "Idempotency-Key" for p in redeem["parameters"])
    assert "ApiToken" in schema["components"]["securitySchemes"]


def test_admin_creates_a_token_shown_once_and_revokes_it(client, staff_user, retailer):
    from campaigns.models import ApiToken

    client.force_login(staff_user)
    response = client.post(
        "/admin/campaigns/apitoken/add/", {"retailer": retailer.pk, "name": "till 7"}, follow=True
    )
    message = next(str(m) for m in response.context["messages"] if "API key" in str(m))
    key = message.split("API key for till 7: ", 1)[1].split(" ", 1)[0]
    token = ApiToken.objects.get()
    assert key.startswith(token.prefix + ".")
    assert key.split(".", 1)[1] not in token.key_hash
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert api.get("/api/v1/campaigns/").status_code == 200
    client.post("/admin/campaigns/apitoken/", {"action": "revoke", "_selected_action": [token.pk]})
    assert api.get("/api/v1/campaigns/").status_code == 401


def test_analyst_cannot_create_tokens(client, make_staff, retailer):
    client.force_login(make_staff(retailer, "analyst"))
    response = client.post("/admin/campaigns/apitoken/add/", {"retailer": retailer.pk, "name": "x"})
    assert response.status_code == 403
