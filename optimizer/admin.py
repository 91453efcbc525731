"""Admin of the scoring runs: start a run, follow it, read its report; browse stored scores."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html

from loyalty_site.users import signed_in
from optimizer.exceptions import ScoringError
from optimizer.models import (
    AllocationRun,
    CustomerScore,
    OfferCandidate,
    PromotionRun,
    RecommendationRun,
    ScoringModelVersion,
    ScoringRun,
)
from optimizer.selectors import holdout_table, timings_table
from retailers.admin import RelatedOnly
from retailers.admin_mixins import ReadOnlyScopedAdmin, RetailerScopedAdmin
from retailers.models import Retailer, Role
from retailers.tenancy import has_role, scope_for_user


class ScoringRunStartForm(forms.Form):
    """What an analyst chooses when starting a run (the rest has sensible defaults)."""

    retailer = forms.ModelChoiceField(queryset=Retailer.objects.none())
    as_of = forms.DateField(
        required=False,
        label="As of",
        help_text="Scoring date (YYYY-MM-DD); empty: the day after the latest transaction.",
    )
    horizon_weeks = forms.IntegerField(min_value=1, max_value=52, initial=8)

    def __init__(self, *args: Any, retailers: models.QuerySet[Retailer], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["retailer"]
        assert isinstance(field, forms.ModelChoiceField)  # noqa: S101 - declared above
        field.queryset = retailers
        if retailers.count() == 1:
            field.initial = retailers.first()


@admin.register(ScoringRun)
class ScoringRunAdmin(RetailerScopedAdmin):
    """Runs are started here ("Add scoring run", analysts and up) and never edited by hand."""

    list_display = (
        "id",
        "retailer",
        "as_of",
        "horizon_weeks",
        "status",
        "progress_bar",
        "stage",
        "duration",
        "customers_scored",
        "created_by",
        "created_at",
    )
    list_display_links = ("id", "as_of")
    list_filter = ("status", ("retailer", RelatedOnly))
    list_select_related = ("retailer", "created_by")
    date_hierarchy = "created_at"
    fields = (
        "retailer",
        "as_of",
        "horizon_weeks",
        "status",
        "progress_bar",
        "stage",
        "chunk_progress",
        "customers_scored",
        "created_by",
        "created_at",
        "started_at",
        "finished_at",
        "duration",
        "error",
    )
    readonly_fields = fields
    change_form_template = "admin/optimizer/scoringrun/change_form.html"
    start_template = "admin/optimizer/scoringrun/start.html"

    @admin.display(description="progress")
    def progress_bar(self, run: ScoringRun) -> str:
        return format_html(
            '<progress value="{}" max="100"></progress> {}%', run.progress, run.progress
        )

    @admin.display(description="duration")
    def duration(self, run: ScoringRun) -> str:
        seconds = run.duration_seconds
        return "-" if seconds is None else str(dt.timedelta(seconds=round(seconds)))

    @admin.display(description="chunks")
    def chunk_progress(self, run: ScoringRun) -> str:
        return f"{run.chunks_done} of {run.chunks_total} done"

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # a run is a record: the page is read-only for everyone

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if obj is not None and obj.is_active and not obj.is_abandoned():
            return False  # a worker is on it
        return super().has_delete_permission(request, obj)

    def get_deleted_objects(self, objs: Any, request: HttpRequest) -> tuple:
        """Count the scores instead of listing them (a run may hold a million)."""
        runs = list(objs)
        scores = CustomerScore.objects.filter(run__in=runs).count()
        summary = [str(run) for run in runs]
        counts = {"scoring runs": len(runs), "customer scores": scores}
        return summary, counts, set(), []

    def delete_model(self, request: HttpRequest, obj: ScoringRun) -> None:
        from optimizer.services import scoring_run_delete  # see _scoring_run_create

        scoring_run_delete(run=obj)

    def delete_queryset(self, request: HttpRequest, queryset: models.QuerySet) -> None:
        from optimizer.services import scoring_run_delete  # see _scoring_run_create

        for run in queryset:
            scoring_run_delete(run=run)

    # --- Start a run (the add view) ------------------------------------------------------------

    def _startable_retailers(self, request: HttpRequest) -> models.QuerySet[Retailer]:
        retailers = scope_for_user(Retailer.objects.all(), request.user)
        allowed = [r.pk for r in retailers if has_role(request.user, Role.ANALYST, r)]
        return Retailer.objects.filter(pk__in=allowed)

    def add_view(
        self, request: HttpRequest, form_url: str = "", extra_context: dict | None = None
    ) -> HttpResponse:
        if not self.has_add_permission(request):
            raise PermissionDenied
        retailers = self._startable_retailers(request)
        form = ScoringRunStartForm(request.POST or None, retailers=retailers)
        if request.method == "POST" and form.is_valid():
            try:
                run = _scoring_run_create(
                    retailer=form.cleaned_data["retailer"],
                    as_of=form.cleaned_data["as_of"],
                    horizon_weeks=form.cleaned_data["horizon_weeks"],
                    user=signed_in(request),
                )
            except (ScoringError, ValidationError) as exc:
                form.add_error(None, str(exc) if isinstance(exc, ScoringError) else exc)
            else:
                messages.success(request, f"Scoring run #{run.pk} queued as of {run.as_of}.")
                return HttpResponseRedirect(
                    reverse("admin:optimizer_scoringrun_change", args=[run.pk])
                )
        context = {
            **self.admin_site.each_context(request),
            "title": "Start a scoring run",
            "opts": self.model._meta,
            "form": form,
            "media": self.media + form.media,
            **(extra_context or {}),
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, self.start_template, context)

    # --- The report ------------------------------------------------------------------------------

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict | None = None,
    ) -> HttpResponse:
        run = self.get_object(request, object_id)
        report: dict[str, Any] = {}
        if run is not None:
            report = {
                "holdout_rows": holdout_table(run.metrics),
                "holdout_status": (run.metrics.get("holdout") or {}).get("status"),
                "notes": run.metrics.get("notes", []),
                "response": run.metrics.get("response") or {},
                "timing_rows": timings_table(run.timings),
                "segment_rows": run.segment_profile,
                "chunks": list(run.chunks.order_by("index")),
                "model_version": ScoringModelVersion.objects.filter(run=run).first(),
            }
        return super().change_view(
            request, object_id, form_url, extra_context={**report, **(extra_context or {})}
        )


class RunFilter(admin.SimpleListFilter):
    """The user's latest runs (a filter over the scores table itself would scan millions)."""

    title = "scoring run"
    parameter_name = "run"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        runs = ScoringRun.objects.for_user(request.user).select_related("retailer")[:20]
        return [(str(run.pk), f"#{run.pk} {run.retailer} as of {run.as_of}") for run in runs]

    def queryset(self, request: HttpRequest, queryset: models.QuerySet) -> models.QuerySet:
        value = self.value()
        return queryset.filter(run_id=value) if value and value.isdigit() else queryset


