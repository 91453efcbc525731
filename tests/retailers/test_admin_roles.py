"""The membership role, held at the row's retailer, decides what a staff user may do in the admin;
and no form can link one retailer's row to another retailer's row."""

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from retailers.models import InventoryLevel, Role
from tests.retailers.factories import MembershipFactory, ProductFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("role", "can_view", "can_add", "can_delete"),
    [
        (Role.VIEWER, True, False, False),
        (Role.ANALYST, True, True, False),
        (Role.APPROVER, True, True, False),
        (Role.ADMIN, True, True, True),
    ],
)
def test_admin_permissions_follow_membership_role(
    client, retailer, make_staff, role, can_view, can_add, can_delete
):
    product = ProductFactory(retailer=retailer)
    client.force_login(make_staff(retailer, role))
    changelist = client.get(reverse("admin:retailers_product_changelist"))
    add = client.get(reverse("admin:retailers_product_add"))
    delete = client.get(reverse("admin:retailers_product_delete", args=[product.pk]))
    assert (changelist.status_code == 200) is can_view
    assert (add.status_code == 200) is can_add
    assert (delete.status_code == 200) is can_delete


def test_admin_role_counts_only_at_the_rows_retailer(client, retailer, other_retailer, make_staff):
    """Admin at A, viewer at B: may delete A's product, not B's."""
    user = make_staff(retailer, Role.ADMIN)
    MembershipFactory(user=user, retailer=other_retailer, role=Role.VIEWER)
    mine = ProductFactory(retailer=retailer)
    theirs = ProductFactory(retailer=other_retailer)
    client.force_login(user)
    assert client.get(reverse("admin:retailers_product_delete", args=[mine.pk])).status_code == 200
    response = client.get(reverse("admin:retailers_product_delete", args=[theirs.pk]))
    assert response.status_code == 403


def test_staff_without_membership_cannot_open_admin_lists(client, django_user_model):
    user = django_user_model.objects.create_user("loner", password="x", is_staff=True)
    client.force_login(user)
    response = client.get(reverse("admin:retailers_product_changelist"))
    assert response.status_code == 403


def test_clean_refuses_link_to_another_retailers_row(retailer, other_retailer):
    foreign_product = ProductFactory(retailer=other_retailer)
    level = InventoryLevel(
        retailer=retailer, product=foreign_product, date=dt.date(2024, 1, 1), on_hand=3
    )
    with pytest.raises(ValidationError) as exc:
        level.full_clean()
    assert "product" in exc.value.message_dict


def test_admin_form_of_two_retailer_user_cannot_cross_link(
    client, retailer, other_retailer, make_staff
):
    user = make_staff(retailer, Role.ADMIN)
    MembershipFactory(user=user, retailer=other_retailer, role=Role.ADMIN)
    foreign_product = ProductFactory(retailer=other_retailer)
    client.force_login(user)
    response = client.post(
        reverse("admin:retailers_inventorylevel_add"),
        {
            "retailer": retailer.pk,
            "product": foreign_product.pk,
            "date": "2024-01-01",
            "on_hand": "3",
        },
    )
    assert response.status_code == 200  # the form is shown again with the error
    assert "belongs to another retailer" in response.content.decode()
    assert not InventoryLevel.objects.exists()
