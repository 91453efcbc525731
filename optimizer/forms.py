"""Forms of the optimizer's staff pages."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from decimal import Decimal
from typing import Any, cast

from django import forms

from optimizer.engine.settings import AllocationSettings, SettingsInvalid, budget_parse
from retailers.weeks import scores_age_note, week_label, weeks_between


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


def _week_choice_label(start: dt.date, as_of: dt.date | None, max_age_weeks: int) -> str:
    """'Week 50, 7-13 Dec 2026', and how old the scores are for it when too old."""
    label = week_label(start)
    if as_of is not None and scores_age_note(as_of, start, max_age_weeks):
        label += f" (scores {weeks_between(as_of, start)} weeks old)"
    return label


class AllocationRunStartForm(forms.Form):
    """What an analyst chooses when asking for a week's bonus allocation.

    Besides the fixed fields it has one cap field per active bonus type (``cap_<n>``) and one
    coverage field per segment of the latest scores (``coverage_<n>``), in percent; read the
    whole back as typed settings with :meth:`settings`.
    """

    budget = forms.DecimalField(
        label="Budget",
        max_digits=12,
        decimal_places=2,
        help_text="Expected cost of the redeemed bonuses the allocation may plan for.",
    )
    week_start = forms.TypedChoiceField(
        label="Campaign week",
        coerce=dt.date.fromisoformat,
        help_text="The current week and the weeks after it; weeks start on the retailer's "
        "week-start day, in its time zone.",
    )
    contact_limit = forms.IntegerField(
        label="Contact limit N", min_value=1, max_value=52, help_text="At most N bonuses..."
    )
    contact_window_weeks = forms.IntegerField(
        label="Contact window M (weeks)", min_value=1, max_value=52, help_text="...in M weeks."
    )
    control_share = forms.DecimalField(
        label="Control group (%)",
        min_value=Decimal(0),
        max_value=Decimal(50),
        decimal_places=1,
        initial=Decimal(10),
        help_text="Share of eligible customers held out, per segment, to measure the effect.",
    )
    spend_limit = forms.DecimalField(
        required=False,
        label="Spend limit",
        min_value=Decimal(0),
        max_digits=12,
        decimal_places=2,
        help_text="Hard limit on the real cost of redemptions. Empty: the budget.",
    )

    gap_tolerance = forms.DecimalField(
        required=False,
        label="Gap tolerance (%)",
        min_value=Decimal("0.0001"),
        max_value=Decimal(20),
        decimal_places=4,
        help_text="How far below the best possible value the proposal may be and still count "
        "as solved (0.01 % by default; the retailer's setting). Above it the campaign page "
        "warns and approval needs an explicit confirmation. Empty: the retailer's.",
    )
    coupling = forms.CharField(
        required=False,
        label="Coupling rules (JSON)",
        widget=forms.Textarea({"rows": 5, "spellcheck": "false"}),
        help_text='A list of rules, the retailer\'s to start with: [{"name": "store 12 free '
        'coffee", "attribute": "store", "value": "12", "bonus_types": ["free_coffee"], '
        '"sense": "cap", "measure": "count", "limit": 150}]. attribute: store, region, segment '
        "or channel (email / till); sense: cap or minimum; measure: count or cost; bonus_types "
        "empty: all. Empty: no rule.",
    )

    def __init__(
        self,
        *args: Any,
        bonus_types: Sequence[tuple[str, str]] = (),
        segments: Sequence[str] = (),
        weeks: Sequence[dt.date] = (),
        scores_as_of: dt.date | None = None,
        max_age_weeks: int = 4,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.TypedChoiceField, self.fields["week_start"]).choices = [
            (start.isoformat(), _week_choice_label(start, scores_as_of, max_age_weeks))
            for start in weeks
        ]
        self.cap_fields: list[tuple[str, str]] = []
        self.coverage_fields: list[tuple[str, str]] = []
        for n, (code, name) in enumerate(bonus_types):
            field = f"cap_{n}"
            self.fields[field] = forms.IntegerField(
                required=False,
                min_value=0,
                label=f"Cap: {name or code}",
                help_text=f"Most bonuses of type {code}. Empty: no cap beyond the catalogue's.",
            )
            self.cap_fields.append((field, code))
        for n, segment in enumerate(segments):
            field = f"coverage_{n}"
            self.fields[field] = forms.DecimalField(
                required=False,
                min_value=Decimal(0),
                max_value=Decimal(100),
                decimal_places=1,
                label=f"Coverage: {segment} (%)",
                help_text=f"At least this share of the treatable '{segment}' customers gets "
                "a bonus. Empty: no minimum.",
            )
            self.coverage_fields.append((field, segment))

    #: The fixed fields, in display order (caps and coverage follow in their own groups).
    MAIN_FIELDS = (
        "budget",
        "week_start",
        "spend_limit",
        "control_share",
        "contact_limit",
        "contact_window_weeks",
        "gap_tolerance",
    )

    def groups(self) -> list[tuple[str, list[forms.BoundField]]]:
        """``[(legend, bound fields)]`` for the page: settings, caps, coverage minimums."""
        groups = [
            ("Budget and rules", [self[name] for name in self.MAIN_FIELDS]),
            ("Caps per bonus type", [self[name] for name, _ in self.cap_fields]),
            ("Coverage minimums per segment", [self[name] for name, _ in self.coverage_fields]),
            ("Coupling rules", [self["coupling"]]),
        ]
        return [(legend, fields) for legend, fields in groups if fields]

    def clean_budget(self) -> Decimal:
        # The one budget rule, shared with the command, the re-run and the service.
        try:
            return budget_parse(self.cleaned_data["budget"])
        except SettingsInvalid as exc:
            raise forms.ValidationError(str(exc)) from exc

    def clean_coupling(self) -> list[Any]:
        text = self.cleaned_data["coupling"].strip()
        try:
            rules = json.loads(text) if text else []
        except json.JSONDecodeError as exc:
            raise forms.ValidationError(f"Not valid JSON: {exc.msg} (line {exc.lineno}).") from exc
        return rules if isinstance(rules, list) else [rules]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.errors:
            return data
        caps = {code: data[f] for f, code in self.cap_fields if data.get(f) is not None}
        coverage = {
            segment: data[f] / 100
            for f, segment in self.coverage_fields
            if data.get(f) is not None and data[f] > 0
        }
        try:
            self._settings = AllocationSettings.from_json(
                {
                    "budget": data["budget"],
                    "spend_limit": data.get("spend_limit"),
                    "control_share": (data["control_share"] / 100).quantize(Decimal("0.001")),
                    "contact_limit": data["contact_limit"],
                    "contact_window_weeks": data["contact_window_weeks"],
                    "type_caps": caps,
                    "segment_coverage": coverage,
                    "coupling": data["coupling"],
                    "gap_tolerance": None
                    if data.get("gap_tolerance") is None
                    else data["gap_tolerance"] / 100,
                }
            )
        except SettingsInvalid as exc:
            field = "coupling" if exc.field.startswith("coupling") else exc.field
            self.add_error(field if field in self.fields else None, str(exc))
        return data

    def settings(self) -> AllocationSettings:
        """The typed settings of ``allocation_run_create`` (valid forms only)."""
        return self._settings
