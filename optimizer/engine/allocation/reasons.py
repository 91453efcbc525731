"""Readable per-customer reasons for the allocation decisions.

Objective: one sentence per customer that a marketer can check: who the customer is (at risk with
recency and churn, or when the next visit is expected), which bonus was chosen over which runner-up
and by how much expected value, or why nothing was sent (control group, contact limit,
eligibility, budget and caps).

Constraints: built from arrays already computed by ``allocate``; no solver; plain f-strings.
"""

from __future__ import annotations

import numpy as np


def build_reasons(
    *,
    status: np.ndarray,
    segment: np.ndarray,
    churn: np.ndarray,
    days_since: np.ndarray,
    next_visit: np.ndarray,
    urgent_churn: float,
    value: np.ndarray,
    choice: np.ndarray,
    labels: tuple[str, ...],
    estimator: np.ndarray,
    recent: np.ndarray,
    contact_limit: int | None,
    window_weeks: int,
    forced: np.ndarray,
    cost: np.ndarray,
    types: tuple[str, ...],
    budget_left: float,
    cap_left: np.ndarray,
    redeem: np.ndarray,
    window: np.ndarray,
) -> list[str]:
    """One reason per customer.

    Args:
        status: str per customer (allocated / control / ineligible / not_selected).
        segment: str per customer; churn, days_since, next_visit: float per customer.
        value: float (n, K) expected value, NaN where the pair is ineligible.
        choice: int per customer: allocated type index or -1.
        labels: display name per type.
        estimator: str per customer (estimator of the chosen pair, "" otherwise).
        recent: bonuses received in the window; contact_limit, window_weeks: the frequency cap.
        forced: bool per customer: allocated only to meet a coverage minimum (value <= 0).
        cost: float (n, K) expected cost; types: codes (cap names are ``cap:<code>``).
        budget_left: budget the allocation leaves unspent; cap_left: (K,) room under each cap
            (inf when uncapped): a better option that does not fit is what moved a customer.
        redeem: float (n, K) redemption probability; window: int (n, K) days valid.
    """
    filled = np.where(np.isfinite(value), value, -np.inf)
    order = np.argsort(-filled, axis=1)
    out: list[str] = []
    for i in range(status.shape[0]):
        st = status[i]
        if churn[i] >= urgent_churn:
            who = f"at risk: {days_since[i]:.0f} days since last visit, churn {churn[i]:.2f}"
        else:
            who = (
                f"{segment[i]}: next visit expected in ~{next_visit[i]:.0f} days, "
                f"churn {churn[i]:.2f}"
            )
        if st == "allocated":
            j = choice[i]
            runner = order[i, 0] if order[i, 0] != j else order[i, 1] if value.shape[1] > 1 else j
            odds = f"P(redeem) {redeem[i, j]:.2f} over {window[i, j]} days"
            if runner != j and np.isfinite(filled[i, runner]):
                what = (
                    f"{labels[j]} chosen over {labels[runner]}: {value[i, j]:+.2f} expected "
                    f"(vs {value[i, runner]:+.2f}; {odds})"
                )
                if filled[i, runner] > value[i, j]:
                    what += "; " + _why_not_best(i, j, runner, cost, labels, budget_left, cap_left)
            else:
                what = f"{labels[j]} (only eligible bonus): {value[i, j]:+.2f} expected ({odds})"
            if forced[i]:
                what += f"; sent to meet the {segment[i]!r} coverage minimum"
            if estimator[i] and estimator[i] != "model":
                what += f"; {estimator[i]}"
            out.append(f"{who}; {what}")
        elif st == "control":
            out.append(f"{who}; control group: random hold-out of {segment[i]!r}, no bonus")
        elif st == "ineligible":
            if contact_limit is not None and recent[i] >= contact_limit:
                out.append(
                    f"{who}; contact limit reached: {recent[i]} bonuses in the last "
                    f"{window_weeks} weeks (limit {contact_limit})"
                )
            else:
                out.append(f"{who}; not eligible for any bonus type (segment, CLV or consent)")
        else:
            best = order[i, 0]
            if not np.isfinite(filled[i, best]):
                out.append(f"{who}; no bonus")
            elif filled[i, best] <= 0:
                out.append(
                    f"{who}; no bonus has positive expected value (best {labels[best]} "
                    f"{value[i, best]:+.2f})"
                )
            else:
                fits = filled[i] > 0
                limits = [f"the cap of {labels[k]}" for k in np.flatnonzero(fits & (cap_left < 1))]
                if (cost[i][fits] > budget_left).all():
                    limits.insert(0, f"the budget ({budget_left:.2f} left)")
                named = " and ".join(limits) if limits else "the budget and caps"
                out.append(
                    f"{who}; not selected: best option {labels[best]} {value[i, best]:+.2f} "
                    f"expected lost to better uses of {named}"
                )
    return out


def _why_not_best(
    i: int,
    j: int,
    best: int,
    cost: np.ndarray,
    labels: tuple[str, ...],
    budget_left: float,
    cap_left: np.ndarray,
) -> str:
    """Name the constraint that kept customer ``i`` off ``best`` although it is worth more.

    With one bonus per customer, only a full cap on ``best`` or a budget that cannot pay the
    extra cost of ``best`` can move a customer off the highest-value type; coverage minima and
    contact limits decide *whether* a customer gets a bonus, never *which*.
    """
    if cap_left[best] < 1:
        return f"{labels[best]} is at its cap"
    extra = cost[i, best] - cost[i, j]
    if extra > budget_left:
        return (
            f"budget: {labels[best]} would cost {extra:.2f} more expected and only "
            f"{budget_left:.2f} of the budget is left"
        )
    return "the solver's gap tolerance (a near tie)"
