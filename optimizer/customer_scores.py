"""Reads of customers with their stored scores (staff pages): the customer list annotated with a
run's scores and its filters, a customer's score series and the KPIs of a run's scores.

They live here, not in ``customers``, because scores are the optimizer's results and optimizer
sits above customers in the layers contract (pyproject.toml).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import django_filters
from django.db.models import (
    Avg,
    Count,
    DecimalField,
    F,
    FilteredRelation,
    Q,
    QuerySet,
    Sum,
    Value,
)
from django.db.models.functions import Length

from customers.models import Customer
from customers.services.privacy import customer_export_section_register, export_rows
from loyalty_site.money import quantize
from optimizer.models import PROBABILITY_FIELD, CustomerScore, ScoringRun
from optimizer.selectors import customer_score_history
from retailers.models import Retailer

#: Churn-risk bands of the customer list: (label, lower bound inclusive, upper bound exclusive).
RISK_BANDS: dict[str, tuple[str, Decimal | None, Decimal | None]] = {
    "high": ("High (60% or more)", Decimal("0.6"), None),
    "medium": ("Medium (30-60%)", Decimal("0.3"), Decimal("0.6")),
    "low": ("Low (under 30%)", None, Decimal("0.3")),
}
_SCORE_FIELDS = ("segment", "churn_probability", "expected_spend", "clv", "reason")


def customer_list(*, retailer: Retailer, run: ScoringRun | None) -> QuerySet[Customer]:
    """The retailer's customers by id, each annotated with its score in ``run``: ``segment``,
    ``churn_probability``, ``expected_spend``, ``clv``, ``reason`` (``None`` when not scored).

    One query per page whatever the page size (a filtered LEFT JOIN, no per-row lookups).
    """
    # Shorter ids first, then alphabetical: numeric ids ("2", "10", "2042") sort as numbers.
    customers = Customer.objects.for_retailer(retailer).order_by(
        Length("external_id"), "external_id", "pk"
    )
    if run is None:
        nothing = Value(None, output_field=DecimalField(max_digits=12, decimal_places=4))
        return customers.annotate(**dict.fromkeys(_SCORE_FIELDS, nothing))
    return customers.annotate(
        latest=FilteredRelation("scores", condition=Q(scores__run=run))
    ).annotate(**{name: F(f"latest__{name}") for name in _SCORE_FIELDS})


class CustomerFilter(django_filters.FilterSet):
    """Search (customer id or e-mail), segment and churn risk over :func:`customer_list`."""

    q = django_filters.CharFilter(label="Search", method="filter_search")
    segment = django_filters.ChoiceFilter(label="Segment", method="filter_segment")
    risk = django_filters.ChoiceFilter(
        label="Churn risk",
        choices=[(key, label) for key, (label, _, _) in RISK_BANDS.items()],
        method="filter_risk",
    )

    class Meta:
        model = Customer
        fields: list[str] = []

    def __init__(
        self,
        *args: Any,
        run: ScoringRun | None = None,
        segments: list[str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.run = run
        self.filters["segment"].extra["choices"] = [(s, s) for s in segments or []]
        self.filters["q"].field.widget.attrs.update(
            {"placeholder": "customer id or e-mail", "type": "search"}
        )

    def filter_search(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(Q(external_id__istartswith=value) | Q(email__icontains=value))

    def filter_segment(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        if not value:
            return queryset
        return queryset.filter(segment=value) if self.run else queryset.none()

    def filter_risk(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        if value not in RISK_BANDS:
            return queryset
        if self.run is None:
            return queryset.none()
        _, low, high = RISK_BANDS[value]
        if low is not None:
            queryset = queryset.filter(churn_probability__gte=low)
        if high is not None:
            queryset = queryset.filter(churn_probability__lt=high)
        return queryset


def customer_score_series(*, customer: Customer) -> list[dict[str, Any]]:
    """The customer's scores across succeeded runs, oldest first:
    ``[{run_id, as_of, churn_probability, clv, expected_spend, segment, reason}]``."""
    rows = customer_score_history(customer=customer).values(
        "run_id", "run__as_of", "churn_probability", "clv", "expected_spend", "segment", "reason"
    )
    series = [{**row, "as_of": row["run__as_of"]} for row in rows]
    series.reverse()
    return series


def score_kpis(*, run: ScoringRun | None) -> dict[str, Any] | None:
    """KPIs of ``run``'s stored scores: ``scored``, ``mean_churn`` (0-1), ``expected_spend`` and
    ``clv`` totals (Decimal, cents) and ``at_risk`` (high churn band). ``None`` without a run."""
    if run is None:
        return None
    high = RISK_BANDS["high"][1]
    row = (
        CustomerScore.objects.for_retailer(run.retailer_id)
        .filter(run=run)
        .aggregate(
            scored=Count("pk"),
            mean_churn=Avg("churn_probability"),
            expected_spend=Sum("expected_spend"),
            clv=Sum("clv"),
            at_risk=Count("pk", filter=Q(churn_probability__gte=high)),
        )
    )
    places = Decimal(1).scaleb(-int(PROBABILITY_FIELD["decimal_places"]))
    mean = row["mean_churn"]
    return {
        "scored": row["scored"],
        "mean_churn": None if mean is None else Decimal(str(mean)).quantize(places),
        "expected_spend": quantize(row["expected_spend"]),
        "clv": quantize(row["clv"]),
        "at_risk": row["at_risk"],
    }


def _scores(customer: Customer) -> list[dict[str, Any]]:
    return export_rows(
        CustomerScore.objects.filter(customer=customer).order_by("run_id"),
        [
            "run_id",
            "run__as_of",
            "segment",
            "churn_probability",
            "clv",
            "expected_spend",
            "reason",
        ],
    )


def customer_export_sections_register() -> None:
    """Add the customer's stored scores to every customer export (``OptimizerConfig.ready``:
    customers sits below optimizer and never imports it)."""
    customer_export_section_register(name="scores", rows=_scores)
