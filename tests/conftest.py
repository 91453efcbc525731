"""Shared fixtures: retailers, staff users per role, API client."""

from __future__ import annotations

import pytest
from django.db import connection

from retailers.models import Role
from tests.retailers.factories import MembershipFactory, RetailerFactory, UserFactory


@pytest.fixture
def retailer(db):
    return RetailerFactory(slug="acme", name="Acme Foods")


@pytest.fixture
def other_retailer(db):
    return RetailerFactory(slug="globex", name="Globex Markets")


@pytest.fixture
def make_staff(db):
    """Factory fixture: ``make_staff(retailer, role)`` -> a staff user with that membership."""

    def make(retailer, role: str = Role.ANALYST, **kwargs):
        user = UserFactory(is_staff=True, **kwargs)
        MembershipFactory(user=user, retailer=retailer, role=role)
        return user

    return make


@pytest.fixture
def staff_user(retailer, make_staff):
    """An admin-role staff member of ``retailer`` (but not a superuser)."""
    return make_staff(retailer, Role.ADMIN)


@pytest.fixture
def api_client():
    from rest_framework.test import APIClient

    return APIClient()


@pytest.fixture
def postgres_only(db):
    """Skip the test unless the database is PostgreSQL."""
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (set DATABASE_URL)")
