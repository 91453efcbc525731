"""Data-subject requests: export everything about a customer; anonymise keeping aggregates."""

import io
import json
import zipfile

import pytest

from customers.models import Customer, PointsEntry, PortalAccess, Transaction
from customers.services.points import points_earn
from customers.services.portal import portal_access_resolve, portal_link_create
from customers.services.privacy import customer_anonymise, customer_export
from tests.campaigns.rewards_factories import BonusFactory
from tests.customers.factories import CustomerFactory, TransactionLineFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def customer(retailer):
    customer = CustomerFactory(
        retailer=retailer, external_id="C1", email="ann@example.com", age_band="35-44"
    )
    line = TransactionLineFactory(transaction__retailer=retailer, transaction__customer=customer)
    points_earn(txn=line.transaction)
    BonusFactory(member__campaign__retailer=retailer, member__customer=customer)
    return customer


def test_export_contains_everything_held(customer):
    data = customer_export(customer=customer)
    assert data["customer"]["email"] == "ann@example.com"
    assert len(data["transactions"]) == 1
    assert len(data["transaction_lines"]) == 1
    assert data["points"][0]["kind"] == "earned"
    assert len(data["bonuses"]) == 1
    assert len(data["campaign_memberships"]) == 1
    json.dumps(data)


def test_anonymise_blanks_personal_data_and_keeps_aggregates(customer):
    link = portal_link_create(customer=customer)
    customer_anonymise(customer=customer)
    customer.refresh_from_db()
    assert customer.external_id.startswith("anon-")
    assert (customer.email, customer.age_band, customer.marketing_consent) == ("", "", False)
    assert Transaction.objects.filter(customer=customer).count() == 1
    assert PointsEntry.objects.filter(customer=customer).count() == 1
    assert portal_access_resolve(token=link.token) is None
    assert "ann@example.com" not in json.dumps(customer_export(customer=customer))


def test_admin_export_action_downloads_json_or_zip(client, customer, staff_user, retailer):
    client.force_login(staff_user)
    url = "/admin/customers/customer/"
    one = client.post(url, {"action": "export_personal_data", "_selected_action": [customer.pk]})
    assert one["Content-Type"] == "application/json"
    assert json.loads(one.content)["customer"]["external_id"] == "C1"
    second = CustomerFactory(retailer=retailer)
    many = client.post(
        url, {"action": "export_personal_data", "_selected_action": [customer.pk, second.pk]}
    )
    assert len(zipfile.ZipFile(io.BytesIO(many.content)).namelist()) == 2


def test_admin_anonymise_action(client, customer, staff_user):
    portal_link_create(customer=customer)
    client.force_login(staff_user)
    client.post(
        "/admin/customers/customer/", {"action": "anonymise", "_selected_action": [customer.pk]}
    )
    assert Customer.objects.get(pk=customer.pk).email == ""
    assert not PortalAccess.objects.filter(revoked_at__isnull=True).exists()


def test_customer_export_sections_registered_by_campaigns_and_optimizer_keep_their_order(
    customer,
):
    # The sections held by apps above customers come from their AppConfig.ready (layers).
    assert list(customer_export(customer=customer)) == [
        "exported_at",
        "retailer",
        "customer",
        "transactions",
        "transaction_lines",
        "points",
        "bonuses",
        "redemptions",
        "campaign_memberships",
        "past_offers",
        "scores",
        "portal_links",
    ]


def test_audit_record_without_a_registered_recorder_names_the_missing_app(monkeypatch):
    from django.core.exceptions import ImproperlyConfigured

    from customers import audit

    monkeypatch.setattr(audit, "_recorder", None)
    with pytest.raises(ImproperlyConfigured, match="no audit recorder registered"):
        audit.audit_record(target=None, action="anonymise")
