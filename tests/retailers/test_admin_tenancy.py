"""Tenancy in every admin: a staff user of retailer A never sees retailer B's rows in a changelist,
a change page or an export, and cannot import into B."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from retailers.models import (
    CompetitorPrice,
    ImportJob,
    InventoryLevel,
    PromotionHistory,
    Role,
)
from tests.campaigns.factories import BonusTypeFactory, PastOfferFactory
from tests.customers.factories import CustomerFactory, TransactionFactory, TransactionLineFactory
from tests.retailers.factories import (
    MembershipFactory,
    ProductFactory,
    StoreFactory,
    UserFactory,
)
from tests.retailers.test_resources import SAMPLES, grant_import_permissions

pytestmark = pytest.mark.django_db

DAY = dt.date(2024, 6, 3)


def _transaction(retailer, marker):
    line = TransactionLineFactory(
        transaction=TransactionFactory(retailer=retailer, external_id=marker)
    )
    return line.transaction


#: admin (app, model) -> makes one row of a retailer that shows ``marker`` in lists and exports.
ROWS = {
    ("retailers", "store"): lambda r, m: StoreFactory(retailer=r, external_id=m),
    ("retailers", "product"): lambda r, m: ProductFactory(retailer=r, sku=m),
    ("retailers", "inventorylevel"): lambda r, m: InventoryLevel.objects.create(
        retailer=r, product=ProductFactory(retailer=r, sku=m), date=DAY, on_hand=1
    ),
    ("retailers", "competitorprice"): lambda r, m: CompetitorPrice.objects.create(
        retailer=r, product=ProductFactory(retailer=r), competitor=m, date=DAY, price=1
    ),
    ("retailers", "promotionhistory"): lambda r, m: PromotionHistory.objects.create(
        retailer=r, product=ProductFactory(retailer=r, sku=m), week_start=DAY
    ),
    ("retailers", "importjob"): lambda r, m: ImportJob.objects.create(
        retailer=r, kind="products", file="imports/x.csv", original_name=f"{m}.csv"
    ),
    ("retailers", "membership"): lambda r, m: MembershipFactory(
        retailer=r, user=UserFactory(username=m)
    ),
    ("customers", "customer"): lambda r, m: CustomerFactory(retailer=r, external_id=m),
    ("customers", "transaction"): _transaction,
    ("campaigns", "bonustype"): lambda r, m: BonusTypeFactory(retailer=r, code=m),
    ("campaigns", "pastoffer"): lambda r, m: PastOfferFactory(retailer=r, external_id=m),
}
IMPORT_EXPORT = [
    ("retailers", "store"),
    ("retailers", "product"),
    ("retailers", "inventorylevel"),
    ("retailers", "competitorprice"),
    ("customers", "customer"),
    ("customers", "transaction"),
    ("campaigns", "pastoffer"),
]


@pytest.fixture
def staff_client(client, staff_user):
    grant_import_permissions(staff_user)
    client.force_login(staff_user)
    return client


@pytest.fixture
def both(retailer, other_retailer):
    """``both(app, model)``: one row of each retailer, A's marked "mine-x1", B's "theirs-x1"."""

    def make(app: str, model: str):
        return ROWS[app, model](retailer, "mine-x1"), ROWS[app, model](other_retailer, "theirs-x1")

    return make


@pytest.mark.parametrize(("app", "model"), list(ROWS))
def test_admin_lists_and_change_pages_show_only_the_users_retailers_rows(
    staff_client, both, app, model
):
    mine, theirs = both(app, model)
    response = staff_client.get(reverse(f"admin:{app}_{model}_changelist"))
    assert response.status_code == 200
    page = response.content.decode()
    assert "mine-x1" in page
    assert "theirs-x1" not in page
    assert "Globex" not in page  # not even as a filter choice
    own = staff_client.get(reverse(f"admin:{app}_{model}_change", args=[mine.pk]))
    assert own.status_code == 200
    other = staff_client.get(reverse(f"admin:{app}_{model}_change", args=[theirs.pk]))
    assert other.status_code == 302
    assert other.url == reverse("admin:index")


@pytest.mark.parametrize(("app", "model"), IMPORT_EXPORT)
def test_admin_export_contains_only_the_users_retailers_rows(staff_client, both, app, model):
    both(app, model)
    response = staff_client.post(reverse(f"admin:{app}_{model}_export"), {"format": "0"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    text = response.content.decode()
    assert "mine-x1" in text
    assert "theirs-x1" not in text


@pytest.mark.parametrize(("app", "model"), IMPORT_EXPORT)
def test_admin_import_offers_and_accepts_only_the_users_retailers(
    staff_client, retailer, other_retailer, app, model
):
    url = reverse(f"admin:{app}_{model}_import")
    form = staff_client.get(url).context["form"]
    assert list(form.fields["retailer"].queryset) == [retailer]
    upload = SimpleUploadedFile("stores.csv", (SAMPLES / "stores.csv").read_bytes())
    response = staff_client.post(
        url, {"retailer": other_retailer.pk, "format": "0", "import_file": upload}
    )
    assert response.status_code == 200
    assert "retailer" in response.context["form"].errors
    assert "confirm_form" not in response.context


def test_admin_retailer_pages_show_only_own_retailer_and_forbid_add_delete(
    staff_client, retailer, other_retailer
):
    page = staff_client.get(reverse("admin:retailers_retailer_changelist")).content.decode()
    assert "Acme Foods" in page
    assert "Globex" not in page
    assert staff_client.get(reverse("admin:retailers_retailer_add")).status_code == 403
    delete = reverse("admin:retailers_retailer_delete", args=[retailer.pk])
    assert staff_client.get(delete).status_code == 403
    other = staff_client.get(reverse("admin:retailers_retailer_change", args=[other_retailer.pk]))
    assert other.status_code == 302


def test_admin_membership_edits_need_the_admin_role_at_that_retailer(
    client, retailer, other_retailer, make_staff
):
    viewer = make_staff(retailer, Role.VIEWER)
    grant_import_permissions(viewer)
    colleague = MembershipFactory(retailer=retailer, role=Role.VIEWER)
    url = reverse("admin:retailers_membership_change", args=[colleague.pk])
    client.force_login(viewer)
    assert client.post(url, {"role": Role.ADMIN}).status_code == 403

    manager = make_staff(retailer, Role.ADMIN)
    MembershipFactory(user=manager, retailer=other_retailer, role=Role.VIEWER)
    grant_import_permissions(manager)
    client.force_login(manager)
    form = client.get(reverse("admin:retailers_membership_add")).context["adminform"].form
    assert list(form.fields["retailer"].queryset) == [retailer]


def test_admin_product_import_is_hidden_from_staff_without_add_permission(
    client, retailer, make_staff
):
    user = make_staff(retailer, Role.VIEWER)
    user.user_permissions.add(Permission.objects.get(codename="view_product"))
    client.force_login(user)
    assert client.get(reverse("admin:retailers_product_import")).status_code == 403
    export = client.post(reverse("admin:retailers_product_export"), {"format": "0"})
    assert export.status_code == 200
