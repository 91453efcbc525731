"""Forms, widgets, list filters and actions of the admin's tenancy mechanism.

Django's admin reads related rows in places a scoped queryset never reaches: a raw-id widget
prints the label of whatever id it is given (from the query string or a posted form shown again
with its errors), ``RelatedFieldListFilter`` lists every row of the related model, and a form's
declared fields keep the querysets they were written with. Everything here routes those reads
through :func:`retailers.tenancy.scope_for_user`, and decides writes per retailer of the row:

- :func:`scoped_form_class` scopes every choice field of a form (and its raw-id widget's label)
  to the retailers where the user holds the role the form needs, and refuses to save a row that
  is, was or links to a row of any other retailer;
- :func:`scoped_list_filter` gives relation filters only the user's related rows;
- :func:`guarded_action` runs an admin action only when the user holds the action's role at the
  retailer of every selected row.

:class:`retailers.admin_mixins.RetailerScopedAdmin` applies them all; no admin calls them itself.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, cast

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import NotRelationField, get_fields_from_path
from django.contrib.admin.widgets import ForeignKeyRawIdWidget
from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.db import models

from retailers.models import Retailer, Role
from retailers.tenancy import (
    RetailerOwned,
    retailer_ids_for_user,
    retailer_ids_with_role,
    scope_for_user,
)

if TYPE_CHECKING:
    from loyalty_site.users import RequestUser


# --- Raw-id widgets ------------------------------------------------------------------------------
class _ScopedRawIdMixin:
    """A raw-id widget that labels only ids of its (scoped) queryset; any other id gets no label,
    exactly like an id that does not exist."""

    queryset: models.QuerySet

    def label_and_url_for_value(self, value: Any) -> tuple[str, str]:
        key = self.rel.get_related_field().name  # type: ignore[attr-defined]
        try:
            visible = self.queryset.filter(**{key: value}).exists()
        except (ValueError, TypeError, ValidationError):
            return "", ""
        return super().label_and_url_for_value(value) if visible else ("", "")  # type: ignore[misc]


@functools.cache
def _scoped_raw_id_class(cls: type) -> type:
    return type(f"Scoped{cls.__name__}", (_ScopedRawIdMixin, cls), {})


def _scoped_raw_id_widget(widget: ForeignKeyRawIdWidget, queryset: models.QuerySet) -> Any:
    """A copy of ``widget`` (foreign-key or many-to-many) that labels only ids of ``queryset``."""
    scoped = copy.copy(widget)
    scoped.__class__ = _scoped_raw_id_class(type(widget))
    # The copy is now of the scoped subclass, which declares the queryset it labels.
    cast(_ScopedRawIdMixin, scoped).queryset = queryset
    return scoped


# --- Forms ---------------------------------------------------------------------------------------
def scope_form_fields(form: forms.BaseForm, *, user: RequestUser, role: str | None) -> None:
    """Limit every choice field of ``form`` (and its raw-id label) to what ``user`` may write."""
    for field in form.fields.values():
        queryset = getattr(field, "queryset", None)
        if queryset is None:
            continue
        scoped = scope_for_user(queryset, user, role=role)
        # A form field with a queryset is a model choice field (single or multiple).
        cast(forms.ModelChoiceField, field).queryset = scoped
        if isinstance(field.widget, ForeignKeyRawIdWidget):
            field.widget = _scoped_raw_id_widget(field.widget, scoped)


def _retailers_of(value: Any) -> set[int]:
    """Retailer ids a cleaned value belongs to (a row, a retailer, or a list of them)."""
    if isinstance(value, Retailer):
        return {value.pk}
    if isinstance(value, RetailerOwned):
        return {value.retailer_id}
    if isinstance(value, models.QuerySet | list | tuple):
        return set().union(*(_retailers_of(item) for item in value))
    return set()


def refused_retailers(
    user: RequestUser, role: str, retailer_ids: Iterable[int | None]
) -> str | None:
    """Names of the retailers among ``retailer_ids`` where ``user`` lacks ``role`` (``None`` when
    there are none). Only retailers the user belongs to are named."""
    allowed = retailer_ids_with_role(user, role)
    if allowed is None:
        return None
    refused = {pk for pk in retailer_ids if pk is not None} - set(allowed)
    if not refused:
        return None
    known = refused & set(retailer_ids_for_user(user) or [])
    names = Retailer.objects.filter(pk__in=known).order_by("name").values_list("name", flat=True)
    return ", ".join(names) or "another retailer"


def role_error(role: str, where: str, what: str) -> str:
    return f"You need the {Role(role).label.lower()} role at {where} to {what}."


def scoped_form_class(form_class: type[forms.BaseForm], *, user: RequestUser, role: str) -> type:
    """``form_class`` whose choices are scoped to the retailers where ``user`` holds ``role``, and
    which refuses to save a row that is, was or links to a row of any other retailer."""

    class TenancyScopedForm(form_class):  # type: ignore[valid-type, misc]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            instance = getattr(self, "instance", None)
            stored = instance is not None and instance.pk is not None
            self._stored_retailer_id = getattr(instance, "retailer_id", None) if stored else None
            scope_form_fields(self, user=user, role=role)

        def _post_clean(self) -> None:
            super()._post_clean()
            # The row's retailer before and after, and that of every row it links to (a points
            # entry's retailer is its customer's, set only when the service saves it).
            instance = getattr(self, "instance", None)
            targets = {self._stored_retailer_id, getattr(instance, "retailer_id", None)}
            for value in self.cleaned_data.values():
                targets |= _retailers_of(value)
            where = refused_retailers(user, role, targets)
            if where is not None:
                name = instance._meta.verbose_name if instance is not None else "form"
                self.add_error(None, role_error(role, where, f"save this {name}"))

    TenancyScopedForm.__name__ = TenancyScopedForm.__qualname__ = form_class.__name__
    return TenancyScopedForm


# --- List filters --------------------------------------------------------------------------------
class _ScopedChoicesMixin:
    """Keep only the related rows the user may see among a relation filter's choices."""

    def field_choices(self, field: Any, request: Any, model_admin: Any) -> list:
        choices = super().field_choices(field, request, model_admin)  # type: ignore[misc]
        related = field.related_model._default_manager.all()
        visible = scope_for_user(related, request.user)
        if visible is related:
            return choices
        keep = set(visible.filter(pk__in=[pk for pk, _ in choices]).values_list("pk", flat=True))
        return [(pk, label) for pk, label in choices if pk in keep]


