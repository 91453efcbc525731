"""The one tenancy mechanism: every retailer-owned row is reached through these scopes.

Every retailer-owned model inherits :class:`RetailerOwned`, whose manager offers
``Model.objects.for_user(user)`` and ``Model.objects.for_retailer(retailer)``. The admin, pages,
API and tasks get their querysets from there (the admin through
``retailers.admin_mixins.RetailerScopedAdmin``). Superusers see every retailer.

A missing scope is a bug that ``tests/test_isolation.py`` must catch, not something each view
remembers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Self

from django.core.exceptions import ValidationError
from django.db import models

if TYPE_CHECKING:
    from loyalty_site.users import RequestUser
    from retailers.models import Retailer


def retailer_ids_for_user(user: RequestUser | None) -> list[int] | None:
    """Ids of the retailers ``user`` may act for; ``None`` means "all" (active superusers).

    Anonymous, inactive or missing users get an empty list.
    """
    if user is None or not user.is_authenticated or not user.is_active:
        return []
    if user.is_superuser:
        return None
    from retailers.models import Membership

    return list(Membership.objects.filter(user=user).values_list("retailer_id", flat=True))


def retailer_roles(user: RequestUser) -> dict[int, str]:
    """``{retailer id: role}`` of ``user``'s memberships, cached on the user object.

    Empty for anonymous or inactive users. Superusers need no membership (see
    :func:`has_role`).
    """
    if user is None or not user.is_authenticated or not user.is_active:
        return {}
    cached = getattr(user, "_retailer_roles", None)
    if cached is None:
        from retailers.models import Membership

        cached = dict(Membership.objects.filter(user=user).values_list("retailer_id", "role"))
        # A per-request cache on the user object; the model declares no such attribute.
        setattr(user, "_retailer_roles", cached)  # noqa: B010
    return cached


def retailer_ids_with_role(user: RequestUser, minimum: str | None = None) -> list[int] | None:
    """Ids of the retailers where ``user`` holds ``minimum`` or a stronger role (any membership
    when ``minimum`` is ``None``); ``None`` means "all" (active superusers).

    This, not :func:`has_role` without a retailer, decides what a user may *write*: a row is
    written only at a retailer in this list.
    """
    from retailers.models import Role

    if user is None or not user.is_authenticated or not user.is_active:
        return []
    if user.is_superuser:
        return None
    roles = retailer_roles(user)
    if minimum is None:
        return list(roles)
    return [pk for pk, role in roles.items() if Role.rank(role) >= Role.rank(minimum)]


def has_role(user: RequestUser, minimum: str, retailer: Retailer | int | None = None) -> bool:
    """True when ``user`` holds ``minimum`` or a stronger role.

    With ``retailer`` (an instance or id) the role must be held at that retailer; without it, at
    any retailer. Active superusers hold every role everywhere.
    """
    from retailers.models import Role

    if user is None or not user.is_authenticated or not user.is_active:
        return False
    if user.is_superuser:
        return True
    roles = retailer_roles(user)
    if retailer is not None:
        retailer_id = retailer if isinstance(retailer, int) else retailer.pk
        held = [roles[retailer_id]] if retailer_id in roles else []
    else:
        held = list(roles.values())
    return any(Role.rank(role) >= Role.rank(minimum) for role in held)


class RetailerScopedQuerySet(models.QuerySet):
    """QuerySet of a retailer-owned model, with the two scoping entry points."""

    def for_retailer(self, retailer: Retailer | int) -> Self:
        """Rows of one retailer (a ``Retailer`` or its id)."""
        return self.filter(retailer=retailer)

    def for_user(self, user: RequestUser, *, role: str | None = None) -> Self:
        """Rows of every retailer ``user`` belongs to (all rows for superusers); with ``role``,
        only of the retailers where the user holds that role or a stronger one."""
        ids = retailer_ids_for_user(user) if role is None else retailer_ids_with_role(user, role)
        if ids is None:
            return self.all()
        return self.filter(retailer_id__in=ids)


class RetailerOwned(models.Model):
    """Abstract base of every retailer-owned model: the ``retailer`` column and scoped manager."""

    retailer = models.ForeignKey(
        "retailers.Retailer", on_delete=models.CASCADE, related_name="+", db_index=False
    )

    objects = RetailerScopedQuerySet.as_manager()

    class Meta:
        abstract = True

    def clean(self) -> None:
        """Refuse links to another retailer's rows (e.g. retailer A's stock of B's product).

        Runs in every ``full_clean()``: admin forms and CSV imports. Bulk loaders resolve keys
        inside the retailer and never build such links.
        """
        super().clean()
        errors = {}
        for field in self._meta.concrete_fields:
            if not field.is_relation or field.name == "retailer":
                continue
            related_model = field.related_model  # a class once the apps are loaded
            if not isinstance(related_model, type) or not issubclass(related_model, RetailerOwned):
                continue
            if getattr(self, field.attname) is None or self.retailer_id is None:
                continue
            related = getattr(self, field.name)
            if related.retailer_id != self.retailer_id:
                errors[field.name] = f"This {field.verbose_name} belongs to another retailer."
        if errors:
            raise ValidationError(errors)


def scope_for_user(
    queryset: models.QuerySet, user: RequestUser, *, role: str | None = None
) -> models.QuerySet:
    """Restrict a queryset of retailer-owned rows, of retailers or of users to what ``user`` may
    see: rows of the user's retailers (with ``role``: of those where the user holds it).

    Users are people of those retailers, plus accounts that belong to no retailer yet (so that a
    retailer's admin can add them); a user of other retailers only is somebody else's data.
    Querysets of other models are returned unchanged.
    """
    from django.contrib.auth import get_user_model

    from retailers.models import Membership, Retailer

    if isinstance(queryset, RetailerScopedQuerySet):
        return queryset.for_user(user, role=role)
    ids = retailer_ids_for_user(user) if role is None else retailer_ids_with_role(user, role)
    if ids is None:
        return queryset
    if issubclass(queryset.model, RetailerOwned):
        return queryset.filter(retailer_id__in=ids)
    if queryset.model is Retailer:
        return queryset.filter(pk__in=ids)
    if queryset.model is get_user_model():
        colleagues = Membership.objects.filter(retailer_id__in=ids).values("user_id")
        unassigned = ~models.Q(pk__in=Membership.objects.values("user_id"))
        return queryset.filter(
            models.Q(pk__in=colleagues) | (unassigned & models.Q(is_superuser=False))
        )
    return queryset
