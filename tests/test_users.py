"""``signed_in``: the one place a view turns ``request.user`` into the acting ``User``."""

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied
from django.test import RequestFactory

from loyalty_site.users import signed_in


def test_signed_in_returns_the_signed_in_user(staff_user):
    request = RequestFactory().get("/")
    request.user = staff_user
    assert signed_in(request) is staff_user


def test_signed_in_refuses_an_anonymous_request():
    request = RequestFactory().get("/")
    request.user = AnonymousUser()
    with pytest.raises(PermissionDenied, match="sign in"):
        signed_in(request)
