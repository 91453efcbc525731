"""Campaign results: treated vs control, with the difference and its confidence interval.

Objective: from one row per campaign member (treated or control) with what they spent and the
gross margin they brought during the measurement window, estimate what the campaign caused:
redemption rate, mean spend and margin of both groups, the difference with a Welch confidence
interval, the incremental margin after the cost of every redeemed bonus (including those given
to customers who would have bought anyway) and the ROI. Per (segment, bonus type) it also gives
the treated-minus-control margin the allocation engine learns uplift from.

Constraints: pure numpy/pandas/scipy; no Django. When either group is too small the effect is
reported as not measurable instead of a number that looks precise.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

#: Fewer members than this in either group: too small to tell.
MIN_GROUP = 30


@dataclass(frozen=True)
class Effect:
    """Difference of the treated and control means of one measure, with a confidence interval.

    ``low``/``high`` are ``None`` when the interval cannot be computed (a group of fewer than two).
    """

    treated_mean: float
    control_mean: float
    difference: float
    low: float | None
    high: float | None

    @property
    def significant(self) -> bool:
        """The interval excludes zero."""
        return self.low is not None and self.high is not None and (self.low > 0 or self.high < 0)


def welch_effect(treated: np.ndarray, control: np.ndarray, *, level: float = 0.95) -> Effect:
    """Mean difference ``treated - control`` with a Welch t confidence interval at ``level``."""
    t = np.asarray(treated, dtype=np.float64)
    c = np.asarray(control, dtype=np.float64)
    tm = float(t.mean()) if t.size else 0.0
    cm = float(c.mean()) if c.size else 0.0
    diff = tm - cm
    if t.size < 2 or c.size < 2:
        return Effect(tm, cm, diff, None, None)
    vt, vc = t.var(ddof=1) / t.size, c.var(ddof=1) / c.size
    se = math.sqrt(vt + vc)
    if se == 0:
        return Effect(tm, cm, diff, diff, diff)
    dof = (vt + vc) ** 2 / (
        (vt**2 / (t.size - 1) if t.size > 1 else 0) + (vc**2 / (c.size - 1) if c.size > 1 else 0)
    )
    q = float(stats.t.ppf(0.5 + level / 2, dof))
    return Effect(tm, cm, diff, diff - q * se, diff + q * se)


def _effect_dict(effect: Effect) -> dict[str, Any]:
    return {
        "treated_mean": round(effect.treated_mean, 4),
        "control_mean": round(effect.control_mean, 4),
        "difference": round(effect.difference, 4),
        "ci_low": None if effect.low is None else round(effect.low, 4),
        "ci_high": None if effect.high is None else round(effect.high, 4),
        "significant": effect.significant,
    }


def campaign_results(members: pd.DataFrame, *, level: float = 0.95) -> dict[str, Any]:
    """Treated vs control results of one campaign.

    Args:
        members: one row per member. ``is_control`` (bool), ``segment`` (str), ``bonus_type``
            (str, "" for control), ``spend`` and ``margin`` (float64: spend and gross margin in
            the measurement window, 0 without purchases), ``redeemed`` (bool), ``cost`` (float64:
            the real cost of the member's redemptions, 0 for control).
        level: confidence level of the intervals.

    Returns:
        A JSON-ready dict: ``treated``, ``control`` (counts), ``measurable`` and ``note``,
        ``redemption_rate``, ``spend`` and ``margin`` (:class:`Effect` as dicts),
        ``bonus_cost``, ``incremental_margin`` (margin difference x treated - bonus cost) with
        its interval, ``roi`` (incremental margin after cost / cost), ``uplift`` rows per
        (segment, bonus_type): ``treated_n``, ``control_n``,
        ``incremental_margin_per_treated`` (before the bonus cost).
    """
    treated = members[~members["is_control"]]
    control = members[members["is_control"]]
    n_t, n_c = len(treated), len(control)
    cost = float(treated["cost"].sum())
    spend = welch_effect(treated["spend"].to_numpy(), control["spend"].to_numpy(), level=level)
    margin = welch_effect(treated["margin"].to_numpy(), control["margin"].to_numpy(), level=level)
    incremental = margin.difference * n_t - cost
    low = None if margin.low is None else margin.low * n_t - cost
    high = None if margin.high is None else margin.high * n_t - cost
    measurable = n_t >= MIN_GROUP and n_c >= MIN_GROUP
    note = (
        ""
        if measurable
        else f"Too small to tell: {n_t} treated and {n_c} control customers "
        f"(at least {MIN_GROUP} each are needed)."
    )
    uplift = []
    for (segment, code), group in treated.groupby(["segment", "bonus_type"], sort=True):
        peers = control[control["segment"] == segment]
        if len(group) == 0 or len(peers) == 0:
            continue
        uplift.append(
            {
                "segment": str(segment),
                "bonus_type": str(code),
                "treated_n": len(group),
                "control_n": len(peers),
                "incremental_margin_per_treated": round(
                    float(group["margin"].mean() - peers["margin"].mean()), 4
                ),
            }
        )
    return {
        "treated": n_t,
        "control": n_c,
        "measurable": measurable,
        "note": note,
        "confidence_level": level,
        "redemption_rate": round(float(treated["redeemed"].mean()), 4) if n_t else None,
        "spend": _effect_dict(spend),
        "margin": _effect_dict(margin),
        "bonus_cost": round(cost, 2),
        "incremental_margin": round(incremental, 2),
        "incremental_margin_ci": [
            None if low is None else round(low, 2),
            None if high is None else round(high, 2),
        ],
        "roi": round(incremental / cost, 4) if cost > 0 else None,
        "uplift": uplift,
    }
