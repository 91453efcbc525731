"""The portal-link admin form picks the customer by the customer's own id."""

from __future__ import annotations

import pytest
from django.urls import reverse

from retailers.models import Role
from tests.customers.factories import CustomerFactory

pytestmark = pytest.mark.django_db


def test_portal_link_form_finds_the_customer_by_its_own_id(client, retailer, make_staff):
    wanted = CustomerFactory(retailer=retailer, external_id="2042")
    CustomerFactory(retailer=retailer, external_id="2063")
    client.force_login(make_staff(retailer, Role.ADMIN))
    form = client.get(reverse("admin:customers_portalaccess_add"))
    assert b"admin-autocomplete" in form.content
    search = {"app_label": "customers", "model_name": "portalaccess", "field_name": "customer"}
    found = client.get(reverse("admin:autocomplete"), {**search, "term": "2042"}).json()
    assert found["results"] == [{"id": str(wanted.pk), "text": "2042"}]
