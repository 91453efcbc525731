"""Admin of customers and baskets, with CSV import/export (customers.csv, transactions.csv)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db import models
from django.http import HttpRequest

from customers.models import Customer, Transaction, TransactionLine
from customers.resources import CustomerResource, TransactionLineResource
from retailers.admin import ContractImportExportAdmin, RelatedOnly


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
