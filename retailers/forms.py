"""Forms of the retailers app: the admin's import forms (which pick the importing retailer), the
Team page's and the new-retailer page's."""

from __future__ import annotations

from typing import Any

from django import forms
from django.db.models import QuerySet
from import_export.forms import ConfirmImportForm, ImportForm

from retailers.models import Locale, Retailer, Role

RETAILER_HELP = (
    "Every row goes into this retailer; ids (SKU, store, customer) are looked up only in it."
)


class RetailerImportForm(ImportForm):
    """Upload step: the file, and the retailer (one of the user's) that receives every row."""

    retailer = forms.ModelChoiceField(queryset=Retailer.objects.none(), help_text=RETAILER_HELP)
    field_order = ["retailer", "resource", "import_file", "format"]

    def __init__(
        self, formats: list, resources: list, *, retailers: QuerySet[Retailer], **kwargs: Any
    ) -> None:
        super().__init__(formats, resources, **kwargs)
        self.fields["retailer"].queryset = retailers
        choices = list(retailers[:2])
        if len(choices) == 1:
            self.fields["retailer"].initial = choices[0].pk


class RetailerConfirmImportForm(ConfirmImportForm):
    """Confirm step: carries the retailer on, checked again against the user's retailers."""

    retailer = forms.ModelChoiceField(queryset=Retailer.objects.none(), widget=forms.HiddenInput)

    def __init__(self, *args: Any, retailers: QuerySet[Retailer], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["retailer"].queryset = retailers


class TeamInviteForm(forms.Form):
    """Invite a person to the current retailer's team (the Team page)."""

    username = forms.CharField(max_length=150, help_text="What they type to sign in.")
    email = forms.EmailField(
        required=False, help_text="Where the set-your-password link is sent (optional)."
    )
    role = forms.ChoiceField(
        choices=Role.choices,
        initial=Role.VIEWER,
        help_text="Viewer reads; analyst also starts runs; approver also decides; admin also "
        "manages the team.",
    )


class MembershipRoleForm(forms.Form):
    """A member's new role."""

    role = forms.ChoiceField(choices=Role.choices)


class RetailerCreateForm(forms.Form):
    """A new retailer (superusers)."""

    name = forms.CharField(max_length=200)
    slug = forms.SlugField(help_text="Short id in exports and the API, e.g. acme.")
    currency = forms.CharField(max_length=3, initial="EUR", help_text="ISO 4217 code, e.g. EUR.")
    time_zone = forms.CharField(
        max_length=64, initial="Europe/Helsinki", help_text="IANA zone of its stores."
    )
    locale = forms.ChoiceField(
        choices=Locale.choices,
        initial=Locale.EN_US,
        help_text="How numbers, money and dates are written on its staff pages.",
    )
