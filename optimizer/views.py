"""Staff pages of the optimizer: scoring runs (list, start, detail with live progress)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.html import format_html
from django.views.generic import DetailView, FormView, ListView

from loyalty_site.charts import figure_data, segment_sizes_figure
from optimizer.exceptions import ScoringError, ScoringRunAlreadyActive
from optimizer.forms import ScoringRunStartForm
from optimizer.models import ScoringRun
from optimizer.selectors import holdout_table, scoring_run_active, timings_table
from optimizer.services import scoring_run_create
from retailers.models import Role
from retailers.web import RetailerViewMixin

#: Milliseconds between two progress requests of a queued or running run's page.
POLL_INTERVAL_MS = 3000


class ScoringRunListView(RetailerViewMixin, ListView):
    """The current retailer's scoring runs, newest first."""

    template_name = "optimizer/scoringrun_list.html"
    context_object_name = "runs"
    paginate_by = 25
    min_role = Role.VIEWER

    def get_queryset(self) -> Any:
        return self.scoped(ScoringRun).select_related("created_by").order_by("-created_at", "-pk")

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["can_start_run"] = self.user_can(Role.ANALYST)
        return context


class ScoringRunStartView(RetailerViewMixin, FormView):
    """Start a scoring run (analysts and up); refused with a message while one is active."""

    template_name = "optimizer/scoringrun_form.html"
    form_class = ScoringRunStartForm
    min_role = Role.ANALYST

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["active_run"] = scoring_run_active(retailer=self.retailer)
        return context

    def form_valid(self, form: ScoringRunStartForm) -> HttpResponse:
        try:
            run = scoring_run_create(
                retailer=self.retailer,
                as_of=form.cleaned_data["as_of"],
                horizon_weeks=form.cleaned_data["horizon_weeks"],
                user=self.request.user,
            )
        except ScoringRunAlreadyActive as exc:
            url = reverse("optimizer:run-detail", args=[exc.run_id]) if exc.run_id else None
            link = format_html(' <a href="{}">Follow run #{}</a>.', url, exc.run_id) if url else ""
            form.add_error(None, format_html("Not started: {}.{}", str(exc), link))
            return self.form_invalid(form)
        except (ScoringError, ValidationError) as exc:
            errors = exc.messages if isinstance(exc, ValidationError) else [str(exc)]
            for error in errors:
                form.add_error(None, f"Not started: {error}")
            return self.form_invalid(form)
        messages.success(self.request, f"Scoring run #{run.pk} queued as of {run.as_of}.")
        return HttpResponseRedirect(reverse("optimizer:run-detail", args=[run.pk]))


class ScoringRunDetailView(RetailerViewMixin, DetailView):
    """A run's status, progress (polled while active), error, metrics, segments and timings."""

    template_name = "optimizer/scoringrun_detail.html"
    context_object_name = "run"
    min_role = Role.VIEWER

    def get_object(self, queryset: Any = None) -> ScoringRun:
        return self.get_scoped_object(
            ScoringRun.objects.select_related("created_by"), pk=self.kwargs["pk"]
        )

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        run = self.object
        context.update(
            poll_interval=POLL_INTERVAL_MS,
            holdout_rows=holdout_table(run.metrics),
            holdout_status=(run.metrics.get("holdout") or {}).get("status"),
            notes=run.metrics.get("notes", []),
            timing_rows=timings_table(run.timings),
            segment_chart=figure_data(segment_sizes_figure(run.segment_profile))
            if run.segment_profile
            else None,
        )
        return context


class ScoringRunStatusView(ScoringRunDetailView):
    """The status panel alone: what the detail page's poller fetches while the run is active."""

    def get(self, request: Any, *args: Any, **kwargs: Any) -> HttpResponse:
        run = self.get_object()
        context = {"run": run, "poll_interval": POLL_INTERVAL_MS}
        response = render(request, "optimizer/_scoringrun_status.html", context)
        response["Cache-Control"] = "no-store"
        return response
