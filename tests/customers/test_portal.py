"""Customer portal: secret links, revocation, expiry, no cross-customer data, rate limit."""

import datetime as dt
import re
from types import SimpleNamespace

import pytest
from django.core.cache import cache
from django.utils import timezone

from campaigns.models import BonusState
from customers.models import PortalAccess
from customers.services.points import points_adjust
from customers.services.portal import (
    portal_access_resolve,
    portal_link_create,
    portal_link_revoke,
)
from loyalty_site import rate_limit
from tests.campaigns.rewards_factories import BonusFactory
from tests.customers.factories import CustomerFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _clear_rate_counters():
    cache.clear()


@pytest.fixture
def customer(retailer):
    customer = CustomerFactory(retailer=retailer, external_id="C1")
    points_adjust(customer=customer, points=120, reason="welcome")
    return customer


def test_link_stores_only_a_hash(customer):
    link = portal_link_create(customer=customer)
    assert len(link.token) >= 43
    stored = PortalAccess.objects.get()
    assert link.token not in stored.token_hash
    assert stored.expires_at > timezone.now() + dt.timedelta(days=89)


def test_portal_page_shows_own_bonuses_qr_and_points(client, customer, retailer):
    bonus = BonusFactory(member__campaign__retailer=retailer, member__customer=customer)
    used = BonusFactory(
        member__campaign=bonus.campaign,
        member__customer=CustomerFactory(retailer=retailer),
        customer=customer,
        state=BonusState.REDEEMED,
        uses=1,
    )
    other = BonusFactory(member__campaign__retailer=retailer)
    link = portal_link_create(customer=customer)
    response = client.get(link.path)
    assert response.status_code == 200
    html = response.content.decode()
    assert bonus.code in html
    assert "<svg" in html
    assert used.code in html
    assert other.code not in html
    assert "120 points" in html
    assert "expire on" in html
    assert response["Cache-Control"] == "no-store, private"
    assert response["Referrer-Policy"] == "no-referrer"
    assert not re.search(r'(src|href)="(https?:)?//', html)  # no CDN or other outside asset


def test_portal_other_customers_link_shows_only_their_data(client, customer, retailer):
    stranger = CustomerFactory(retailer=retailer, external_id="C2")
    mine = BonusFactory(member__campaign__retailer=retailer, member__customer=customer)
    html = client.get(portal_link_create(customer=stranger).path).content.decode()
    assert mine.code not in html
    assert "0 points" in html


@pytest.mark.parametrize("token", ["unknown", "x" * 43, "a" * 300])
def test_unknown_token_is_404(client, token):
    assert client.get(f"/portal/{token}/").status_code == 404


def test_revoked_link_is_404(client, customer):
    link = portal_link_create(customer=customer)
    portal_link_revoke(access=link.access)
    assert client.get(link.path).status_code == 404


def test_expired_link_is_404(client, customer):
    link = portal_link_create(customer=customer, now=timezone.now() - dt.timedelta(days=91))
    assert portal_access_resolve(token=link.token) is None
    assert client.get(link.path).status_code == 404


def test_portal_is_rate_limited(client, customer, settings, monkeypatch):
    # 20 s into a minute, whatever the real time: the four views fall in one window.
    monkeypatch.setattr(rate_limit, "time", SimpleNamespace(time=lambda: 60_000_000 + 20.0))
    settings.PORTAL_RATE_PER_MINUTE = 3
    link = portal_link_create(customer=customer)
    responses = [client.get(link.path) for _ in range(4)]
    assert [r.status_code for r in responses] == [200, 200, 200, 429]
    assert responses[-1]["Retry-After"] == "40"  # when this minute's window ends


def test_admin_creates_a_link_once_and_revokes_it(client, customer, staff_user):
    client.force_login(staff_user)
    response = client.post(
        "/admin/customers/portalaccess/add/", {"customer": customer.pk}, follow=True
    )
    assert response.status_code == 200
    messages = [str(m) for m in response.context["messages"]]
    url = next(m for m in messages if "/portal/" in m).split(": ", 1)[1].split(" ")[0]
    path = url.split("testserver", 1)[1]
    client.logout()
    assert client.get(path).status_code == 200
    client.force_login(staff_user)
    access = PortalAccess.objects.get()
    client.post(
        "/admin/customers/portalaccess/",
        {"action": "revoke", "_selected_action": [access.pk]},
    )
    client.logout()
    assert client.get(path).status_code == 404


def test_admin_cannot_create_a_link_for_another_retailer(client, staff_user, other_retailer):
    foreign = CustomerFactory(retailer=other_retailer)
    client.force_login(staff_user)
    client.post("/admin/customers/portalaccess/add/", {"customer": foreign.pk})
    assert not PortalAccess.objects.exists()
