"""Synthetic allocation instances for tests and benchmarks (no scoring run needed).

Objective: frames shaped exactly like the glue's (see ``allocate``), with realistic spreads:
five segments, churn from Beta distributions per segment, Poisson-like visits, a per-customer
propensity driving the response to six bonus types, and constraints that bind (budget, two caps,
a coverage minimum for "at risk").

Constraints: vectorised numpy, deterministic in ``seed``; 10M customers fit in a few GB.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from optimizer.engine.allocation.problem import CUSTOMER_REALS
from optimizer.engine.allocation.types import AllocationConstraints

SEGMENTS = ("at risk", "loyal", "new", "occasional", "lapsed")
SEGMENT_SHARES = (0.15, 0.25, 0.15, 0.35, 0.10)
#: code, label, cost when redeemed, validity days, base response, min CLV, consent, segments
TYPES = (
    ("coupon10", "10% coupon", 3.0, 7, 0.40, 0.0, False, None),
    ("coupon5", "5 off 40", 2.5, 5, 0.33, 0.0, False, None),
    ("points2x", "2x points", 1.5, 7, 0.10, 0.0, False, None),
    ("points3x", "3x points", 2.5, 7, 0.13, 0.0, False, None),
    ("free_item", "free coffee", 1.2, 3, 0.20, 0.0, True, None),
    ("vip_gift", "VIP gift", 9.0, 7, 0.30, 600.0, True, "loyal|occasional"),
)


@dataclass(frozen=True, eq=False)
class Instance:
    """One synthetic allocation problem (the arguments of ``allocate``)."""

    customers: pd.DataFrame
    response: pd.DataFrame
    bonus_types: pd.DataFrame
    constraints: AllocationConstraints
    horizon_weeks: int


def make_instance(
    n: int,
    *,
    seed: int = 0,
    n_types: int = 6,
    budget_per_customer: float = 0.30,
    cap_share: float = 0.04,
    coverage: float = 0.30,
    control_share: float = 0.10,
    contact_limit: int | None = 3,
    wide_response: bool = True,
    compact: bool = False,
) -> Instance:
    """A random instance of ``n`` customers and ``n_types`` (<= 6) bonus types.

    Budget ``budget_per_customer * n``; the two coupon types are capped at ``cap_share * n``
    each; "at risk" must reach ``coverage`` (0 disables it). ``compact`` stores the frames as a
    chain's glue should hand them over at 10M: scores and probabilities float32 (scoring
    outputs carry no more than 7 digits), the segment categorical, ``recent_bonuses`` int8:
    0.76 GB instead of 1.56 GB at 10M (the same draws, rounded to float32).
    """
    rng = np.random.default_rng(seed)
    seg = rng.choice(len(SEGMENTS), size=n, p=SEGMENT_SHARES)
    churn_a = np.array([5.0, 1.0, 2.0, 2.0, 6.0])[seg]
    churn_b = np.array([3.0, 9.0, 3.0, 4.0, 2.0])[seg]
    churn = rng.beta(churn_a, churn_b)
    horizon = 8
    base_rate = np.array([0.5, 1.6, 0.8, 0.6, 0.15])[seg]
    visits = base_rate * horizon * rng.gamma(2.0, 0.5, n) * (1.0 - 0.6 * churn)
    basket = rng.gamma(4.0, 8.0, n)
    spend = visits * basket
    clv = spend * 52.0 / horizon * (1.0 - churn) * 0.8
    gap = np.where(base_rate > 0, 7.0 / (base_rate * rng.gamma(4.0, 0.25, n)), np.nan)
    days_since = np.floor(rng.exponential(gap * (1.0 + 2.0 * churn)))
    real = np.float32 if compact else np.float64
    segment = (
        pd.Categorical.from_codes(seg, categories=list(SEGMENTS))
        if compact
        else pd.array(np.array(SEGMENTS, dtype=object)[seg], dtype="str")
    )
    customers = pd.DataFrame(
        {
            "customer_id": rng.permutation(n).astype(np.int64) + 1_000,
            "segment": segment,
            "churn_probability": churn,
            "expected_visits": visits,
            "expected_spend": spend,
            "clv": clv,
            "days_since_last_visit": days_since,
            "usual_gap_days": np.where(rng.random(n) < 0.1, np.nan, np.round(gap, 1)),
            "marketing_consent": rng.random(n) < 0.8,
            "recent_bonuses": rng.poisson(0.8, n).astype(np.int8 if compact else np.int64),
        }
    )
    if compact:
        for col in CUSTOMER_REALS:
            customers[col] = customers[col].astype(real)
    spec = TYPES[:n_types]
    bonus_types = pd.DataFrame(
        {
            "bonus_type": pd.array([t[0] for t in spec], dtype="str"),
            "label": pd.array([t[1] for t in spec], dtype="str"),
            "cost_when_redeemed": [t[2] for t in spec],
            "validity_days": np.array([t[3] for t in spec], dtype=np.int64),
            "min_clv": [t[5] for t in spec],
            "requires_consent": [t[6] for t in spec],
            "allowed_segments": pd.array([t[7] for t in spec], dtype="str"),
        }
    )
    propensity = rng.beta(2.0, 5.0, n) * 2.5
    response = {"customer_id": customers["customer_id"].to_numpy()}
    for t in spec:
        noise = rng.lognormal(0.0, 0.3, n)
        response[f"response_{t[0]}"] = np.clip(t[4] * propensity * noise, 0.0, 0.95).astype(real)
    resp = pd.DataFrame(response)
    if not wide_response:
        resp = resp.melt(id_vars="customer_id", var_name="bonus_type", value_name="p")
        resp["bonus_type"] = resp["bonus_type"].str.removeprefix("response_")
        resp = resp.rename(columns={"p": "response_probability"})
    caps = {t[0]: int(cap_share * n) for t in spec[:2]}
    constraints = AllocationConstraints(
        budget=budget_per_customer * n,
        type_caps=caps,
        segment_coverage={"at risk": coverage} if coverage > 0 else {},
        contact_limit=contact_limit,
        control_share=control_share,
    )
    return Instance(customers, resp, bonus_types, constraints, horizon)
