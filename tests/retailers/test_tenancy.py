import pytest
from django.contrib.auth.models import AnonymousUser

from retailers.models import Product, Retailer, Role
from retailers.tenancy import retailer_ids_for_user, scope_for_user
from tests.retailers.factories import ProductFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_for_user_returns_only_member_retailers_rows(retailer, other_retailer, make_staff):
    mine = ProductFactory(retailer=retailer)
    ProductFactory(retailer=other_retailer)
    user = make_staff(retailer, Role.VIEWER)
    assert list(Product.objects.for_user(user)) == [mine]


def test_user_of_two_retailers_sees_both(retailer, other_retailer, make_staff):
    user = make_staff(retailer, Role.VIEWER)
    from tests.retailers.factories import MembershipFactory

    MembershipFactory(user=user, retailer=other_retailer, role=Role.ADMIN)
    ProductFactory(retailer=retailer)
    ProductFactory(retailer=other_retailer)
    assert Product.objects.for_user(user).count() == 2
    assert set(scope_for_user(Retailer.objects.all(), user)) == {retailer, other_retailer}


def test_superuser_sees_all_and_anonymous_or_inactive_nothing(retailer, other_retailer):
    ProductFactory(retailer=retailer)
    ProductFactory(retailer=other_retailer)
    root = UserFactory(is_superuser=True, is_staff=True)
    assert retailer_ids_for_user(root) is None
    assert Product.objects.for_user(root).count() == 2
    assert Product.objects.for_user(AnonymousUser()).count() == 0
    inactive = UserFactory(is_superuser=True, is_active=False)
    assert Product.objects.for_user(inactive).count() == 0


def test_staff_without_membership_sees_nothing(retailer):
    ProductFactory(retailer=retailer)
    loner = UserFactory(is_staff=True)
    assert Product.objects.for_user(loner).count() == 0
    assert scope_for_user(Retailer.objects.all(), loner).count() == 0
