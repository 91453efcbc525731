"""The one tenancy mechanism: every retailer-owned row is reached through these scopes.

Every retailer-owned model inherits :class:`RetailerOwned`, whose manager offers
``Model.objects.for_user(user)`` and ``Model.objects.for_retailer(retailer)``. The admin, pages,
API and tasks get their querysets from there (the admin through
``retailers.admin_mixins.RetailerScopedAdmin``). Superusers see every retailer.

A missing scope is a bug that ``tests/test_isolation.py`` must catch, not something each view
remembers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Self

from django.db import models

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

    from retailers.models import Retailer


def retailer_ids_for_user(user: AbstractBaseUser | AnonymousUser | None) -> list[int] | None:
    """Ids of the retailers ``user`` may act for; ``None`` means "all" (active superusers).

    Anonymous, inactive or missing users get an empty list.
    """
    if user is None or not user.is_authenticated or not user.is_active:
        return []
    if user.is_superuser:
        return None
    from retailers.models import Membership

    return list(Membership.objects.filter(user=user).values_list("retailer_id", flat=True))


class RetailerScopedQuerySet(models.QuerySet):
    """QuerySet of a retailer-owned model, with the two scoping entry points."""

    def for_retailer(self, retailer: Retailer | int) -> Self:
        """Rows of one retailer (a ``Retailer`` or its id)."""
        return self.filter(retailer=retailer)

    def for_user(self, user: Any) -> Self:
        """Rows of every retailer ``user`` belongs to (all rows for superusers)."""
        ids = retailer_ids_for_user(user)
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


def scope_for_user(queryset: models.QuerySet, user: Any) -> models.QuerySet:
    """Restrict a queryset of retailer-owned rows, or of retailers, to ``user``'s retailers.

    Querysets of other models are returned unchanged.
    """
    if isinstance(queryset, RetailerScopedQuerySet):
        return queryset.for_user(user)
    from retailers.models import Retailer

    if queryset.model is Retailer:
        ids = retailer_ids_for_user(user)
        return queryset if ids is None else queryset.filter(pk__in=ids)
    return queryset
