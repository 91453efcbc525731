"""Staff pages of the optimizer: scoring and allocation runs (list, start, detail with live
progress); the runs page also lists the promotion runs."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.urls import reverse
from django.utils.html import format_html
from django.views import View
from django.views.generic import DetailView, FormView, ListView

from campaigns.models import BonusType, Campaign
from loyalty_site import safe_csv
from loyalty_site.charts import figure_data, segment_sizes_figure
from loyalty_site.error_pages import DomainErrorRedirectMixin
from loyalty_site.errors import ApplicationError
from loyalty_site.users import signed_in
from optimizer.exceptions import (
    AllocationRunAlreadyActive,
    AllocationSettingsInvalid,
    ScoringError,
    ScoringRunAlreadyActive,
)
from optimizer.forms import AllocationRunStartForm, ScoringRunStartForm
from optimizer.models import (
    ACTIVE_STATUSES,
    AllocationRun,
    CustomerScore,
    PromotionRun,
    RecommendationRun,
    ScoringRun,
)
from optimizer.selectors import (
    allocation_weeks,
    champion_csv_rows,
    champion_table,
    holdout_table,
    scoring_run_active,
    scoring_run_latest_succeeded,
    timings_table,
)
from optimizer.services import scoring_run_create
from optimizer.services.allocation import allocation_run_create, default_week_start
from optimizer.services.restart import run_restart
from retailers.models import Role
from retailers.web import RetailerViewMixin, url_or_none
from retailers.weeks import scores_age_note

#: Milliseconds between two progress requests of a queued or running run's page.
POLL_INTERVAL_MS = 3000
#: Allocation and promotion runs shown on the runs page (the allocation list pages the rest).
RECENT_RUNS = 10


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
        context.update(
            can_start_run=self.user_can(Role.ANALYST),
            allocation_runs=self.scoped(AllocationRun)
            .select_related("created_by", "campaign")
            .order_by("-created_at", "-pk")[:RECENT_RUNS],
            promotion_runs=self.scoped(PromotionRun)
            .select_related("created_by")
            .order_by("-created_at", "-pk")[:RECENT_RUNS],
            promotions_url=url_or_none("campaigns:promotion-list"),
            recommendation_runs=self.scoped(RecommendationRun)
            .select_related("created_by")
            .order_by("-created_at", "-pk")[:RECENT_RUNS],
        )
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
                user=signed_in(self.request),
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
            can_restart=self.user_can(Role.ANALYST),
            holdout_rows=holdout_table(run.metrics),
            holdout_status=(run.metrics.get("holdout") or {}).get("status"),
            champions=champion_table(run.metrics),
            notes=run.metrics.get("notes", []),
            timing_rows=timings_table(run.timings),
            segment_chart=figure_data(segment_sizes_figure(run.segment_profile))
            if run.segment_profile
            else None,
        )
        return context


class ScoringRunChampionsCsvView(ScoringRunDetailView):
    """The run's champion report as CSV: per output and contender the holdout metric, its 95%
    interval, the difference to the champion with its interval, and why the champion won."""

    def get(self, request: Any, *args: Any, **kwargs: Any) -> HttpResponse:
        run = self.get_object()
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = (
            f'attachment; filename="scoring-run-{run.pk}-champions.csv"'
        )
        safe_csv.writer(response).writerows(champion_csv_rows(run=run))
        return response


class ScoringRunStatusView(ScoringRunDetailView):
    """The status panel alone: what the detail page's poller fetches while the run is active."""

    def get(self, request: Any, *args: Any, **kwargs: Any) -> HttpResponse:
        run = self.get_object()
        context = {
            "run": run,
            "poll_interval": POLL_INTERVAL_MS,
            "can_restart": self.user_can(Role.ANALYST),
        }
        response = render(request, "optimizer/_scoringrun_status.html", context)
        response["Cache-Control"] = "no-store"
        return response


