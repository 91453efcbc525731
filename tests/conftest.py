"""Shared fixtures: retailers, staff users per role, API client; the session clock."""

from __future__ import annotations

import datetime as dt
import os

import pytest
import time_machine

from retailers.models import Role
from tests.retailers.factories import MembershipFactory, RetailerFactory, UserFactory


def _session_clock() -> time_machine.travel | None:
    """``TEST_NOW=<ISO datetime with zone>`` runs the whole session as if it started then (the clock
    keeps ticking from there). ``scripts/test_any_day.sh`` uses it to run the suite on every weekday
    at 23:30 in the test retailers' zone: a test that passes only on some days fails there.

    Started when this conftest is imported, before any other conftest or test module: those may
    read the clock at import (``rewards_factories.TODAY``).
    """
    when = os.environ.get("TEST_NOW")
    if not when:
        return None
    start = dt.datetime.fromisoformat(when)
    if start.tzinfo is None:
        raise pytest.UsageError(f"TEST_NOW={when!r} needs a zone, e.g. 2026-12-07T23:30+02:00")
    traveller = time_machine.travel(start, tick=True)
    traveller.start()
    return traveller


SESSION_CLOCK = _session_clock()


def pytest_unconfigure(config: pytest.Config) -> None:
    if SESSION_CLOCK is not None:
        SESSION_CLOCK.stop()


@pytest.fixture(autouse=True)
def _forget_rate_limit_leases():
    """Each test starts without the rate-limit hits this process leased in an earlier one (the
    database rolled their counters back; token ids are reused)."""
    from loyalty_site.rate_limit import forget_leases

    forget_leases()


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
