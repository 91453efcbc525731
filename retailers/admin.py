"""Admin of the retailers app, and the CSV import/export base every contract admin uses."""

from __future__ import annotations

from typing import Any, ClassVar

from django.conf import settings
from django.contrib import admin, messages
from django.db import models
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from import_export.admin import ImportExportMixin
from import_export.formats import base_formats
from import_export.forms import ExportForm

from loyalty_site import safe_csv
from loyalty_site.users import signed_in
from retailers.admin_exports import BackgroundExportMixin
from retailers.admin_mixins import JobProgressColumn, RetailerScopedAdmin, TenancyFormsMixin
from retailers.csvio import inspect_csv, read_csv
from retailers.exceptions import NOTHING_NEW, ImportRejected
from retailers.forms import RetailerConfirmImportForm, RetailerImportForm
from retailers.models import (
    CompetitorPrice,
    ImportJob,
    InventoryLevel,
    Membership,
    Product,
    PromotionHistory,
    Retailer,
    Role,
    Store,
)
from retailers.resources import (
    CompetitorPriceResource,
    InventoryResource,
    ProductResource,
    StoreResource,
)
from retailers.services import header_check, import_job_create
from retailers.tenancy import has_role, retailer_ids_for_user, scope_for_user

RelatedOnly = admin.RelatedOnlyFieldListFilter


class ContractCSV(base_formats.CSV):
    """The contract's CSV: read as bytes so that encoding problems are reported with their row,
    written by the platform's one safe CSV writer (formulas neutralised)."""

    def is_binary(self) -> bool:
        return True

    def get_read_mode(self) -> str:
        return "rb"

    def create_dataset(self, in_stream: bytes | str, **kwargs: Any) -> Any:
        return read_csv([in_stream if isinstance(in_stream, bytes) else in_stream.encode()])

    def export_data(self, dataset: Any, **kwargs: Any) -> str:
        return safe_csv.dataset_text(dataset.headers, dataset)