# --- Allocation runs ---------------------------------------------------------------------------
def _segments_of(run: ScoringRun | None) -> list[str]:
    """Segment names of a scoring run: its profile, else the distinct segments of its scores."""
    if run is None:
        return []
    names = [str(row.get("segment")) for row in run.segment_profile or [] if row.get("segment")]
    if names:
        return names
    scores = CustomerScore.objects.filter(run=run).order_by()
    return sorted(scores.values_list("segment", flat=True).distinct())


class AllocationRunListView(RetailerViewMixin, ListView):
    """The current retailer's allocation runs, newest first, with the campaigns they proposed."""

    template_name = "optimizer/allocationrun_list.html"
    context_object_name = "runs"
    paginate_by = 25
    min_role = Role.VIEWER

    def get_queryset(self) -> Any:
        return (
            self.scoped(AllocationRun)
            .select_related("created_by", "campaign", "replaces")
            .order_by("-created_at", "-pk")
        )

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["can_start_run"] = self.user_can(Role.ANALYST)
        return context


class AllocationRunStartView(RetailerViewMixin, FormView):
    """Ask for a week's bonus allocation (analysts and up): budget, week, caps per active bonus
    type, coverage minimums per segment of the latest scores, contact rule, control group."""

    template_name = "optimizer/allocationrun_form.html"
    form_class = AllocationRunStartForm
    min_role = Role.ANALYST

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        self.scoring_run: ScoringRun | None = None
        return super().dispatch(request, *args, **kwargs)

    def get_form_kwargs(self) -> dict[str, Any]:
        # Before super(): the initial week depends on the scores and the weeks offered.
        self.scoring_run = scoring_run_latest_succeeded(retailer=self.retailer)
        self.weeks = allocation_weeks(
            retailer=self.retailer, count=settings.ALLOCATION_WEEKS_OFFERED
        )
        kwargs = super().get_form_kwargs()
        types = self.scoped(BonusType).filter(is_active=True).order_by("code")
        kwargs.update(
            bonus_types=list(types.values_list("code", "name")),
            segments=_segments_of(self.scoring_run),
            weeks=self.weeks,
            scores_as_of=self.scoring_run.as_of if self.scoring_run else None,
            max_age_weeks=settings.SCORES_MAX_AGE_WEEKS,
        )
        return kwargs

    def _initial_week(self) -> Any:
        """The week after the scores when it is still to come, else the current week."""
        if self.scoring_run is not None:
            week = default_week_start(self.scoring_run.as_of, self.retailer.week_start_day)
            if week in self.weeks:
                return week.isoformat()
        return self.weeks[0].isoformat() if self.weeks else None

    def scores_note(self, form: AllocationRunStartForm) -> str | None:
        """The warning that the scores are N weeks old for the week chosen (or shown first)."""
        if self.scoring_run is None:
            return None
        chosen = form["week_start"].value()
        try:
            week = dt.date.fromisoformat(str(chosen))
        except ValueError:
            return None
        return scores_age_note(self.scoring_run.as_of, week, settings.SCORES_MAX_AGE_WEEKS)

    def get_initial(self) -> dict[str, Any]:
        last = self.scoped(AllocationRun).order_by("-created_at", "-pk").first()
        return {
            "week_start": self._initial_week(),
            "budget": last.budget if last else None,
            "contact_limit": self.retailer.contact_limit,
            "contact_window_weeks": self.retailer.contact_window_weeks,
            "control_share": Decimal(10),
            "gap_tolerance": (100 * self.retailer.gap_tolerance).quantize(Decimal("0.0001")),
            "coupling": json.dumps(self.retailer.allocation_rules or [], indent=1),
        }

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        active = self.scoped(AllocationRun).filter(status__in=ACTIVE_STATUSES).first()
        context.update(
            active_run=active,
            scoring_run=self.scoring_run,
            scores_note=self.scores_note(context["form"]),
        )
        return context

    def form_valid(self, form: AllocationRunStartForm) -> HttpResponse:
        data = form.cleaned_data
        try:
            run = allocation_run_create(
                retailer=self.retailer,
                settings=form.settings(),
                week_start=data["week_start"],
                user=signed_in(self.request),
            )
        except AllocationRunAlreadyActive as exc:
            url = reverse("optimizer:allocation-detail", args=[exc.run_id]) if exc.run_id else ""
            link = format_html(' <a href="{}">Follow run #{}</a>.', url, exc.run_id) if url else ""
            form.add_error(None, format_html("Not started: {}.{}", str(exc), link))
            return self.form_invalid(form)
        except (AllocationSettingsInvalid, ValidationError) as exc:
            for error in exc.messages if isinstance(exc, ValidationError) else [str(exc)]:
                form.add_error(None, f"Not started: {error}")
            return self.form_invalid(form)
        messages.success(self.request, f"Allocation run #{run.pk} queued for {run.week_start}.")
        note = scores_age_note(run.scoring_run.as_of, run.week_start, settings.SCORES_MAX_AGE_WEEKS)
        if note:
            messages.warning(self.request, note)
        return HttpResponseRedirect(reverse("optimizer:allocation-detail", args=[run.pk]))


