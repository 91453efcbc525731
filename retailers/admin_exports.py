"""Admin side of background exports: Export of a big table queues an :class:`ExportJob`, whose
page shows its progress and, when ready, a download link for the retailer's staff only."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, cast

from django.apps import apps
from django.conf import settings
from django.contrib import admin, messages
from django.db import models
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseRedirect,
    QueryDict,
)
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from loyalty_site.users import signed_in
from retailers.admin_mixins import JobProgressColumn, RetailerScopedAdmin
from retailers.export_jobs import export_job_create, export_rows_count
from retailers.models import ExportJob, Retailer
from retailers.tenancy import scope_for_user


def admin_export_queryset(job: ExportJob) -> models.QuerySet:
    """The rows the admin's Export gave ``job``'s creator (same model admin, same list filters),
    of ``job``'s retailer only. Rebuilt with the admin's own code, so scoping and filters match
    the synchronous Export exactly."""
    if job.created_by is None:
        raise ValueError("the user who asked for this export no longer exists")
    # The admin that queued the job is a contract import-export admin with this mixin.
    model_admin = cast(
        BackgroundExportMixin, admin.site._registry[apps.get_model(job.options["admin"])]
    )
    request = HttpRequest()
    request.method = "GET"
    request.GET = QueryDict(job.options.get("query", ""))
    request.user = job.created_by
    return model_admin.get_export_queryset(request).filter(retailer=job.retailer)


class BackgroundExportMixin:
    """For ``ContractImportExportAdmin``: an Export of more than ``EXPORT_SYNC_MAX_ROWS`` rows
    becomes one :class:`ExportJob` per retailer in it, instead of a file built in the request."""

    if TYPE_CHECKING:
        # What the mixin uses of the model admin and of import-export's ExportMixin.
        model: type[models.Model]
        import_kind: ClassVar[str]

        def has_export_permission(self, request: HttpRequest) -> bool: ...
        def get_export_form_class(self) -> Any: ...
        def get_export_formats(self) -> list[Any]: ...
        def get_export_resource_classes(self, request: HttpRequest) -> list[Any]: ...
        def get_export_queryset(self, request: HttpRequest) -> models.QuerySet: ...

    def export_action(self, request: HttpRequest) -> HttpResponse:
        if request.method == "POST" and self.has_export_permission(request):
            queued = self._queue_big_export(request)
            if queued is not None:
                return queued
        return super().export_action(request)  # type: ignore[misc]

    def _queue_big_export(self, request: HttpRequest) -> HttpResponse | None:
        """A redirect to the new job(s) when the export is too big for the request, else None."""
        form = self.get_export_form_class()(
            self.get_export_formats(),
            self.get_export_resource_classes(request),
            data=request.POST,
        )
        if not form.is_valid():
            return None  # the synchronous path shows the form's errors
        queryset = self.get_export_queryset(request)
        limit = settings.EXPORT_SYNC_MAX_ROWS
        if export_rows_count(queryset=queryset, limit=limit) <= limit:
            return None
        options = {"admin": self.model._meta.label_lower, "query": request.GET.urlencode()}
        # One EXISTS per retailer of the user (a few), not a scan of the rows for their retailers.
        mine = scope_for_user(Retailer.objects.all(), request.user)
        retailers = [r for r in mine if queryset.filter(retailer=r).exists()]
        jobs = [
            export_job_create(
                retailer=retailer,
                kind=self.import_kind,
                options=options,
                created_by=signed_in(request),
            )
            for retailer in retailers
        ]
        names = ", ".join(f"#{job.pk} ({job.retailer})" for job in jobs)
        messages.success(
            request,
            f"More than {limit} rows: the file is being written in the background as export job "
            f"{names}; download it from the job's page when it is ready.",
        )
        if len(jobs) == 1:
            return HttpResponseRedirect(
                reverse("admin:retailers_exportjob_change", args=[jobs[0].pk])
            )
        return HttpResponseRedirect(reverse("admin:retailers_exportjob_changelist"))


@admin.register(ExportJob)
class ExportJobAdmin(JobProgressColumn, RetailerScopedAdmin):
    """Background exports: read-only, with progress and the download of the finished file."""

    list_display = (
        "id",
        "kind",
        "retailer",
        "status",
        "progress_bar",
        "download",
        "created_by",
        "created_at",
        "expires_at",
    )
    list_filter = ("status", "kind", ("retailer", admin.RelatedOnlyFieldListFilter))
    list_select_related = ("retailer", "created_by")
    fields = (
        "kind",
        "retailer",
        "status",
        "progress_bar",
        "download",
        "total_rows",
        "processed_rows",
        "error",
        "created_by",
        "created_at",
        "started_at",
        "finished_at",
        "expires_at",
    )
    readonly_fields = fields
    change_form_template = "admin/retailers/importjob/change_form.html"  # reloads while running

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # files are deleted by the daily expiry, with their job's record kept

    def get_urls(self) -> list:
        download = path(
            "<int:object_id>/download/",
            self.admin_site.admin_view(self.download_view),
            name="retailers_exportjob_download",
        )
        return [download, *super().get_urls()]

    def download_view(self, request: HttpRequest, object_id: int) -> FileResponse:
        """The finished file, for staff of the job's retailer; 404 for anyone else, and for a
        job that is not finished or has expired."""
        job = self.get_queryset(request).filter(pk=object_id).first()
        if job is None or not self.has_view_permission(request, job):
            raise Http404("No such export.")
        if not job.is_downloadable(timezone.now()):
            raise Http404("This export is not ready, or has expired.")
        return FileResponse(job.file.open("rb"), as_attachment=True, filename=job.filename)

    @admin.display(description="file")
    def download(self, job: ExportJob) -> str:
        if job.is_downloadable(timezone.now()):
            url = reverse("admin:retailers_exportjob_download", args=[job.pk])
            return format_html(
                '<a href="{}">Download {}</a> ({} rows)', url, job.filename, job.total_rows
            )
        if job.expires_at is not None:
            return "expired"
        return "-"
