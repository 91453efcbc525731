"""The timing rule: when an allocated bonus is sent and until when it is valid.

Objective: a bonus should be in the customer's hands shortly before they would decide to shop,
and an at-risk customer should feel urgency. The campaign week is ``week_start`` .. ``week_start
+ 6`` (offsets 0..6); every send date and expiry lies inside it.

Rule (offsets in days from ``week_start``; ``expires`` is the last valid day, inclusive):

1. Predicted next visit: ``gap - days_since_last_visit`` clipped at 0 (overdue = any day now),
   where ``gap`` is ``usual_gap_days`` if known and positive, else ``7 * horizon_weeks /
   expected_visits``; no usable gap at all means "unknown", treated as 0 (send at week start).
   ``days_since_last_visit`` is counted at ``week_start``.
2. At risk (``churn_probability >= urgent_churn``): ``send = 0`` and a short, time-limited
   validity: ``expires = min(min(validity_days, urgent_validity_days) - 1, 6)``.
3. Others: ``send = clip(next_visit - lead_days, 0, max(6 - lead_days, 0))`` (arrive ``lead_days``
   before the visit, but never so late that fewer than ``lead_days + 1`` days of the week remain)
   and ``expires = min(send + validity_days - 1, 6)``.

Constraints: vectorised; pure function of its arguments.
"""

from __future__ import annotations

import numpy as np

WEEK_LAST_OFFSET = 6


def next_visit_offset(
    days_since: np.ndarray, usual_gap: np.ndarray, visits: np.ndarray, horizon_weeks: int
) -> np.ndarray:
    """Predicted days from ``week_start`` to the next visit (float, >= 0; rule 1)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        from_visits = np.where(visits > 0, 7.0 * horizon_weeks / visits, np.nan)
    gap = np.where(np.isfinite(usual_gap) & (usual_gap > 0), usual_gap, from_visits)
    until = gap - np.nan_to_num(days_since, nan=0.0)
    return np.where(np.isfinite(until), np.clip(until, 0.0, None), 0.0)


def schedule(
    *,
    next_visit: np.ndarray,
    churn: np.ndarray,
    validity_days: np.ndarray,
    urgent_churn: float,
    urgent_validity_days: int,
    lead_days: int,
) -> tuple[np.ndarray, np.ndarray]:
    """(send offset, expiry offset) per allocated customer, int64 in 0..6 (rules 2 and 3)."""
    urgent = churn >= urgent_churn
    latest = max(WEEK_LAST_OFFSET - lead_days, 0)
    regular_send = np.clip(np.floor(next_visit) - lead_days, 0, latest).astype(np.int64)
    send = np.where(urgent, 0, regular_send)
    validity = np.where(urgent, np.minimum(validity_days, urgent_validity_days), validity_days)
    expires = np.minimum(send + validity - 1, WEEK_LAST_OFFSET)
    return send.astype(np.int64), expires.astype(np.int64)


def pair_schedule(
    *,
    next_visit: np.ndarray,
    churn: np.ndarray,
    validity_days: np.ndarray,
    urgent_churn: float,
    urgent_validity_days: int,
    lead_days: int,
) -> tuple[np.ndarray, np.ndarray]:
    """(send offset (n,), expiry offset (n, K)) for every (customer, type) pair.

    The send day depends on the customer only; the expiry on the type's validity too, cut at the
    week's end (and for at-risk customers at ``urgent_validity_days``). The window that really
    results, ``expires - send + 1`` days, is what the redemption probability is computed on, so a
    cut validity shows in the value (``window.py``).
    """
    n, k = next_visit.shape[0], validity_days.shape[0]
    send, expires = schedule(
        next_visit=np.repeat(next_visit, k),
        churn=np.repeat(churn, k),
        validity_days=np.tile(validity_days, n),
        urgent_churn=urgent_churn,
        urgent_validity_days=urgent_validity_days,
        lead_days=lead_days,
    )
    return send.reshape(n, k)[:, 0] if k else np.zeros(n, np.int64), expires.reshape(n, k)
