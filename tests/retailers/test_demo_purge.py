"""Fast purge of a demo retailer: SQL deletes in foreign-key order, other retailers untouched."""

from __future__ import annotations

import pytest

from campaigns.models import PastOffer
from customers.models import Customer, Transaction, TransactionLine
from loyalty_site.site.demo.purge import purge_plan, retailer_purge
from retailers.models import Membership, Product, Retailer, Store
from tests.campaigns.factories import PastOfferFactory
from tests.customers.factories import TransactionLineFactory
from tests.retailers.factories import MembershipFactory

pytestmark = pytest.mark.django_db


def test_purge_plan_deletes_children_before_parents():
    order, blockers = purge_plan()
    assert blockers == []
    position = {model: i for i, model in enumerate(order)}
    assert position[TransactionLine] < position[Transaction] < position[Customer]
    assert position[TransactionLine] < position[Product]
    assert position[Transaction] < position[Store]
    assert position[PastOffer] < position[Customer]


def test_retailer_purge_removes_one_retailer_and_keeps_the_others(retailer, other_retailer):
    for owner in (retailer, other_retailer):
        line = TransactionLineFactory(transaction__retailer=owner)
        PastOfferFactory(retailer=owner, customer=line.transaction.customer)
        MembershipFactory(retailer=owner)
    deleted = retailer_purge(retailer)
    assert not Retailer.objects.filter(pk=retailer.pk).exists()
    assert deleted[TransactionLine._meta.db_table] == 1
    for model in (Customer, Transaction, TransactionLine, PastOffer, Product, Store, Membership):
        assert not model.objects.filter(retailer_id=retailer.pk).exists()
        assert model.objects.filter(retailer=other_retailer).count() == 1
