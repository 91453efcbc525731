"""P(redeem) of a personalised product offer per candidate kind: fitted from the retailer's own
resolved product offers where there are enough of them, else the prior.

A kind is *fitted* once it has :data:`MIN_RESOLVED_OFFERS` resolved offers (redeemed or
expired): its rate is ``redeemed / resolved``. Fewer, and the kind keeps its prior
(:data:`REDEEM_PRIORS`), because a rate from a handful of offers moves more with chance than
with the customers. The table says which was used, so the campaign page can say it too.
"""

from __future__ import annotations

from typing import Any

from campaigns.selectors import product_offer_outcomes
from retailers.models import Retailer

#: P(the customer uses the offer) by candidate kind, until product offers have redemption
#: history to fit it on: a regular item is bought far more often than a new one.
REDEEM_PRIORS = {"buy_again": 0.35, "try": 0.10, "popular": 0.06}
#: Resolved offers of a kind before its own redemption rate replaces the prior.
MIN_RESOLVED_OFFERS = 50


def redeem_probabilities(*, retailer: Retailer) -> dict[str, dict[str, Any]]:
    """Per candidate kind: ``{"p", "source": "fitted" | "prior", "resolved", "redeemed"}``."""
    outcomes = product_offer_outcomes(retailer=retailer)
    table: dict[str, dict[str, Any]] = {}
    for kind, prior in REDEEM_PRIORS.items():
        resolved, redeemed = outcomes.get(kind, (0, 0))
        fitted = resolved >= MIN_RESOLVED_OFFERS
        table[kind] = {
            "p": round(redeemed / resolved, 4) if fitted else prior,
            "source": "fitted" if fitted else "prior",
            "resolved": resolved,
            "redeemed": redeemed,
        }
    return table
