"""Admin of customers and baskets, with CSV import/export (customers.csv, transactions.csv)."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db import models
from django.http import HttpRequest, HttpResponse

from customers.models import (
    MAX_POINTS_BALANCE,
    Customer,
    PointsEntry,
    PortalAccess,
    Transaction,
    TransactionLine,
)
from customers.resources import CustomerResource, TransactionLineResource
from customers.services.points import points_adjust, points_summary
from customers.services.portal import portal_link_create, portal_link_revoke
from customers.services.privacy import customer_anonymise, customer_export, customers_export_zip
from loyalty_site.users import signed_in
from retailers.admin import ContractImportExportAdmin, RelatedOnly
from retailers.admin_mixins import RetailerScopedAdmin
from retailers.models import Role
from retailers.tenancy import has_role


@admin.register(Customer)
class CustomerAdmin(ContractImportExportAdmin):
    import_kind = "customers"
    resource_classes = [CustomerResource]
    list_display = (
        "external_id",
        "enrolled_on",
        "age_band",
        "income_band",
        "household_size",
        "marketing_consent",
        "retailer",
    )
    list_filter = (("retailer", RelatedOnly), "marketing_consent", "age_band", "income_band")
    search_fields = ("external_id", "email")
    list_select_related = ("retailer",)


class TransactionLineInline(admin.TabularInline):
    """The basket's lines, read-only (they come from imports and the POS)."""

    model = TransactionLine
    fields = ("line_no", "product", "quantity", "amount", "discount")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_queryset(self, request: HttpRequest) -> models.QuerySet:
        return super().get_queryset(request).select_related("product")


@admin.register(Transaction)
class TransactionAdmin(ContractImportExportAdmin):
    """Baskets; transactions.csv has one row per line, so imports and exports are of lines."""

    import_kind = "transactions"
    resource_classes = [TransactionLineResource]
    list_display = ("external_id", "timestamp", "customer", "store", "retailer")
    list_filter = (("retailer", RelatedOnly), ("store", RelatedOnly))
    search_fields = ("external_id", "customer__external_id")
    raw_id_fields = ("customer", "store")
    date_hierarchy = "timestamp"
    list_select_related = ("customer", "store", "retailer")
    inlines = [TransactionLineInline]

    def get_export_queryset(self, request: HttpRequest) -> models.QuerySet:
        baskets = super().get_export_queryset(request)
        lines = TransactionLine.objects.filter(transaction__in=baskets.values("pk"))
        return lines.order_by("transaction__timestamp", "transaction_id", "line_no")


# --- Points ledger, portal links and data-subject requests ------------------------------------
class PointsAdjustmentForm(forms.ModelForm):
    """Staff's manual correction: customer, signed points and a mandatory reason."""

    class Meta:
        model = PointsEntry
        fields = ("customer", "points", "reason")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if "reason" in self.fields:  # the change page (entries are never edited) has no fields
            self.fields["reason"].required = True
            self.fields["points"].help_text = "Positive to credit, negative to debit."

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        customer, points = data.get("customer"), data.get("points")
        if points == 0:
            self.add_error("points", "Enter a non-zero number of points.")
        elif customer is not None and points is not None:
            balance = points_summary(customer=customer).balance
            if balance + points < 0:
                self.add_error("points", f"The customer has only {balance} points.")
            elif balance + points > MAX_POINTS_BALANCE:
                self.add_error("points", f"A balance is at most {MAX_POINTS_BALANCE} points.")
        return data


@admin.register(PointsEntry)
class PointsEntryAdmin(RetailerScopedAdmin):
    """The append-only ledger. Entries are never edited or deleted; *Add* records a manual
    adjustment with a reason (through ``points_adjust``, which appends to the chain)."""

    list_display = (
        "customer",
        "seq",
        "kind",
        "points",
        "balance_after",
        "expires_on",
        "created_at",
    )
    list_filter = (("retailer", RelatedOnly), "kind")
    search_fields = ("customer__external_id", "reason")
    raw_id_fields = ("customer", "transaction", "bonus", "created_by")
    list_select_related = ("customer",)
    form = PointsAdjustmentForm

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: PointsEntry, form: Any, change: bool) -> None:
        entry = points_adjust(
            customer=obj.customer, points=obj.points, reason=obj.reason, actor=signed_in(request)
        )
        obj.pk, obj.retailer_id, obj.seq = entry.pk, entry.retailer_id, entry.seq
        obj.balance_after = entry.balance_after
        obj._state.adding = False


@admin.register(PortalAccess)
class PortalAccessAdmin(RetailerScopedAdmin):
    """Create a customer's secret portal link (shown once) and revoke links."""

    list_display = ("customer", "created_at", "expires_at", "revoked_at", "last_used_at")
    list_filter = (("retailer", RelatedOnly), ("revoked_at", admin.EmptyFieldListFilter))
    search_fields = ("customer__external_id",)
    # The customer is looked up by its own id (typing 2042 finds customer 2042), never by the
    # internal key a raw-id box takes (which linked 2042 to another customer).
    autocomplete_fields = ("customer",)
    fields = ("customer", "created_by", "created_at", "expires_at", "revoked_at", "last_used_at")
    readonly_fields = ("created_by", "created_at", "expires_at", "revoked_at", "last_used_at")
    actions = ["revoke"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        return (*self.readonly_fields, "customer") if obj else self.readonly_fields

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False if obj is not None else super().has_change_permission(request, obj)

    def save_model(self, request: HttpRequest, obj: PortalAccess, form: Any, change: bool) -> None:
        new = portal_link_create(customer=obj.customer, actor=signed_in(request))
        obj.pk, obj.retailer_id = new.access.pk, new.access.retailer_id
        obj.token_hash, obj.expires_at = new.access.token_hash, new.access.expires_at
        obj._state.adding = False
        messages.warning(
            request,
            f"Portal link for {obj.customer}: {request.build_absolute_uri(new.path)} - copy it "
            "now and send it to the customer; it will not be shown again.",
        )

    @admin.action(description="Revoke the selected portal links")
    def revoke(self, request: HttpRequest, queryset: models.QuerySet) -> None:
        for access in queryset:
            portal_link_revoke(access=access, actor=signed_in(request))
        self.message_user(request, f"{queryset.count()} link(s) revoked.")


@admin.action(
    description="Export all data held about the selected customers (JSON)",
    permissions=["view"],  # reads only: any role at the customers' retailer may run it
)
def export_personal_data(
    modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: models.QuerySet
) -> HttpResponse:
    customers = list(queryset.select_related("retailer")[:200])
    if len(customers) == 1:
        payload = json.dumps(customer_export(customer=customers[0]), indent=2)
        response = HttpResponse(payload, content_type="application/json")
        name = f"customer-{customers[0].pk}.json"
    else:
        response = HttpResponse(
            customers_export_zip(customers=customers), content_type="application/zip"
        )
        name = "customers-export.zip"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@admin.action(description="Anonymise the selected customers (keeps transactions and totals)")
def anonymise(
    modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: models.QuerySet
) -> None:
    done = 0
    for customer in queryset:
        if has_role(request.user, Role.ADMIN, customer.retailer_id):
            customer_anonymise(customer=customer, actor=signed_in(request))
            done += 1
    modeladmin.message_user(request, f"{done} customer(s) anonymised (admins only).")


# django-stubs declares ``actions`` on the generic ModelAdmin only; setting it on the class is
# what Django documents.
CustomerAdmin.actions = [*(CustomerAdmin.actions or []), export_personal_data, anonymise]  # type: ignore[misc]