class SegmentFilter(admin.SimpleListFilter):
    """Segment names from the runs' profiles (cheap), not from the scores table."""

    title = "segment"
    parameter_name = "segment"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        runs = ScoringRun.objects.for_user(request.user)
        run_id = request.GET.get(RunFilter.parameter_name)
        if run_id and run_id.isdigit():
            runs = runs.filter(pk=run_id)
        names: set[str] = set()
        for profile in runs.values_list("segment_profile", flat=True)[:20]:
            names.update(row.get("segment", "") for row in profile or [])
        return [(name, name) for name in sorted(names) if name]

    def queryset(self, request: HttpRequest, queryset: models.QuerySet) -> models.QuerySet:
        return queryset.filter(segment=self.value()) if self.value() else queryset


@admin.register(CustomerScore)
class CustomerScoreAdmin(ReadOnlyScopedAdmin):
    list_display = (
        "customer",
        "run",
        "segment",
        "churn_probability",
        "expected_visits",
        "expected_spend",
        "clv",
        "p_alive",
        "reason",
    )
    list_filter = (RunFilter, SegmentFilter)
    search_fields = ("customer__external_id",)
    list_select_related = ("customer", "run")
    show_full_result_count = False
    readonly_fields = (
        "retailer",
        "run",
        "customer",
        "segment",
        "reason",
        "churn_probability",
        "p_alive",
        "expected_visits",
        "expected_spend",
        "clv",
        "responses",
        "recency_days",
        "frequency",
        "frequency_52w",
        "monetary_52w",
        "avg_basket",
        "tenure_days",
        "discount_share",
        "offers_received",
        "offers_redeemed",
        "redemption_rate",
    )
    fields = readonly_fields


