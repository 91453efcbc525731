"""The ``points.changed`` webhook event (payload in docs/webhooks.md).

Called with one line from the points ledger's append, inside its transaction, so every earn,
bonus credit, redemption, expiry, adjustment and claw-back is reported exactly when it commits.
"""

from __future__ import annotations

from customers.models import Customer, PointsEntry
from retailers.webhook_models import WebhookEventType
from retailers.webhooks import event_emit


def points_changed_emit(entry: PointsEntry, customer: Customer) -> PointsEntry:
    """Emit ``points.changed`` for the new ledger ``entry`` of ``customer``; returns ``entry``."""
    data = {
        "customer": customer.external_id,
        "seq": entry.seq,
        "kind": entry.kind,
        "points": entry.points,
        "balance_after": entry.balance_after,
        "expires_on": entry.expires_on,
        "transaction": entry.transaction_id,
        "bonus": entry.bonus_id,
        "reason": entry.reason,
    }
    event_emit(retailer_id=entry.retailer_id, type=WebhookEventType.POINTS_CHANGED, data=data)
    return entry
