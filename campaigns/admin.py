"""Admin of the bonus catalogue and the offer history (offers.csv import/export)."""

from __future__ import annotations

from django.contrib import admin

from campaigns.models import BonusType, PastOffer
from campaigns.resources import PastOfferResource
from retailers.admin import ContractImportExportAdmin, RelatedOnly
from retailers.admin_mixins import RetailerScopedAdmin


@admin.register(BonusType)
class BonusTypeAdmin(RetailerScopedAdmin):
    list_display = ("code", "name", "kind", "is_active", "retailer")
    list_filter = (("retailer", RelatedOnly), "kind", "is_active")
    search_fields = ("code", "name")
    list_select_related = ("retailer",)


@admin.register(PastOffer)
class PastOfferAdmin(ContractImportExportAdmin):
    import_kind = "offers"
    resource_classes = [PastOfferResource]
    list_display = ("external_id", "customer", "bonus_type", "sent_on", "redeemed_on", "retailer")
    list_filter = (("retailer", RelatedOnly), ("bonus_type", RelatedOnly), "sent_on")
    search_fields = ("external_id", "customer__external_id", "bonus_type__code")
    raw_id_fields = ("customer", "bonus_type")
    date_hierarchy = "sent_on"
    list_select_related = ("customer", "bonus_type", "retailer")
