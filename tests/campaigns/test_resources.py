"""offers.csv (campaigns/resources.py) and the bonus catalogue service it uses."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError

from campaigns.models import BonusKind, BonusType, PastOffer
from campaigns.services import bonus_type_get_or_create_for_history
from tests.campaigns.factories import BonusTypeFactory
from tests.customers.factories import CustomerFactory
from tests.retailers.test_resources import csv_bytes, rejected_cells, run_import

pytestmark = pytest.mark.django_db

HEADER = "offer_id,customer_id,bonus_type,sent_on,valid_until,redeemed_on"


def test_offer_import_creates_unknown_bonus_types_inactive_of_kind_other(retailer):
    CustomerFactory(retailer=retailer, external_id="C1")
    known = BonusTypeFactory(retailer=retailer, code="coffee-20", is_active=True)
    run_import(
        retailer,
        "offers",
        csv_bytes(
            HEADER,
            "O1,C1,coffee-20,2024-05-01,2024-05-14,2024-05-03",
            "O2,C1,legacy-points,2024-05-01,2024-05-14,",
            "O3,C1,legacy-points,2024-06-01,2024-06-14,",
        ),
    )
    created = BonusType.objects.get(retailer=retailer, code="legacy-points")
    assert (created.kind, created.is_active, created.name) == (BonusKind.OTHER, False, "")
    assert BonusType.objects.for_retailer(retailer).count() == 2
    offers = {o.external_id: o for o in PastOffer.objects.for_retailer(retailer)}
    assert offers["O1"].bonus_type == known
    assert offers["O1"].redeemed_on == dt.date(2024, 5, 3)
    assert offers["O2"].redeemed_on is None


def test_offer_import_never_uses_another_retailers_catalogue_or_customers(retailer, other_retailer):
    CustomerFactory(retailer=other_retailer, external_id="C-THEIRS")
    theirs = BonusTypeFactory(retailer=other_retailer, code="shared-code")
    CustomerFactory(retailer=retailer, external_id="C1")
    cells = rejected_cells(
        retailer,
        "offers",
        csv_bytes(
            HEADER,
            "O1,C-THEIRS,shared-code,2024-05-01,2024-05-14,",
            "O2,C1,shared-code,2024-05-01,2024-05-14,",
        ),
    )
    assert cells == {(2, "customer_id")}
    run_import(retailer, "offers", csv_bytes(HEADER, "O2,C1,shared-code,2024-05-01,2024-05-14,"))
    mine = PastOffer.objects.get(retailer=retailer).bonus_type
    assert mine != theirs
    assert mine.retailer == retailer


def test_bonus_type_get_or_create_for_history_is_idempotent_and_validates_codes(retailer):
    first = bonus_type_get_or_create_for_history(retailer=retailer, code="points-x2")
    assert bonus_type_get_or_create_for_history(retailer=retailer, code="points-x2") == first
    with pytest.raises(ValidationError):
        bonus_type_get_or_create_for_history(retailer=retailer, code="not a slug")