class ScopedRelatedFieldListFilter(admin.RelatedFieldListFilter):
    """Django's relation filter, listing only the related rows of the user's retailers (the
    default lists every row of the related model, whoever owns it)."""

    def field_choices(self, field: Any, request: Any, model_admin: Any) -> list:
        ordering = self.field_admin_ordering(field, request, model_admin)
        visible = scope_for_user(field.related_model._default_manager.all(), request.user)
        return field.get_choices(
            include_blank=False,
            ordering=ordering,
            limit_choices_to=models.Q(pk__in=visible.values("pk")),
        )


@functools.cache
def _scoped_filter_class(cls: type) -> type:
    if cls is admin.RelatedFieldListFilter:
        return ScopedRelatedFieldListFilter
    return type(f"Scoped{cls.__name__}", (_ScopedChoicesMixin, cls), {})


def scoped_list_filter(model: type[models.Model], entry: Any) -> Any:
    """``entry`` of a ``list_filter`` with any relation filter replaced by a scoped one."""
    if isinstance(entry, str):
        try:
            field = get_fields_from_path(model, entry)[-1]
        except (FieldDoesNotExist, NotRelationField):
            return entry
        return (entry, ScopedRelatedFieldListFilter) if field.is_relation else entry
    filter_class = entry[1] if isinstance(entry, tuple) else None
    if isinstance(filter_class, type) and issubclass(filter_class, admin.RelatedFieldListFilter):
        return (entry[0], _scoped_filter_class(entry[1]))
    return entry


# --- Actions -------------------------------------------------------------------------------------
def guarded_action(func: Callable, role: str) -> Callable:
    """``func`` (an admin action) run only when the user holds ``role`` at the retailer of every
    selected row; otherwise nothing is done and the message says where the role is missing."""

    @functools.wraps(func)
    def guarded(modeladmin: Any, request: Any, queryset: models.QuerySet) -> Any:
        ids = queryset.order_by().values_list("retailer_id", flat=True).distinct()
        where = refused_retailers(request.user, role, ids)
        if where is not None:
            label = getattr(func, "short_description", func.__name__)
            what = f"run “{label}” on its rows (nothing was done)"
            modeladmin.message_user(request, role_error(role, where, what), messages.ERROR)
            return None
        return func(modeladmin, request, queryset)

    return guarded
