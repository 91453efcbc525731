"""Admin side of the tenancy mechanism: one mixin every retailer-owned ModelAdmin uses."""

from __future__ import annotations

from typing import Any, ClassVar

from django.contrib import admin
from django.db import models
from django.http import HttpRequest

from retailers.models import Role
from retailers.tenancy import has_role, retailer_ids_for_user, scope_for_user


class RetailerScopedAdmin(admin.ModelAdmin):
    """Scope lists, change pages, exports and foreign-key choices to the user's retailers, and let
    the membership role (not global Django permissions) decide what a staff user may do.

    Non-superusers see only rows of retailers they belong to; every foreign-key dropdown (the
    retailer itself and e.g. a transaction's customer) offers only rows of those retailers, and
    ``RetailerOwned.clean`` refuses a link across retailers. Roles: viewers view, analysts also
    add, change and import, admins also delete; on a row, the role held at that row's retailer
    counts.
    """

    role_required: ClassVar[dict[str, str]] = {
        "view": Role.VIEWER,
        "add": Role.ANALYST,
        "change": Role.ANALYST,
        "delete": Role.ADMIN,
    }

    def get_queryset(self, request: HttpRequest) -> models.QuerySet:
        return super().get_queryset(request).for_user(request.user)

    def formfield_for_foreignkey(
        self, db_field: models.ForeignKey, request: HttpRequest, **kwargs: Any
    ) -> Any:
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if field is not None and hasattr(field, "queryset"):
            field.queryset = scope_for_user(field.queryset, request.user)
        return field

    def _allowed(self, request: HttpRequest, action: str, obj: Any = None) -> bool:
        user = request.user
        if not (user.is_active and user.is_staff):
            return False
        retailer_id = getattr(obj, "retailer_id", None) if obj is not None else None
        return has_role(user, self.role_required[action], retailer_id)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._allowed(request, "view", obj) or self._allowed(request, "change", obj)

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return self._allowed(request, "add")

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._allowed(request, "change", obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._allowed(request, "delete", obj)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return request.user.is_staff and retailer_ids_for_user(request.user) != []


class ReadOnlyScopedAdmin(RetailerScopedAdmin):
    """Rows written only by services (results, runs, bonuses, audit): viewable by every role of
    their retailer, never added, edited or deleted in the admin."""

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
