"""The import-kind registry: every kind is read by the app that owns its rows (AppConfig.ready)."""

import pytest

from campaigns.resources import PastOfferResource
from customers.resources import CustomerResource, TransactionLineResource
from customers.services import transactions_bulk_import
from retailers.import_kinds import bulk_loader_for, resource_class_for
from retailers.models import ImportKind


def test_resource_class_for_every_import_kind_is_registered_by_an_app():
    assert {kind: resource_class_for(kind) for kind in ImportKind.values}.keys() == set(
        ImportKind.values
    )
    assert resource_class_for(ImportKind.CUSTOMERS) is CustomerResource
    assert resource_class_for(ImportKind.TRANSACTIONS) is TransactionLineResource
    assert resource_class_for(ImportKind.OFFERS) is PastOfferResource


def test_bulk_loader_for_transactions_is_the_customers_bulk_loader():
    assert bulk_loader_for(ImportKind.TRANSACTIONS) is transactions_bulk_import
    assert bulk_loader_for(ImportKind.PRODUCTS) is None


def test_resource_class_for_an_unknown_kind_names_the_field():
    with pytest.raises(LookupError, match="kind: no app registered the import kind 'nope'"):
        resource_class_for("nope")
