"""A retailer's team: who may use its staff pages, with which role (the Team page).

A retailer admin invites a person by username and e-mail with a role; a new account gets no
usable password, and :func:`membership_invite` returns a one-time link to choose one (Django's
password-reset token, valid ``PASSWORD_RESET_TIMEOUT``), which the page shows and e-mails. A
person who already has an account simply gains the membership. Roles change here too; the last
admin of a retailer cannot be demoted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Case, QuerySet, Value, When
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from retailers.exceptions import LastAdminRemoved
from retailers.models import Membership, Retailer, Role


@dataclass(frozen=True)
class Invitation:
    """The membership, and the path of the set-your-password link ("" for an existing user)."""

    membership: Membership
    password_path: str


def team_members(*, retailer: Retailer) -> QuerySet[Membership]:
    """The retailer's memberships, admins first, then by username."""
    strongest_first = list(reversed(Role.values))
    rank = Case(
        *[When(role=role, then=Value(i)) for i, role in enumerate(strongest_first)],
        default=Value(len(strongest_first)),
    )
    return (
        Membership.objects.filter(retailer=retailer)
        .select_related("user")
        .order_by(rank, "user__username")
    )


def _password_path(user: Any) -> str:
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    token = default_token_generator.make_token(user)
    return reverse("password_reset_confirm", kwargs={"uidb64": uid, "token": token})


@transaction.atomic
def membership_invite(
    *, retailer: Retailer, username: str, email: str, role: str, site_url: str = ""
) -> Invitation:
    """Give ``username`` the ``role`` at ``retailer``, creating the account when it is new.

    Raises:
        ValidationError: an unknown role, a bad username or e-mail, or a member already.
    """
    if role not in Role.values:
        raise ValidationError({"role": f"Unknown role {role!r}."})
    users = get_user_model()
    user = users.objects.filter(username__iexact=username).first()
    created = user is None
    if user is None:
        user = users(username=username, email=email, is_staff=True)
        user.set_unusable_password()
        user.full_clean()
        user.save()
    elif Membership.objects.filter(user=user, retailer=retailer).exists():
        raise ValidationError({"username": f"{user} is already in the team."})
    membership = Membership(user=user, retailer=retailer, role=role)
    membership.full_clean()
    membership.save()
    path = _password_path(user) if created else ""
    if created and email:
        transaction.on_commit(
            lambda: send_mail(
                f"You can now sign in to {retailer.name}'s loyalty pages",
                f"Choose your password here: {site_url}{path}\n",
                None,
                [email],
                fail_silently=True,
            )
        )
    return Invitation(membership=membership, password_path=path)


@transaction.atomic
def membership_role_set(*, retailer: Retailer, membership_id: int, role: str) -> Membership:
    """Change a member's role at ``retailer`` (404-like ``DoesNotExist`` for another retailer's).

    Raises:
        ValidationError: an unknown role.
        LastAdminRemoved: the retailer's only admin would lose the role.
    """
    if role not in Role.values:
        raise ValidationError({"role": f"Unknown role {role!r}."})
    membership = Membership.objects.select_for_update().get(pk=membership_id, retailer=retailer)
    if membership.role == Role.ADMIN and role != Role.ADMIN:
        admins = Membership.objects.filter(retailer=retailer, role=Role.ADMIN).count()
        if admins <= 1:
            raise LastAdminRemoved()
    membership.role = role
    membership.save(update_fields=["role"])
    return membership
