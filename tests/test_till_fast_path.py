"""A till's request (``/api/`` with a token) takes the short middleware stack of
``loyalty_site.middleware.TillFastPathMiddleware``; every other request the site's whole stack."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.campaigns.rewards_factories import token_client
from tests.customers.factories import CustomerFactory

pytestmark = pytest.mark.django_db


def test_a_tills_request_skips_sessions_and_the_pages_headers(api_client, retailer):
    CustomerFactory(retailer=retailer, external_id="C1")
    client, _, _ = token_client(api_client, retailer)
    response = client.get("/api/v1/customers/C1/")
    assert response.status_code == 200
    assert response.json()["customer_id"] == "C1"
    assert "Content-Security-Policy" not in response.headers  # an HTML policy: pages only
    assert "X-Frame-Options" not in response.headers
    assert "Vary" not in response.headers  # no session or cookie was looked at
    assert response.cookies == {}
    assert response.headers["X-Content-Type-Options"] == "nosniff"  # security headers stay


def test_a_staff_request_to_the_api_takes_the_whole_stack(retailer, make_staff):
    from retailers.models import Role

    staff = Client()
    staff.force_login(make_staff(retailer, Role.ADMIN))
    response = staff.get("/api/v1/schema/")
    assert response.status_code == 200
    assert "Content-Security-Policy" in response.headers


@pytest.mark.parametrize(
    ("path", "extra", "status"),
    [
        ("/api/v1/customers/C%001/", {}, 400),  # the NUL-byte guard
        ("/api/v1/customers/C1/", {"HTTP_HOST": "evil.example"}, 400),  # ALLOWED_HOSTS
        ("/api/v1/customers/C1", {}, 301),  # APPEND_SLASH
    ],
)
def test_the_short_stack_keeps_the_guards(api_client, retailer, path, extra, status):
    CustomerFactory(retailer=retailer, external_id="C1")
    client, _, _ = token_client(api_client, retailer)
    assert client.get(path, **extra).status_code == status


def test_a_bad_token_is_refused_on_the_short_stack(api_client):
    api_client.credentials(HTTP_AUTHORIZATION="Token nope.nope")
    response = api_client.get("/api/v1/customers/C1/")
    assert response.status_code == 401
    assert response.json()["error"]["code"]
