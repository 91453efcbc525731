"""The user types that services, selectors and views annotate users and actors with.

``User`` is the project's user model: ``settings.AUTH_USER_MODEL`` is Django's ``auth.User``.
Services that record who acted (``created_by``, audit ``actor``) take a ``User``.
``RequestUser`` is whoever sent a request, signed in or not, as django-stubs types
``request.user``; the tenancy checks accept it and refuse the anonymous one themselves.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeAlias

from django.core.exceptions import PermissionDenied

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser, User
    from django.http import HttpRequest

    RequestUser: TypeAlias = User | AnonymousUser

__all__ = ["RequestUser", "User", "signed_in"]


def signed_in(request: HttpRequest) -> User:
    """The signed-in user of a request that a login check (staff mixin, admin) already let in.

    Raises:
        PermissionDenied: the request is anonymous (a view that forgot its login check).
    """
    user = request.user
    if not user.is_authenticated:
        raise PermissionDenied("sign in first")
    return user