class AllocationRunDetailView(RetailerViewMixin, DetailView):
    """An allocation run: status (polled while active), error, settings, solver, timings and a
    link to the campaign it proposed."""

    template_name = "optimizer/allocationrun_detail.html"
    context_object_name = "run"
    min_role = Role.VIEWER

    def get_object(self, queryset: Any = None) -> AllocationRun:
        return self.get_scoped_object(
            AllocationRun.objects.select_related("created_by", "scoring_run", "replaces"),
            pk=self.kwargs["pk"],
        )

    def status_context(self, run: AllocationRun) -> dict[str, Any]:
        return {
            "run": run,
            "poll_interval": POLL_INTERVAL_MS,
            "can_restart": self.user_can(Role.ANALYST),
            "campaign": Campaign.objects.filter(allocation_run=run).first(),
            "duration": (run.finished_at - run.started_at).total_seconds()
            if run.started_at and run.finished_at
            else None,
        }

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        run = self.object
        settings = run.settings
        context.update(
            **self.status_context(run),
            settings=settings,
            type_caps=sorted(settings.type_caps.items()),
            coverage=sorted(settings.segment_coverage.items()),
            excluded=len(settings.excluded_customers),
            timing_rows=timings_table(run.timings),
            solver_timing_rows=sorted((run.result.get("timings") or {}).items()),
        )
        return context


class AllocationRunStatusView(AllocationRunDetailView):
    """The status panel alone: what the detail page's poller fetches while the run is active."""

    def get(self, request: Any, *args: Any, **kwargs: Any) -> HttpResponse:
        context = self.status_context(self.get_object())
        response = render(request, "optimizer/_allocationrun_status.html", context)
        response["Cache-Control"] = "no-store"
        return response


# --- Restarting abandoned runs -----------------------------------------------------------------
class RunRestartView(RetailerViewMixin, DomainErrorRedirectMixin, View):
    """POST: queue an abandoned run again (analyst and up; audited), back to its page."""

    model: type[ScoringRun | AllocationRun] = ScoringRun
    detail_url = "optimizer:run-detail"
    min_role = Role.ANALYST

    def post(self, request: Any, pk: int) -> HttpResponse:
        run = self.get_scoped_object(self.model.objects.all(), pk=pk)
        run_restart(run=run, actor=signed_in(request))
        messages.success(request, f"Run #{run.pk} queued again.")
        return HttpResponseRedirect(reverse(self.detail_url, args=[run.pk]))

    def domain_error_url(self, exc: ApplicationError) -> str:
        return reverse(self.detail_url, args=[self.kwargs["pk"]])


class ScoringRunRestartView(RunRestartView):
    model = ScoringRun
    detail_url = "optimizer:run-detail"


class AllocationRunRestartView(RunRestartView):
    model = AllocationRun
    detail_url = "optimizer:allocation-detail"
