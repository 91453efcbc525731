"""A past offer's customer and retailer are one foreign key in the database (as a
transaction's): two per-row checks per imported offer instead of three, and the customer must be
the retailer's own."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, connection, transaction

from tests.campaigns.factories import BonusTypeFactory
from tests.customers.factories import CustomerFactory
from tests.retailers.factories import RetailerFactory


def insert_offer(*, retailer_id: int, customer_id: int, bonus_type_id: int) -> None:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute(
            "INSERT INTO campaigns_pastoffer (retailer_id, external_id, customer_id, "
            "bonus_type_id, sent_on, valid_until) VALUES (%s, 'O1', %s, %s, %s, %s)",
            [retailer_id, customer_id, bonus_type_id, "2024-06-01", "2024-06-08"],
        )


@pytest.mark.django_db
def test_past_offer_key_refuses_a_customer_of_another_retailer_and_accepts_its_own():
    acme, other = RetailerFactory(slug="acme"), RetailerFactory(slug="other")
    kind = BonusTypeFactory(retailer=acme)
    stranger, own = CustomerFactory(retailer=other), CustomerFactory(retailer=acme)
    with pytest.raises(IntegrityError, match="past_offer_customer_same_retailer_fk"):
        insert_offer(retailer_id=acme.pk, customer_id=stranger.pk, bonus_type_id=kind.pk)
    insert_offer(retailer_id=acme.pk, customer_id=own.pk, bonus_type_id=kind.pk)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_constraint "
            "WHERE conrelid = 'campaigns_pastoffer'::regclass AND contype = 'f'"
        )
        assert cursor.fetchone()[0] == 2  # bonus type, and (customer, retailer)
