"""Staff pages of the recommendation runs: start one (analysts), follow it, read its holdout
table (recommender vs the popularity and buy-again baselines), calibration and candidates."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.db.models import Count, Sum
from django.http import HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.views import View
from django.views.generic import DetailView

from loyalty_site.users import signed_in
from optimizer.exceptions import RecommendationError
from optimizer.models import OfferCandidate, RecommendationRun
from optimizer.selectors import (
    RECOMMENDATION_LISTS,
    recommendation_holdout_table,
    timings_table,
)
from optimizer.services.recommend import recommendation_run_create
from retailers.models import Role
from retailers.web import RetailerViewMixin

#: Products listed on a run's page (most offered first).
TOP_PRODUCTS = 15


class RecommendationRunStartView(RetailerViewMixin, View):
    """POST: queue a recommendation run with the defaults (analysts and up)."""

    min_role = Role.ANALYST

    def post(self, request: Any) -> HttpResponse:
        try:
            run = recommendation_run_create(retailer=self.retailer, user=signed_in(request))
        except RecommendationError as exc:
            messages.error(request, f"Not started: {exc}")
            return HttpResponseRedirect(reverse("optimizer:run-list"))
        messages.success(request, f"Recommendation run #{run.pk} queued as of {run.as_of}.")
        return HttpResponseRedirect(reverse("optimizer:recommendation-detail", args=[run.pk]))


class RecommendationRunDetailView(RetailerViewMixin, DetailView):
    """A run's status, holdout table, calibration, timings and most offered products."""

    template_name = "optimizer/recommendationrun_detail.html"
    context_object_name = "run"
    min_role = Role.VIEWER

    def get_object(self, queryset: Any = None) -> RecommendationRun:
        return self.get_scoped_object(
            RecommendationRun.objects.select_related("created_by"), pk=self.kwargs["pk"]
        )

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        run = self.object
        holdout = run.metrics.get("holdout") or {}
        candidates = OfferCandidate.objects.filter(run=run)
        context.update(
            holdout=holdout,
            holdout_rows=recommendation_holdout_table(run.metrics),
            calibration=holdout.get("calibration", []),
            champion=run.metrics.get("champion") or {},
            served_label=dict(RECOMMENDATION_LISTS).get(
                (run.metrics.get("champion") or {}).get("served", ""), ""
            ),
            timing_rows=timings_table(run.timings),
            kinds=candidates.values("kind").annotate(n=Count("pk")).order_by("kind"),
            top_products=candidates.values("product__sku", "product__name", "product__category")
            .annotate(offers=Count("pk"), value=Sum("incremental_value"))
            .order_by("-offers", "product__sku")[:TOP_PRODUCTS],
            examples=candidates.select_related("customer", "product").order_by(
                "customer_id", "rank"
            )[:20],
        )
        return context
