"""Redemption probability of a bonus given its validity window and the customer's next visit.

Objective: a bonus can only be redeemed on a visit inside its validity window, so ``P(redeem)``
must fall when the window is short or the customer is expected late. The response model gives
``p``: the probability of redeeming an offer *as offers were sent in the past* (its labels are
"redeemed within the offer's own validity"). Its windows and timing are not this week's.

Derivation (one customer, one type ``b``):

* ``P(redeem) = P(respond) x P(visit within the window)``: redeeming needs a visit while the bonus
  is valid, and then the decision to use it (``P(respond)``, "would use it on a visit").
* Visits: the wait ``T`` from the send day to the next visit is exponential with mean ``m = max(d,
  1)`` days, ``d`` the predicted days from the send day to the next visit (the timing rule's
  ``gap - days_since_last_visit``, minus the send offset; floored at one day because a visit is a
  day, not an instant). So ``V(w, m) = P(T < w) = 1 - exp(-w / m)`` for a window of ``w`` days.
* The model's ``p`` already contains the visit chance of the *historical* windows: ``p = P(respond)
  x v_b`` with ``v_b`` the mean of ``V`` over the type's resolved past offers (computed by the
  scoring run from each offer's ``valid_until - sent_on + 1`` and the customer's predicted next
  visit at ``sent_on``; see ``optimizer.engine.response``). Hence ``P(respond) = min(1, p / v_b)``
  and ``P(redeem) = min(1, p / v_b) x V(w, m)``. Without offer history ``v_b = 1`` (the model's
  ``p`` is then read as ``P(respond)``, and the window can only lower it).

Example: ``p = 0.85``, ``v_b = 0.9``, next visit expected in 11 days, a 3-day bonus sent today:
``V = 1 - exp(-3/11) = 0.24`` and ``P(redeem) = 0.94 x 0.24 = 0.23`` (not 0.85).

Constraints: vectorised numpy; pure.
"""

from __future__ import annotations

import numpy as np

#: The shortest mean wait for a visit (days): a customer "due today" may still come tomorrow.
MIN_MEAN_WAIT_DAYS = 1.0


def visit_within(window_days: np.ndarray, days_to_visit: np.ndarray) -> np.ndarray:
    """``V(w, m) = 1 - exp(-w / max(m, 1))``: chance of a visit within ``w`` days (>= 0)."""
    wait = np.maximum(np.nan_to_num(days_to_visit, nan=0.0), MIN_MEAN_WAIT_DAYS)
    window = np.maximum(np.asarray(window_days, dtype=np.float64), 0.0)
    return np.asarray(1.0 - np.exp(-window / wait))


def redeem_probability(
    respond: np.ndarray,
    reference: np.ndarray,
    window_days: np.ndarray,
    days_to_visit: np.ndarray,
) -> np.ndarray:
    """``min(1, p / v_b) x V(w, m)`` (module docstring); NaN where ``respond`` is NaN.

    Args:
        respond: (n, K) model probabilities ``p``.
        reference: (K,) ``v_b`` in (0, 1]: mean visit chance of the type's past offers.
        window_days: (n, K) days the bonus is valid from its send day (inclusive count).
        days_to_visit: (n, 1) or (n, K) predicted days from the send day to the next visit.
    """
    ref = np.clip(np.asarray(reference, dtype=np.float64), 1e-6, 1.0)
    conditional = np.minimum(respond / ref[None, :], 1.0)
    return np.asarray(conditional * visit_within(window_days, days_to_visit))