@admin.register(ScoringModelVersion)
class ScoringModelVersionAdmin(ReadOnlyScopedAdmin):
    list_display = (
        "run",
        "retailer",
        "short_sha",
        "sklearn_version",
        "training_customers",
        "size_bytes",
        "created_at",
    )
    list_filter = (("retailer", RelatedOnly), "sklearn_version")
    list_select_related = ("run", "retailer")
    readonly_fields = (
        "run",
        "retailer",
        "artifact_path",
        "sha256",
        "size_bytes",
        "sklearn_version",
        "training_customers",
        "feature_names",
        "metrics",
        "created_at",
    )
    fields = readonly_fields

    @admin.display(description="sha256")
    def short_sha(self, version: ScoringModelVersion) -> str:
        return version.sha256[:12]


@admin.register(AllocationRun)
class AllocationRunAdmin(ReadOnlyScopedAdmin):
    """Allocation runs start from the staff pages or ``manage.py allocate``; here they are read."""

    list_display = ("pk", "retailer", "week_start", "budget", "status", "progress", "created_at")
    list_filter = (("retailer", RelatedOnly), "status")
    list_select_related = ("retailer",)
    date_hierarchy = "created_at"
    readonly_fields = (
        "retailer", "scoring_run", "week_start", "budget", "spend_limit", "constraints",
        "control_share", "random_state", "time_limit_seconds", "replaces", "status", "progress",
        "stage", "attempt", "result", "timings", "error", "created_by", "created_at",
        "started_at", "heartbeat_at", "finished_at",
    )  # fmt: skip
    fields = readonly_fields


@admin.register(PromotionRun)
class PromotionRunAdmin(ReadOnlyScopedAdmin):
    """Promotion proposal and backtest runs (started from the pages, the schedule or commands)."""

    list_display = ("pk", "retailer", "kind", "week_start", "trigger", "status", "created_at")
    list_filter = (("retailer", RelatedOnly), "kind", "status", "trigger")
    list_select_related = ("retailer",)
    date_hierarchy = "created_at"
    readonly_fields = (
        "retailer", "kind", "week_start", "options", "trigger", "status", "progress", "stage",
        "attempt", "result", "timings", "error", "created_by", "created_at", "started_at",
        "heartbeat_at", "finished_at",
    )  # fmt: skip
    fields = readonly_fields


def _scoring_run_create(**kwargs: Any) -> ScoringRun:
    """``optimizer.services.scoring_run_create``, imported when first used: the services import
    the scoring engine (scikit-learn, SciPy), about a second of every ``manage.py`` start-up
    (the admin is imported by ``django.setup()``) that commands such as ``import_csv`` never use.
    """
    from optimizer.services import scoring_run_create

    return scoring_run_create(**kwargs)


@admin.register(RecommendationRun)
class RecommendationRunAdmin(ReadOnlyScopedAdmin):
    """Recommendation runs start from the runs page or ``manage.py recommend_offers``."""

    list_display = ("pk", "retailer", "as_of", "status", "progress", "candidates_written")
    list_filter = (("retailer", RelatedOnly), "status")
    list_select_related = ("retailer",)
    readonly_fields = (
        "retailer", "as_of", "top_k", "holdout_weeks", "status", "progress", "stage", "attempt",
        "chunks_total", "chunks_done", "customers_done", "candidates_written", "metrics",
        "timings", "error", "created_by", "created_at", "started_at", "heartbeat_at",
        "finished_at",
    )  # fmt: skip
    fields = readonly_fields


@admin.register(OfferCandidate)
class OfferCandidateAdmin(ReadOnlyScopedAdmin):
    """Offer candidates of the recommendation runs (read only; a run replaces its own)."""

    list_display = ("run", "customer", "rank", "product", "kind", "incremental_value", "reason")
    list_filter = (("retailer", RelatedOnly), "kind")
    list_select_related = ("customer", "product", "run")
    raw_id_fields = ("run", "customer", "product")
    search_fields = ("customer__external_id", "product__sku")
    readonly_fields = (
        "retailer", "run", "customer", "product", "kind", "score", "rank", "incremental_value",
        "reason",
    )  # fmt: skip
    fields = readonly_fields
