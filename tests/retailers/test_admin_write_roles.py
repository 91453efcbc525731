"""Admin writes are decided per retailer of the row being written: a user who is analyst at A and
viewer at B may add, change, import and run actions at A only, whatever form, import step, action
or bulk edit carries B's id."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from customers.models import PointsEntry, PortalAccess
from customers.services.portal import portal_link_create
from retailers.models import Product, Role
from tests.customers.factories import CustomerFactory
from tests.retailers.factories import MembershipFactory, ProductFactory
from tests.retailers.test_resources import SAMPLES, grant_import_permissions

pytestmark = pytest.mark.django_db

PRODUCT_ADD = reverse("admin:retailers_product_add")
PRODUCTS_CSV = (SAMPLES / "products.csv").read_bytes()


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


@pytest.fixture
def mixed(client, retailer, other_retailer, make_staff):
    """A client signed in as analyst at ``retailer`` (Acme) and viewer at ``other_retailer``."""
    user = make_staff(retailer, Role.ANALYST)
    MembershipFactory(user=user, retailer=other_retailer, role=Role.VIEWER)
    grant_import_permissions(user)
    client.force_login(user)
    return client


def product_data(retailer, sku="NEW-1") -> dict:
    return {"retailer": retailer.pk, "sku": sku, "name": "Tea", "unit_cost": "1", "price": "2"}


def errors_of(response) -> str:
    return " ".join(str(e) for e in response.context["adminform"].form.errors.values())


def test_add_form_offers_and_accepts_only_retailers_where_the_user_may_add(
    mixed, retailer, other_retailer
):
    form = mixed.get(PRODUCT_ADD).context["adminform"].form
    assert list(form.fields["retailer"].queryset) == [retailer]
    refused = mixed.post(PRODUCT_ADD, product_data(other_retailer))
    assert refused.status_code == 200
    assert "Select a valid choice" in errors_of(refused)
    assert not Product.objects.for_retailer(other_retailer).exists()
    assert mixed.post(PRODUCT_ADD, product_data(retailer)).status_code == 302
    assert Product.objects.for_retailer(retailer).count() == 1


def test_change_form_cannot_move_a_row_to_a_retailer_where_the_user_only_views(
    mixed, retailer, other_retailer
):
    mine = ProductFactory(retailer=retailer, sku="MINE")
    url = reverse("admin:retailers_product_change", args=[mine.pk])
    assert list(mixed.get(url).context["adminform"].form.fields["retailer"].queryset) == [retailer]
    response = mixed.post(url, product_data(other_retailer, sku="MINE"))
    assert response.status_code == 200
    mine.refresh_from_db()
    assert mine.retailer == retailer
    theirs = ProductFactory(retailer=other_retailer, sku="THEIRS")
    url = reverse("admin:retailers_product_change", args=[theirs.pk])
    assert mixed.post(url, product_data(other_retailer, sku="X")).status_code == 403


@pytest.mark.parametrize(
    ("admin_name", "model", "data"),
    [
        ("customers_pointsentry", PointsEntry, {"points": "5", "reason": "goodwill"}),
        ("customers_portalaccess", PortalAccess, {}),
    ],
)
def test_rows_whose_retailer_follows_a_related_row_are_refused_at_a_view_only_retailer(
    mixed, retailer, other_retailer, admin_name, model, data
):
    theirs = CustomerFactory(retailer=other_retailer)
    url = reverse(f"admin:{admin_name}_add")
    response = mixed.post(url, {**data, "customer": theirs.pk})
    assert response.status_code == 200
    assert "customer" in response.context["adminform"].form.errors
    assert not model.objects.filter(customer=theirs).exists()
    mine = CustomerFactory(retailer=retailer)
    assert mixed.post(url, {**data, "customer": mine.pk}).status_code == 302


def test_import_offers_only_retailers_where_the_user_may_import(mixed, retailer, other_retailer):
    url = reverse("admin:retailers_product_import")
    assert list(mixed.get(url).context["form"].fields["retailer"].queryset) == [retailer]
    file = SimpleUploadedFile("products.csv", PRODUCTS_CSV, content_type="text/csv")
    data = {"retailer": other_retailer.pk, "format": "0", "import_file": file}
    response = mixed.post(url, data)
    assert "retailer" in response.context["form"].errors
    assert "confirm_form" not in response.context


def test_import_confirm_with_a_view_only_retailer_writes_nothing(mixed, retailer, other_retailer):
    file = SimpleUploadedFile("products.csv", PRODUCTS_CSV, content_type="text/csv")
    preview = mixed.post(
        reverse("admin:retailers_product_import"),
        {"retailer": retailer.pk, "format": "0", "import_file": file},
    )
    form = preview.context["confirm_form"]
    names = ("import_file_name", "original_file_name", "format", "resource")
    data = {name: form.initial.get(name, "") for name in names}
    response = mixed.post(
        reverse("admin:retailers_product_process_import"),
        {**data, "retailer": other_retailer.pk},
    )
    assert response.status_code == 200
    assert "retailer" in response.context["confirm_form"].errors
    assert not Product.objects.exists()


def test_action_on_rows_of_a_view_only_retailer_is_refused_with_a_clear_error(
    mixed, retailer, other_retailer
):
    theirs = portal_link_create(customer=CustomerFactory(retailer=other_retailer)).access
    mine = portal_link_create(customer=CustomerFactory(retailer=retailer)).access
    url = reverse("admin:customers_portalaccess_changelist")
    selected = [mine.pk, theirs.pk]
    response = mixed.post(url, {"action": "revoke", ACTION_CHECKBOX_NAME: selected})
    assert response.status_code == 302
    messages = [str(m) for m in get_messages(response.wsgi_request)]
    assert any("analyst role at Globex Markets" in m for m in messages), messages
    assert not PortalAccess.objects.filter(revoked_at__isnull=False).exists()  # all or nothing
    response = mixed.post(url, {"action": "revoke", ACTION_CHECKBOX_NAME: [mine.pk]})
    mine.refresh_from_db()
    assert mine.revoked_at is not None


def test_delete_action_on_rows_of_a_view_only_retailer_deletes_nothing(
    client, retailer, other_retailer, make_staff
):
    user = make_staff(retailer, Role.ADMIN)
    MembershipFactory(user=user, retailer=other_retailer, role=Role.VIEWER)
    client.force_login(user)
    theirs = ProductFactory(retailer=other_retailer)
    url = reverse("admin:retailers_product_changelist")
    data = {"action": "delete_selected", ACTION_CHECKBOX_NAME: [theirs.pk], "post": "yes"}
    client.post(url, data)
    assert Product.objects.filter(pk=theirs.pk).exists()


def test_bulk_edit_of_a_view_only_retailers_row_is_refused(
    mixed, retailer, other_retailer, monkeypatch
):
    monkeypatch.setattr(admin.site._registry[Product], "list_editable", ("name",))
    theirs = ProductFactory(retailer=other_retailer, name="Original")
    data = {
        "form-TOTAL_FORMS": "1",
        "form-INITIAL_FORMS": "1",
        "form-0-id": str(theirs.pk),
        "form-0-name": "Renamed by a viewer",
        "_save": "Save",
    }
    response = mixed.post(reverse("admin:retailers_product_changelist"), data)
    theirs.refresh_from_db()
    assert theirs.name == "Original"
    assert response.status_code in (200, 403)


def test_membership_form_shows_and_takes_only_users_of_the_admins_retailers_or_of_none(
    client, retailer, other_retailer, make_staff, django_user_model
):
    manager = make_staff(retailer, Role.ADMIN)
    grant_import_permissions(manager)
    theirs = make_staff(other_retailer, Role.VIEWER, username="globex-only-person")
    newcomer = django_user_model.objects.create_user("fresh-account", is_staff=True)
    client.force_login(manager)
    url = reverse("admin:retailers_membership_add")
    assert b"globex-only-person" not in client.get(url, {"user": theirs.pk}).content
    assert b"fresh-account" in client.get(url, {"user": newcomer.pk}).content
    data = {"retailer": retailer.pk, "role": Role.VIEWER}
    refused = client.post(url, {**data, "user": theirs.pk})
    assert "user" in refused.context["adminform"].form.errors
    assert b"globex-only-person" not in refused.content
    assert client.post(url, {**data, "user": newcomer.pk}).status_code == 302
    assert newcomer.memberships.get().retailer == retailer
