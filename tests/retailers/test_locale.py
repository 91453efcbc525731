"""A retailer's locale: its staff pages write numbers and money its way, and only its pages."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import translation

from retailers.models import Locale, Role
from tests.customers.factories import CustomerFactory
from tests.customers.test_views import make_score
from tests.optimizer.factories import ScoringRunFactory
from tests.optimizer.test_admin import METRICS

pytestmark = pytest.mark.django_db


def dashboard_html(client, retailer, make_staff) -> str:
    run = ScoringRunFactory(
        retailer=retailer, metrics=METRICS, finished_at=dt.datetime(2025, 6, 2, 12, tzinfo=dt.UTC)
    )
    make_score(run, CustomerFactory(retailer=retailer), churn="0.1000", clv="1230.40")
    client.force_login(make_staff(retailer, Role.VIEWER))
    page = client.get(reverse("retailers:dashboard"))
    assert page.status_code == 200
    return page.content.decode()


@pytest.mark.parametrize(("locale", "clv"), [(Locale.EN_US, "1,230 EUR"), (Locale.DE, "1.230 EUR")])
def test_dashboard_writes_money_in_the_retailers_locale(client, retailer, make_staff, locale, clv):
    retailer.locale = locale
    retailer.save(update_fields=["locale"])
    assert clv in dashboard_html(client, retailer, make_staff)


def test_the_locale_ends_with_the_request(client, retailer, make_staff):
    retailer.locale = Locale.DE
    retailer.save(update_fields=["locale"])
    dashboard_html(client, retailer, make_staff)
    assert translation.get_language() == "en-us"  # the next request on this thread starts clean
