"""Admin of the bonus catalogue and the offer history (offers.csv import/export)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from campaigns.models import (
    ApiToken,
    AuditEntry,
    Bonus,
    BonusType,
    Campaign,
    CampaignOffer,
    Delivery,
    EmailTemplate,
    IdempotencyRecord,
    PastOffer,
    PromotionItem,
    PromotionProposal,
    Redemption,
    SupplierBudget,
)
from campaigns.resources import PastOfferResource
from campaigns.services.tokens import api_token_create, api_token_revoke
from loyalty_site.users import signed_in
from retailers.admin import ContractImportExportAdmin, RelatedOnly
from retailers.admin_mixins import ReadOnlyScopedAdmin, RetailerScopedAdmin
from retailers.models import Role
from retailers.tenancy import has_role


@admin.register(BonusType)
class BonusTypeAdmin(RetailerScopedAdmin):
    list_display = ("code", "name", "kind", "is_active", "retailer")
    list_filter = (("retailer", RelatedOnly), "kind", "is_active")
    search_fields = ("code", "name")
    list_select_related = ("retailer",)


@admin.register(SupplierBudget)
class SupplierBudgetAdmin(RetailerScopedAdmin):
    """What each supplier funds per campaign for product offers (docs/personalised-offers.md)."""

    list_display = ("supplier", "budget", "retailer")
    list_filter = (("retailer", RelatedOnly),)
    search_fields = ("supplier",)
    list_select_related = ("retailer",)


@admin.register(CampaignOffer)
class CampaignOfferAdmin(ReadOnlyScopedAdmin):
    list_display = ("campaign", "customer", "product", "rank", "supplier", "expected_value")
    list_filter = (("retailer", RelatedOnly), "candidate_kind")
    search_fields = ("customer__external_id", "product__sku", "supplier")
    raw_id_fields = ("campaign", "member", "customer", "product", "bonus_type")
    list_select_related = ("campaign", "customer", "product")


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


# --- Rewards: bonuses, redemptions, API tokens, idempotency records, audit log, campaigns ------
@admin.register(Bonus)
class BonusAdmin(ReadOnlyScopedAdmin):
    list_display = ("code", "customer", "bonus_type", "state", "uses", "max_uses", "valid_to")
    list_filter = (("retailer", RelatedOnly), "state", ("bonus_type", RelatedOnly))
    search_fields = ("code", "customer__external_id")
    raw_id_fields = ("campaign", "member", "offer", "product", "customer", "bonus_type")
    list_select_related = ("customer", "bonus_type")
    date_hierarchy = "valid_to"


@admin.register(Redemption)
class RedemptionAdmin(ReadOnlyScopedAdmin):
    list_display = ("bonus", "use_no", "cost", "basket_amount", "store", "redeemed_at")
    list_filter = (("retailer", RelatedOnly),)
    search_fields = ("bonus__code", "bonus__customer__external_id")
    raw_id_fields = ("bonus", "transaction", "store", "api_token")
    list_select_related = ("bonus", "store")
    date_hierarchy = "redeemed_at"


@admin.register(ApiToken)
class ApiTokenAdmin(RetailerScopedAdmin):
    """Create a till's token (the key is shown once, then only its hash exists) and revoke it."""

    role_required = {**RetailerScopedAdmin.role_required, "add": Role.ADMIN, "change": Role.ADMIN}
    list_display = ("name", "prefix", "retailer", "created_at", "last_used_at", "revoked_at")
    list_filter = (("retailer", RelatedOnly), ("revoked_at", admin.EmptyFieldListFilter))
    search_fields = ("name", "prefix")
    fields = (
        "retailer",
        "name",
        "prefix",
        "created_by",
        "created_at",
        "last_used_at",
        "revoked_at",
    )
    readonly_fields = ("prefix", "created_by", "created_at", "last_used_at", "revoked_at")
    actions = ["revoke"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        return (*self.readonly_fields, "retailer") if obj else self.readonly_fields

    def save_model(self, request: HttpRequest, obj: ApiToken, form: Any, change: bool) -> None:
        if change:
            obj.save(update_fields=["name"])
            return
        new = api_token_create(retailer=obj.retailer, name=obj.name, actor=signed_in(request))
        obj.pk, obj.prefix, obj.key_hash = new.token.pk, new.token.prefix, new.token.key_hash
        obj._state.adding = False
        messages.warning(
            request,
            f"API key for {obj.name}: {new.key} - copy it now, it will not be shown again. "
            f"Send it as 'Authorization: Token {new.key}'.",
        )

    @admin.action(description="Revoke the selected API tokens")
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiToken]) -> None:
        count = 0
        for token in queryset:
            if has_role(request.user, Role.ADMIN, token.retailer_id):
                api_token_revoke(token=token, actor=signed_in(request))
                count += 1
        self.message_user(request, f"{count} token(s) revoked.")


