"""Bonus catalogue and offer history admins."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from campaigns.models import BonusType, PastOffer
from tests.customers.factories import CustomerFactory
from tests.retailers.test_resources import SAMPLES, grant_import_permissions

pytestmark = pytest.mark.django_db


def test_admin_offer_import_confirms_and_lists_new_bonus_types_inactive(
    client, staff_user, retailer
):
    grant_import_permissions(staff_user)
    client.force_login(staff_user)
    for cid in ("C0001", "C0002", "C0003"):
        CustomerFactory(retailer=retailer, external_id=cid)
    upload = SimpleUploadedFile("offers.csv", (SAMPLES / "offers.csv").read_bytes())
    preview = client.post(
        reverse("admin:campaigns_pastoffer_import"),
        {"retailer": retailer.pk, "format": "0", "import_file": upload},
    )
    assert not BonusType.objects.exists()  # the preview's catalogue entries were rolled back
    form = preview.context["confirm_form"]
    names = ("import_file_name", "original_file_name", "format", "resource", "retailer")
    done = client.post(
        reverse("admin:campaigns_pastoffer_process_import"),
        {name: form.initial.get(name, "") for name in names},
    )
    assert done.status_code == 302
    assert PastOffer.objects.for_retailer(retailer).count() == 3
    listing = client.get(reverse("admin:campaigns_bonustype_changelist"), {"is_active__exact": 0})
    page = listing.content.decode()
    assert "coffee-20pct" in page
    assert "double-points" in page
