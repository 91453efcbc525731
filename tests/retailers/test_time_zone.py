"""Times in the retailer's zone: staff pages, the admin (a user of one retailer) and the portal
show datetimes in the zone of their retailer and say which; nothing leaks into the next request.

A purchase at 10:00 in Helsinki (UTC+2 in January) is 08:00 UTC.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.cache import cache
from django.test import Client
from django.utils import timezone

from campaigns.models import Campaign
from customers.models import PointsEntry
from customers.services.points import points_adjust
from customers.services.portal import portal_link_create
from retailers.models import Role
from tests.campaigns.rewards_factories import CampaignFactory
from tests.customers.factories import CustomerFactory, TransactionFactory
from tests.retailers.factories import MembershipFactory, RetailerFactory

pytestmark = pytest.mark.django_db

PURCHASE = dt.datetime(2025, 1, 15, 8, 0, tzinfo=dt.UTC)  # 10:00 in Helsinki


@pytest.fixture
def helsinki(retailer):
    assert retailer.time_zone == "Europe/Helsinki"
    return retailer


@pytest.fixture
def basket(helsinki):
    return TransactionFactory(retailer=helsinki, external_id="T-HEL", timestamp=PURCHASE)


def page(client, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200, path
    assert timezone.get_current_timezone_name() == "UTC"  # reset after the request
    return response.content.decode()


def test_staff_pages_show_times_in_the_retailers_zone_and_name_it(
    client, helsinki, basket, make_staff
):
    campaign = CampaignFactory(retailer=helsinki)
    Campaign.objects.filter(pk=campaign.pk).update(created_at=PURCHASE)
    client.force_login(make_staff(helsinki, Role.VIEWER))
    customer = page(client, f"/customers/{basket.customer.pk}/")
    assert "Jan. 15, 2025, 10 a.m." in customer
    assert "8 a.m." not in customer
    assert "Times in Europe/Helsinki" in customer
    campaigns = page(client, "/campaigns/")
    assert "2025-01-15 10:00" in campaigns
    assert "2025-01-15 08:00" not in campaigns


def test_a_user_of_two_retailers_sees_the_zone_of_the_one_chosen(client, helsinki, make_staff):
    lisbon = RetailerFactory(slug="lisbon", name="Lisbon Foods", time_zone="Europe/Lisbon")
    user = make_staff(helsinki, Role.VIEWER)
    MembershipFactory(user=user, retailer=lisbon, role=Role.VIEWER)
    theirs = TransactionFactory(retailer=lisbon, timestamp=PURCHASE)
    client.force_login(user)
    # Following a link to the other retailer's customer switches to that retailer and its zone.
    html = page(client, f"/customers/{theirs.customer.pk}/")
    assert "Times in Europe/Lisbon" in html
    assert "Jan. 15, 2025, 8 a.m." in html


def test_the_admin_shows_the_zone_of_a_user_with_one_retailer(helsinki, basket, make_staff):
    client = Client()
    client.force_login(make_staff(helsinki, Role.ADMIN))
    html = page(client, "/admin/customers/transaction/")
    assert "Times in Europe/Helsinki" in html
    assert "Jan. 15, 2025, 10 a.m." in html


def test_the_admin_of_a_superuser_shows_utc_and_says_so(helsinki, basket, make_staff):
    client = Client()
    client.force_login(make_staff(helsinki, Role.ADMIN, is_superuser=True))
    html = page(client, "/admin/customers/transaction/")
    assert "Times in UTC" in html
    assert "Jan. 15, 2025, 8 a.m." in html


def test_the_portal_shows_dates_in_the_retailers_zone(client, helsinki):
    cache.clear()
    customer = CustomerFactory(retailer=helsinki)
    points_adjust(customer=customer, points=10, reason="welcome")
    late = dt.datetime(2025, 1, 14, 23, 30, tzinfo=dt.UTC)  # already 15 January in Helsinki
    PointsEntry.objects.filter(customer=customer).update(created_at=late)
    html = page(client, portal_link_create(customer=customer).path)
    assert "15 Jan 2025" in html
    assert "14 Jan 2025" not in html
