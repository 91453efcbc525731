"""Admin side of the tenancy mechanism: one mixin every retailer-owned ModelAdmin uses."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, ClassVar, cast

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db import models
from django.http import HttpRequest
from django.utils.html import format_html

from retailers.admin_scoping import (
    guarded_action,
    refused_retailers,
    role_error,
    scoped_form_class,
    scoped_list_filter,
)
from retailers.models import Role
from retailers.tenancy import (
    RetailerScopedQuerySet,
    has_role,
    retailer_ids_for_user,
    scope_for_user,
)


class TenancyFormsMixin:
    """What the admin shows in and takes from forms, filters and actions, per retailer.

    Reads: every choice field, raw-id label, autocomplete, inline and relation filter shows only
    rows of the user's retailers; an id of another retailer (in the query string or posted) is
    an unknown choice whose label is never rendered. Writes: a form offers and accepts only rows
    of retailers where the user holds ``role_required`` for that form ("add" or "change"), and
    the row saved by a form, an import, a bulk edit or an action must be, and have been, at such
    a retailer. Superusers see and write everything.
    """

    role_required: ClassVar[dict[str, str]] = {
        "view": Role.VIEWER,
        "add": Role.ANALYST,
        "change": Role.ANALYST,
        "delete": Role.ADMIN,
    }

    def write_role(self, obj: Any = None) -> str:
        return self.role_required["change" if obj is not None else "add"]

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kw: Any):
        form = super().get_form(request, obj, change=change, **kw)  # type: ignore[misc]
        return scoped_form_class(form, user=request.user, role=self.write_role(obj))

    def get_changelist_form(self, request: HttpRequest, **kwargs: Any) -> Any:
        form = super().get_changelist_form(request, **kwargs)  # type: ignore[misc]
        return scoped_form_class(form, user=request.user, role=self.role_required["change"])

    def get_inlines(self, request: HttpRequest, obj: Any) -> list[type]:
        inlines = super().get_inlines(request, obj)  # type: ignore[misc]
        roles = self.role_required
        return [_scoped_inline(inline, roles["change"], roles["view"]) for inline in inlines]

    def get_list_filter(self, request: HttpRequest) -> tuple:
        entries = super().get_list_filter(request)  # type: ignore[misc]
        return tuple(scoped_list_filter(self.model, entry) for entry in entries)  # type: ignore[attr-defined]

    def get_actions(
        self, request: HttpRequest
    ) -> dict[str, tuple[Callable[..., str], str, str] | None]:
        actions = super().get_actions(request)  # type: ignore[misc]
        return {
            name: (guarded_action(func, self.action_role(func)), name, description)
            for name, (func, name, description) in actions.items()
        }

    def action_role(self, func: Any) -> str:
        """The role an action needs at each selected row's retailer: that of its
        ``allowed_permissions`` ("change" for an action that declares none: it writes)."""
        perms = getattr(func, "allowed_permissions", None) or ("change",)
        roles = [self.role_required.get(perm, self.role_required["change"]) for perm in perms]
        return max(roles, key=Role.rank)

    def save_form(self, request: HttpRequest, form: Any, change: bool) -> Any:
        """The last check before any ``save_model``: the row is at a retailer the user may write."""
        obj = super().save_form(request, form, change)  # type: ignore[misc]
        role = self.write_role(obj if change else None)
        where = refused_retailers(request.user, role, [getattr(obj, "retailer_id", None)])
        if where is not None:
            raise PermissionDenied(role_error(role, where, "save this row"))
        return obj


def staff_role_allows(request: HttpRequest, role: str, obj: Any = None) -> bool:
    """Whether the request's user is active staff holding ``role`` at ``obj``'s retailer (at
    any retailer without ``obj``): the one admin permission rule, for admins and inlines."""
    user = request.user
    if not (user.is_active and user.is_staff):
        return False
    return has_role(user, role, getattr(obj, "retailer_id", None))


class _ScopedInlineMixin:
    """An inline whose rows and form choices are scoped like its parent admin's, and shown to
    whoever may view the parent row: the membership role decides, as for the parent (Django's
    own inline check wants a global model permission, which role users do not have)."""

    tenancy_role: ClassVar[str]
    tenancy_view_role: ClassVar[str]

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return staff_role_allows(request, self.tenancy_view_role, obj)

    def get_queryset(self, request: HttpRequest) -> models.QuerySet:
        return scope_for_user(super().get_queryset(request), request.user)  # type: ignore[misc]

    def get_formset(self, request: HttpRequest, obj: Any = None, **kwargs: Any) -> Any:
        formset = super().get_formset(request, obj, **kwargs)  # type: ignore[misc]
        formset.form = scoped_form_class(formset.form, user=request.user, role=self.tenancy_role)
        return formset


@functools.cache
def _scoped_inline(inline: type, role: str, view_role: str) -> type:
    attrs = {"tenancy_role": role, "tenancy_view_role": view_role, "__module__": inline.__module__}
    return type(inline.__name__, (_ScopedInlineMixin, inline), attrs)


class RetailerScopedAdmin(TenancyFormsMixin, admin.ModelAdmin):
    """Scope lists, change pages, exports and foreign-key choices to the user's retailers, and let
    the membership role (not global Django permissions) decide what a staff user may do.

    Non-superusers see only rows of retailers they belong to (:class:`TenancyFormsMixin` covers
    the forms, widgets, filters and actions). Roles: viewers view, analysts also add, change and
    import, admins also delete; on a row, the role held at that row's retailer counts, and a row
    is written only at a retailer where the user holds the role (``has_add_permission`` without
    a row only says whether the user may add anywhere).
    """

    def get_queryset(self, request: HttpRequest) -> models.QuerySet:
        # Every model under this admin is retailer-owned: its queryset is the scoped one.
        queryset = cast(RetailerScopedQuerySet, super().get_queryset(request))
        return queryset.for_user(request.user)

    def _allowed(self, request: HttpRequest, action: str, obj: Any = None) -> bool:
        return staff_role_allows(request, self.role_required[action], obj)

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


class JobProgressColumn:
    """The ``progress_bar`` column of the background CSV jobs' admins (imports and exports)."""

    @admin.display(description="progress")
    def progress_bar(self, job: Any) -> str:
        percent = job.progress_percent
        return format_html('<progress value="{}" max="100"></progress> {}%', percent, percent)
