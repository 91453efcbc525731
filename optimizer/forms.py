"""Forms of the optimizer's staff pages."""

from __future__ import annotations

from django import forms


class ScoringRunStartForm(forms.Form):
    """What an analyst chooses when starting a scoring run of the current retailer."""

    as_of = forms.DateField(
        required=False,
        label="As of",
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="Scoring date: only data before this day is used. Empty: the day after the "
        "latest transaction.",
    )
    horizon_weeks = forms.IntegerField(
        label="Horizon (weeks)",
        min_value=1,
        max_value=52,
        initial=8,
        help_text="How far ahead visits, spend and churn are forecast (1-52 weeks).",
    )
