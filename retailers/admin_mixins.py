"""Admin side of the tenancy mechanism: one mixin every retailer-owned ModelAdmin uses."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db import models
from django.http import HttpRequest

from retailers.tenancy import retailer_ids_for_user, scope_for_user


class RetailerScopedAdmin(admin.ModelAdmin):
    """Scope lists, change pages, exports and foreign-key choices to the user's retailers.

    Non-superusers see only rows of retailers they belong to; every foreign-key dropdown (the
    retailer itself and e.g. a transaction's customer) offers only rows of those retailers, so a
    change form cannot point at another retailer's data either.
    """

    def get_queryset(self, request: HttpRequest) -> models.QuerySet:
        return super().get_queryset(request).for_user(request.user)

    def formfield_for_foreignkey(
        self, db_field: models.ForeignKey, request: HttpRequest, **kwargs: Any
    ) -> Any:
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if field is not None and hasattr(field, "queryset"):
            field.queryset = scope_for_user(field.queryset, request.user)
        return field

    def has_module_permission(self, request: HttpRequest) -> bool:
        return super().has_module_permission(request) and retailer_ids_for_user(request.user) != []
