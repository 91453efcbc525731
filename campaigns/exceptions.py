"""Domain errors of the campaigns app; the API and pages turn them into clear answers.

Each class is one answer (``code``, HTTP ``status``) of the one error model,
:class:`loyalty_site.errors.ApplicationError`.
"""

from __future__ import annotations

from loyalty_site.errors import ApplicationError


class CampaignError(ApplicationError):
    """Base class of the campaign errors a person can act on."""

    code = "campaign_error"
    status = 409


class TransitionNotAllowed(CampaignError):
    """The object is not in a state from which this transition is possible."""

    code = "transition_not_allowed"
    status = 409


class ApprovalForbidden(CampaignError):
    """The actor may not take this decision (role too low, or four eyes require someone else)."""

    code = "forbidden"
    status = 403


class ProposalInvalid(CampaignError):
    """An independent re-check found the proposal breaking its budget or caps."""

    code = "proposal_invalid"
    status = 400


class GapAboveTolerance(CampaignError):
    """The proposal's gap to the best possible value exceeds the retailer's tolerance: approving
    it needs an explicit confirmation."""

    code = "gap_above_tolerance"
    status = 409


# --- Redemption at the till: each answer tells the till why -------------------------------------
class RedemptionError(CampaignError):
    """A bonus cannot be redeemed."""

    code = "not_redeemable"
    status = 409


class BonusNotFound(RedemptionError):
    """No such bonus for this customer."""

    code = "not_found"
    status = 404


class AlreadyRedeemed(RedemptionError):
    """The bonus has no use left."""

    code = "already_redeemed"


class BonusExpired(RedemptionError):
    """The bonus is past its validity."""

    code = "expired"
    status = 410


class BonusNotYetValid(RedemptionError):
    """The bonus is not valid yet."""

    code = "not_yet_valid"


class BonusCancelled(RedemptionError):
    """The bonus was cancelled."""

    code = "cancelled"


class ProductNotInBasket(RedemptionError):
    """A product offer is redeemed only on a basket containing its product."""

    code = "product_not_in_basket"
    status = 422


class BudgetExhausted(RedemptionError):
    """The campaign's budget cannot pay for this redemption."""

    code = "budget_exhausted"


# --- The POS API's Idempotency-Key ---------------------------------------------------------------
class IdempotencyKeyMissing(ApplicationError):
    """The request has no usable Idempotency-Key header."""

    code = "idempotency_key_required"
    status = 400


class IdempotencyKeyReused(ApplicationError):
    """The Idempotency-Key was already used with a different request body."""

    code = "idempotency_key_reused"
    status = 422