class ContractImportExportAdmin(BackgroundExportMixin, ImportExportMixin, RetailerScopedAdmin):
    """Import (upload, preview, confirm) and export of one contract CSV file.

    Rows go into the retailer picked on the upload form, among the user's own retailers. Files
    above ``settings.IMPORT_SYNC_MAX_ROWS`` data rows become a background :class:`ImportJob`, and
    exports of more than ``settings.EXPORT_SYNC_MAX_ROWS`` rows a background :class:`ExportJob`.
    """

    import_kind: ClassVar[str]
    import_form_class = RetailerImportForm
    confirm_form_class = RetailerConfirmImportForm
    export_form_class = ExportForm
    import_template_name = "admin/retailers/import.html"
    import_formats: ClassVar[list] = [ContractCSV]
    export_formats: ClassVar[list] = [ContractCSV]

    def _retailers(self, request: HttpRequest) -> models.QuerySet[Retailer]:
        """Retailers the user may import into: an import adds and changes rows."""
        role = max(self.role_required["add"], self.role_required["change"], key=Role.rank)
        return scope_for_user(Retailer.objects.all(), request.user, role=role)

    def has_import_permission(self, request: HttpRequest) -> bool:
        return self.has_add_permission(request) and self.has_change_permission(request)

    def has_export_permission(self, request: HttpRequest) -> bool:
        return self.has_view_permission(request)

    def get_import_form_kwargs(self, request: HttpRequest) -> dict[str, Any]:
        return {**super().get_import_form_kwargs(request), "retailers": self._retailers(request)}

    def get_confirm_form_kwargs(self, request: HttpRequest, import_form: Any = None) -> dict:
        kwargs = super().get_confirm_form_kwargs(request, import_form)
        return {**kwargs, "retailers": self._retailers(request)}

    def get_confirm_form_initial(self, request: HttpRequest, import_form: Any) -> dict[str, Any]:
        initial = super().get_confirm_form_initial(request, import_form)
        if import_form is not None:
            initial["retailer"] = import_form.cleaned_data["retailer"].pk
        return initial

    def get_import_resource_kwargs(self, request: HttpRequest, **kwargs: Any) -> dict[str, Any]:
        cleaned = getattr(kwargs.get("form"), "cleaned_data", None) or {}
        return {"retailer": cleaned.get("retailer")}

    def get_import_data_kwargs(self, **kwargs: Any) -> dict[str, Any]:
        # The confirm step must be all or nothing too (the preview rolls back anyway).
        return {**super().get_import_data_kwargs(**kwargs), "rollback_on_validation_errors": True}

    def get_import_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_import_context_data(**kwargs)
        return {**context, "sync_max_rows": settings.IMPORT_SYNC_MAX_ROWS}

    def add_data_read_fail_error_to_form(self, form: Any, e: Exception) -> None:
        if isinstance(e, ImportRejected):
            form.add_error("import_file", [str(error) for error in e.errors])
        else:
            super().add_data_read_fail_error_to_form(form, e)

    def import_action(self, request: HttpRequest, **kwargs: Any) -> HttpResponse:
        if request.method == "POST" and self.has_import_permission(request):
            form = self.create_import_form(request)
            if form.is_valid():
                queued = self._queue_big_file(request, form)
                if queued is not None:
                    return queued
        return super().import_action(request, **kwargs)

    def _nothing_new(self, request: HttpRequest, name: str, headers: list[str]) -> HttpResponse:
        """A header-only file imports nothing: say so and go back to the list (no preview).

        Its header is still checked: wrong columns are listed and the upload form shown again.
        """
        try:
            header_check(kind=self.import_kind, headers=headers)
        except ImportRejected as exc:
            for error in exc.errors:
                messages.error(request, str(error))
            return HttpResponseRedirect(request.get_full_path())
        messages.info(request, f"{name}: {NOTHING_NEW} (0 rows imported).")
        opts = self.model._meta
        return HttpResponseRedirect(reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist"))

    def _queue_big_file(self, request: HttpRequest, form: Any) -> HttpResponse | None:
        """A redirect to the new ImportJob when the file is too big for the request, else None."""
        upload = form.cleaned_data["import_file"]
        try:
            info = inspect_csv(upload.chunks())
        except ImportRejected:
            return None  # the synchronous path shows the problem on the form
        if info.data_rows == 0:
            return self._nothing_new(request, upload.name, info.headers)
        if info.data_rows <= settings.IMPORT_SYNC_MAX_ROWS:
            return None
        try:
            job = import_job_create(
                retailer=form.cleaned_data["retailer"],
                kind=self.import_kind,
                upload=upload,
                created_by=signed_in(request),
            )
        except ImportRejected as exc:
            for error in exc.errors:
                messages.error(request, str(error))
            return HttpResponseRedirect(request.get_full_path())
        messages.success(
            request, f"{info.data_rows} rows: importing in the background as job #{job.pk}."
        )
        return HttpResponseRedirect(reverse("admin:retailers_importjob_change", args=[job.pk]))

    def process_result(self, result: Any, request: HttpRequest) -> HttpResponse:
        if result.has_errors() or result.has_validation_errors():
            return self._rejected_response(request, result)
        return super().process_result(result, request)

    def _rejected_response(self, request: HttpRequest, result: Any) -> HttpResponse:
        """The import page listing why the confirmed file was rejected (nothing was written)."""
        form = self.get_import_form_class(request)(
            self.get_import_formats(),
            self.get_import_resource_classes(request),
            retailers=self._retailers(request),
        )
        context = {
            **self.get_import_context_data(),
            **self.admin_site.each_context(request),
            "title": "Import",
            "form": form,
            "opts": self.model._meta,
            "media": self.media + form.media,
            "result": result,
            "fields_list": [],
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, [self.import_template_name], context)

    def add_success_message(self, result: Any, request: HttpRequest) -> None:
        totals = result.totals
        messages.success(
            request,
            f"Import finished: {totals['new']} new, {totals['update']} updated and "
            f"{totals['skip']} skipped (unchanged or already stored) of {result.total_rows} rows.",
        )

    def get_export_filename(self, request: HttpRequest, queryset: Any, file_format: Any) -> str:
        return f"{self.import_kind}.csv"


def _staff(request: HttpRequest) -> bool:
    """An active staff user (the admin's own gate)."""
    return bool(request.user.is_active and request.user.is_staff)


@admin.register(Retailer)
class RetailerAdmin(admin.ModelAdmin):
    """Superusers manage every retailer; staff see (and may edit) only their own."""

    list_display = ("slug", "name", "currency", "time_zone", "is_demo", "created_at")
    list_filter = ("is_demo", "currency")
    search_fields = ("slug", "name")
    fieldsets = (
        (None, {"fields": ("slug", "name", "currency", "locale", "time_zone", "is_demo")}),
        ("Campaigns", {"fields": ("gross_margin_rate", "four_eyes", "contact_limit",
                                  "contact_window_weeks", "week_start_day",
                                  "allocation_rules", "gap_tolerance")}),
        ("Points", {"fields": ("points_per_currency_unit", "point_value",
                               "points_validity_days")}),
        ("Weekly promotions", {"fields": ("promotion_weekday", "promotion_hour",
                                          "excluded_categories")}),
        ("Till limits", {"fields": ("till_max_line_amount", "till_max_basket_total",
                                    "till_max_points_per_basket", "till_max_age_days",
                                    "till_max_future_minutes")}),
    )  # fmt: skip

    def get_queryset(self, request: HttpRequest) -> models.QuerySet:
        return scope_for_user(super().get_queryset(request), request.user)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        return () if request.user.is_superuser else ("slug", "is_demo")

    # By role, not Django's model permissions: every member sees their retailers' settings, a
    # retailer's admins edit them (the demo's ``demo-admin`` has no model permission at all).
    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return _staff(request) and has_role(request.user, Role.VIEWER, obj)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return _staff(request) and has_role(request.user, Role.ADMIN, obj)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return request.user.is_superuser and super().has_add_permission(request)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.is_superuser and super().has_delete_permission(request, obj)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return _staff(request) and retailer_ids_for_user(request.user) != []


@admin.register(Membership)
class MembershipAdmin(TenancyFormsMixin, admin.ModelAdmin):
    """Memberships of the user's retailers; only a retailer's admins (or superusers) edit them.

    The user picked must belong to one of those retailers already or to none yet: a user of other
    retailers only is theirs (a superuser adds such a user).
    """

    role_required = {**TenancyFormsMixin.role_required, "add": Role.ADMIN, "change": Role.ADMIN}

    list_display = ("user", "retailer", "role", "created_at")
    list_filter = ("role", ("retailer", RelatedOnly))
    search_fields = ("user__username", "user__email", "retailer__slug", "retailer__name")
    raw_id_fields = ("user",)
    list_select_related = ("user", "retailer")

    def get_queryset(self, request: HttpRequest) -> models.QuerySet:
        ids = retailer_ids_for_user(request.user)
        queryset = super().get_queryset(request)
        return queryset if ids is None else queryset.filter(retailer_id__in=ids)

    def _managed(self, request: HttpRequest) -> set[int] | None:
        """Retailers whose memberships the user manages (``None``: all, for superusers)."""
        if request.user.is_superuser:
            return None
        mine = Membership.objects.filter(user=signed_in(request), role=Role.ADMIN)
        return set(mine.values_list("retailer_id", flat=True))

    def _manages(self, request: HttpRequest, obj: Membership | None) -> bool:
        managed = self._managed(request)
        return managed is None or (bool(managed) if obj is None else obj.retailer_id in managed)

    # By role, not Django's model permissions (see RetailerAdmin): members see the
    # memberships of their retailers; a retailer's admins add, change and delete them.
    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return _staff(request) and has_role(
            request.user, Role.VIEWER, getattr(obj, "retailer_id", None)
        )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return _staff(request) and self._manages(request, None)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return _staff(request) and self._manages(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return _staff(request) and self._manages(request, obj)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return _staff(request) and retailer_ids_for_user(request.user) != []

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        managed = self._managed(request)
        if db_field.name == "retailer" and managed is not None:
            kwargs["queryset"] = Retailer.objects.filter(pk__in=managed)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


@admin.register(Store)
class StoreAdmin(ContractImportExportAdmin):
    import_kind = "stores"
    resource_classes = [StoreResource]
    list_display = ("external_id", "name", "region", "retailer")
    list_filter = (("retailer", RelatedOnly), "region")
    search_fields = ("external_id", "name", "region")
    list_select_related = ("retailer",)


@admin.register(Product)
class ProductAdmin(ContractImportExportAdmin):
    import_kind = "products"
    resource_classes = [ProductResource]
    list_display = ("sku", "name", "category", "brand", "unit_cost", "price", "retailer")
    list_filter = (("retailer", RelatedOnly),)
    search_fields = ("sku", "name", "category", "brand")
    list_select_related = ("retailer",)


@admin.register(InventoryLevel)
class InventoryLevelAdmin(ContractImportExportAdmin):
    import_kind = "inventory"
    resource_classes = [InventoryResource]
    list_display = ("product", "store", "date", "on_hand", "is_synthetic", "retailer")
    list_filter = (("retailer", RelatedOnly), "is_synthetic", "date")
    search_fields = ("product__sku", "product__name", "store__external_id")
    raw_id_fields = ("product", "store")
    list_select_related = ("product", "store", "retailer")


@admin.register(CompetitorPrice)
class CompetitorPriceAdmin(ContractImportExportAdmin):
    import_kind = "competitor_prices"
    resource_classes = [CompetitorPriceResource]
    list_display = ("product", "competitor", "date", "price", "is_synthetic", "retailer")
    list_filter = (("retailer", RelatedOnly), "competitor", "is_synthetic")
    search_fields = ("product__sku", "product__name", "competitor")
    raw_id_fields = ("product",)
    list_select_related = ("product", "retailer")


@admin.register(PromotionHistory)
class PromotionHistoryAdmin(RetailerScopedAdmin):
    list_display = ("product", "week_start", "display_stores", "mailer_stores", "retailer")
    list_filter = (("retailer", RelatedOnly), "week_start")
    search_fields = ("product__sku", "product__name")
    raw_id_fields = ("product",)
    list_select_related = ("product", "retailer")


@admin.register(ImportJob)
class ImportJobAdmin(JobProgressColumn, RetailerScopedAdmin):
    """Background imports: read-only, with progress and the rejected rows."""

    list_display = (
        "id",
        "kind",
        "original_name",
        "retailer",
        "status",
        "progress_bar",
        "total_rows",
        "created_by",
        "created_at",
        "finished_at",
    )
    list_filter = ("status", "kind", ("retailer", RelatedOnly))
    search_fields = ("original_name",)
    list_select_related = ("retailer", "created_by")
    fields = (
        "kind",
        "original_name",
        "retailer",
        "status",
        "progress_bar",
        "stage",
        "error",
        "total_rows",
        "processed_rows",
        "summary_display",
        "error_list",
        "created_by",
        "created_at",
        "started_at",
        "heartbeat_at",
        "finished_at",
    )
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="summary")
    def summary_display(self, job: ImportJob) -> str:
        return ", ".join(f"{key}: {value}" for key, value in job.summary.items()) or "-"

    @admin.display(description="errors")
    def error_list(self, job: ImportJob) -> str:
        if not job.errors:
            return "-"
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            ((e.get("row") or "", e.get("column") or "", e.get("message", "")) for e in job.errors),
        )
        return format_html(
            "<table><thead><tr><th>row</th><th>column</th><th>reason</th></tr></thead>"
            "<tbody>{}</tbody></table>",
            rows,
        )


# The webhooks' admins live in their own module; importing it registers them.
from retailers import admin_webhooks  # noqa: E402, F401
