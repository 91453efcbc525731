"""Forms of the retailers app: the admin's import forms, which pick the importing retailer."""

from __future__ import annotations

from typing import Any

from django import forms
from django.db.models import QuerySet
from import_export.forms import ConfirmImportForm, ImportForm

from retailers.models import Retailer

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