@admin.register(IdempotencyRecord)
class IdempotencyRecordAdmin(ReadOnlyScopedAdmin):
    list_display = ("endpoint", "key", "status_code", "created_at", "retailer")
    list_filter = (("retailer", RelatedOnly), "endpoint", "status_code")
    search_fields = ("key",)
    date_hierarchy = "created_at"


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyScopedAdmin):
    list_display = (
        "created_at",
        "action",
        "content_type",
        "object_id",
        "from_state",
        "to_state",
        "actor_label",
        "retailer",
    )
    list_filter = (("retailer", RelatedOnly), "action", "content_type")
    search_fields = ("actor_label", "comment", "object_id")
    date_hierarchy = "created_at"
    list_select_related = ("content_type", "retailer")


@admin.register(Campaign)
class CampaignAdmin(ReadOnlyScopedAdmin):
    """Campaigns are decided on the staff pages; the admin shows them (state changes audited)."""

    list_display = ("name", "state", "week_start", "budget", "spend_limit", "spent", "retailer")
    list_filter = (("retailer", RelatedOnly), "state")
    search_fields = ("name",)
    date_hierarchy = "week_start"
    raw_id_fields = ("allocation_run",)


# --- Weekly promotion proposals (decided on the staff pages; read-only here) --------------------
class PromotionItemInline(admin.TabularInline):
    model = PromotionItem
    extra = 0
    can_delete = False
    fields = (
        "rank",
        "product",
        "pinned",
        "baseline_units",
        "promoted_units",
        "lift",
        "incremental_margin",
        "discount_cost",
        "stock_cover",
        "competitor_gap",
        "reach",
        "reason",
    )
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(PromotionProposal)
class PromotionProposalAdmin(ReadOnlyScopedAdmin):
    list_display = ("week_start", "state", "retailer", "created_by", "decided_by", "created_at")
    list_filter = (("retailer", RelatedOnly), "state")
    date_hierarchy = "week_start"
    raw_id_fields = ("promotion_run",)
    list_select_related = ("retailer", "created_by", "decided_by")
    inlines = [PromotionItemInline]


# --- Offer e-mails: each retailer's template (its admins edit it) and the delivery rows --------
@admin.register(EmailTemplate)
class EmailTemplateAdmin(RetailerScopedAdmin):
    """The retailer's offer e-mail; the variables are listed in docs/delivery.md and checked on
    save (a template that does not compile is refused, naming the field)."""

    role_required = {**RetailerScopedAdmin.role_required, "add": Role.ADMIN, "change": Role.ADMIN}
    list_display = ("retailer", "subject", "from_email", "per_minute", "updated_at")
    list_filter = (("retailer", RelatedOnly),)
    list_select_related = ("retailer",)


@admin.register(Delivery)
class DeliveryAdmin(ReadOnlyScopedAdmin):
    list_display = ("bonus", "customer", "state", "send_on", "attempts", "sent_at", "retailer")
    list_filter = (("retailer", RelatedOnly), "state", "send_on")
    search_fields = ("bonus__code", "customer__external_id", "message_id")
    raw_id_fields = ("bonus", "campaign", "customer", "portal_link")
    list_select_related = ("bonus", "customer", "retailer")
    date_hierarchy = "send_on"
