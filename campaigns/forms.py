"""Forms of the campaigns app's staff pages: weekly promotion runs and decisions."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms

from retailers.weeks import iso_week_monday


class PromotionRunStartForm(forms.Form):
    """What an analyst chooses when asking for a week's promotion proposal."""

    week = forms.CharField(
        required=False,
        widget=forms.TextInput(attrs={"type": "week", "placeholder": "2025-W23"}),
        help_text="ISO week (YYYY-Www). Empty: the coming week (for historical data, the week "
        "after the latest transaction).",
    )
    k = forms.IntegerField(
        label="Products (K)", min_value=1, max_value=500, initial=20, help_text="At most K."
    )
    max_per_category = forms.IntegerField(
        label="Per category",
        required=False,
        min_value=1,
        max_value=500,
        initial=3,
        help_text="At most this many per category. Empty: no cap.",
    )
    discount_budget = forms.DecimalField(
        required=False,
        min_value=0,
        max_digits=12,
        decimal_places=2,
        help_text="Expected discount money of the promoted units. Empty: no budget.",
    )
    recent_weeks = forms.IntegerField(
        min_value=0,
        max_value=52,
        initial=4,
        help_text="Skip products promoted in the last N weeks (unless pinned).",
    )
    pinned = forms.CharField(
        label="Pinned SKUs",
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Always promote these (spaces or commas between SKUs).",
    )
    banned = forms.CharField(
        label="Banned SKUs",
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Never promote these.",
    )
    excluded_categories = forms.CharField(
        label="Excluded categories",
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=(
            "Never promote these categories this week, one per line (on top of the "
            "retailer's excluded categories)."
        ),
    )
    pinned_categories = forms.CharField(
        label="Pinned categories",
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Promote at least one product of each of these categories, one per line.",
    )

    def clean_week(self) -> dt.date | None:
        text = self.cleaned_data["week"].strip()
        if not text:
            return None
        try:
            return iso_week_monday(text)
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from exc

    def options(self) -> dict[str, Any]:
        """The run options (see ``optimizer.services.promotions.config``)."""
        data = self.cleaned_data
        return {
            "k": data["k"],
            "max_per_category": data["max_per_category"],
            "discount_budget": data["discount_budget"],
            "recent_weeks": data["recent_weeks"],
            "pinned": data["pinned"],
            "banned": data["banned"],
            "excluded_categories": data["excluded_categories"],
            "pinned_categories": data["pinned_categories"],
        }


class PromotionDecisionForm(forms.Form):
    """Approve or reject a proposed week (a rejection needs a comment)."""

    action = forms.ChoiceField(choices=[("approve", "Approve"), ("reject", "Reject")])
    comment = forms.CharField(
        required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2})
    )

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        if data.get("action") == "reject" and not data.get("comment", "").strip():
            self.add_error("comment", "Say why the proposal is rejected.")
        return data


class PromotionItemDropForm(forms.Form):
    """Drop one product from a proposed week (optional comment, audited)."""

    comment = forms.CharField(required=False, max_length=2000)
