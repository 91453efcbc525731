"""Campaign models: the bonus catalogue, campaigns, issued rewards, promotions and the audit log.

One module per concern; everything is re-exported here so ``from campaigns.models import X``
keeps working.
"""

from campaigns.models.audit import AuditAction, AuditEntry
from campaigns.models.campaign import Campaign, CampaignMember, CampaignOffer, CampaignState
from campaigns.models.catalogue import BonusKind, BonusType, PastOffer, SupplierBudget
from campaigns.models.delivery import Delivery, DeliveryState, EmailTemplate
from campaigns.models.promotions import (
    CURRENT_PROPOSAL_STATES,
    PromotionItem,
    PromotionProposal,
    ProposalState,
)
from campaigns.models.rewards import ApiToken, Bonus, BonusState, IdempotencyRecord, Redemption

__all__ = [
    "CURRENT_PROPOSAL_STATES",
    "ApiToken",
    "AuditAction",
    "AuditEntry",
    "Bonus",
    "BonusKind",
    "BonusState",
    "BonusType",
    "Campaign",
    "CampaignMember",
    "CampaignOffer",
    "CampaignState",
    "Delivery",
    "DeliveryState",
    "EmailTemplate",
    "IdempotencyRecord",
    "PastOffer",
    "PromotionItem",
    "PromotionProposal",
    "ProposalState",
    "Redemption",
    "SupplierBudget",
]
