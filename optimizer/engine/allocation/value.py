"""Expected incremental value of giving customer i bonus type b, from scores and past campaigns.

Objective: ``value[i, b] = incremental_margin[i, b] - expected_cost[i, b]``: the gross margin on
the spend the bonus *causes* (spend with the bonus minus spend without it) minus the expected cost
``r[i, b] * cost_when_redeemed[b]`` (``r`` = redemption probability). A customer who would have
visited anyway still redeems and costs money, but adds no margin.

Model estimator (one campaign week, ``H = horizon_weeks``):

* ``rate = expected_visits / H`` visits per week; ``q = 1 - exp(-rate)`` is the probability of a
  visit in the campaign week *without* a bonus (Poisson visits).
* Of the ``r`` redeemers, a share ``q`` would have come anyway (pure subsidy); the other
  ``r * (1 - q)`` are bonus-caused visits.
* A caused visit is worth one basket ``expected_spend / expected_visits`` (population median basket
  where visits are ~0), plus, for churn-exposed customers, the saved future spend
  ``churn_probability * retention_weight * clv`` (the share of the lapse risk one renewed visit
  removes; ``retention_weight = 0`` turns the long-term term off).
* ``incremental_margin = margin_rate * r * (1 - q) * (basket + churn * retention_weight * clv)``
  (``margin_rate`` = ``AllocationConfig.gross_margin_rate``).

Control-group uplift (empirical Bayes): past campaigns report per (segment, bonus type) the mean
margin per treated customer minus the control mean (``incremental_margin_per_treated``). Its
sampling variance is ``sigma^2 * (1/treated_n + 1/control_n)``, so the evidence is worth
``n_eff = 1 / (1/treated_n + 1/control_n)`` customers. The model is a prior worth ``k =
uplift_prior_strength`` customers, hence weight ``w = n_eff / (n_eff + k)`` and per customer
``margin = model_margin + w * (observed - model_segment_mean)``: the segment's level moves towards
the observed uplift by ``w``; the model's ranking within the segment is kept.

Constraints: vectorised numpy, no solver; ``NaN`` value marks an ineligible pair.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from optimizer.engine.allocation.types import AllocationConfig
from optimizer.engine.types import EngineInputError

UPLIFT_COLUMNS = (
    "segment",
    "bonus_type",
    "treated_n",
    "control_n",
    "incremental_margin_per_treated",
)


def margin_per_visit(
    *,
    churn: np.ndarray,
    visits: np.ndarray,
    spend: np.ndarray,
    clv: np.ndarray,
    horizon_weeks: int,
    config: AllocationConfig,
) -> np.ndarray:
    """Per customer, the incremental margin of one redemption: ``margin_rate * (1 - q) * (basket
    + churn * retention_weight * clv)`` (module docstring), float64 (n,).

    The fallback basket is the median over *all* customers, so this is computed once for the
    whole population even when the (n, K) values are built in customer-range chunks.
    """
    rate = np.clip(visits, 0.0, None) / float(horizon_weeks)
    q = -np.expm1(-rate)
    with np.errstate(divide="ignore", invalid="ignore"):
        basket = np.where(visits > 0.05, spend / np.maximum(visits, 1e-9), np.nan)
    finite = basket[np.isfinite(basket) & (basket > 0)]
    fallback = float(np.median(finite)) if finite.size else 0.0
    basket = np.where(np.isfinite(basket) & (basket > 0), basket, fallback)
    saved = np.clip(churn, 0.0, 1.0) * config.retention_weight * np.clip(clv, 0.0, None)
    per_visit: np.ndarray = config.gross_margin_rate * (1.0 - q) * (basket + saved)
    return per_visit


def model_margin(
    *,
    churn: np.ndarray,
    visits: np.ndarray,
    spend: np.ndarray,
    clv: np.ndarray,
    response: np.ndarray,
    horizon_weeks: int,
    config: AllocationConfig,
) -> np.ndarray:
    """Model estimate of the incremental margin per (customer, type), before the bonus cost.

    Args:
        churn, visits, spend, clv: float64 per customer (scoring outputs over the horizon).
        response: float64 (n, K) redemption probabilities (NaN where ineligible).
        horizon_weeks: the horizon the visits and spend forecasts cover.
        config: estimator knobs.

    Returns:
        float64 (n, K); NaN where ``response`` is NaN.
    """
    per_visit = margin_per_visit(
        churn=churn, visits=visits, spend=spend, clv=clv, horizon_weeks=horizon_weeks, config=config
    )
    value: np.ndarray = response * per_visit[:, None]
    return value


def apply_uplift(
    margin: np.ndarray,
    *,
    segment_codes: np.ndarray,
    segments: tuple[str, ...],
    types: tuple[str, ...],
    uplift: pd.DataFrame | None,
    prior_strength: float,
    in_place: bool = False,
) -> tuple[np.ndarray, pd.DataFrame]:
    """Shrink the model margin towards observed control-group uplift (module docstring).

    Args:
        margin: float64 (n, K) model incremental margin (NaN = ineligible); a modified copy is
            returned when ``uplift`` has rows, else ``margin`` itself; with ``in_place`` the
            rows are adjusted in ``margin`` itself (no (n, K) copy: 480 MB at 10M x 6).
        segment_codes: int per customer indexing ``segments``.
        segments, types: the segment names and bonus type codes (column order of ``margin``).
        uplift: optional frame, one row per (segment, bonus_type): ``segment`` (str),
            ``bonus_type`` (str), ``treated_n`` (int >= 0), ``control_n`` (int >= 0),
            ``incremental_margin_per_treated`` (float: treated minus control mean gross margin
            per customer, before the bonus cost). Rows for unknown segments/types are ignored.
        prior_strength: ``k`` of the shrinkage.
        in_place: adjust ``margin`` itself instead of a copy.

    Returns:
        (margin, estimators): the adjusted margin and one row per (segment, bonus_type) with
        ``estimator`` (str), ``weight``, ``treated_n``, ``control_n``, ``model_margin`` (segment
        mean), ``observed_margin`` (NaN without evidence).

    Raises:
        EngineInputError: a required uplift column is missing or counts are negative.
    """
    # without evidence the margin is returned as is: no (n, K) copy at chain scale
    # (reading ``margin[members, b]`` before writing the same cells makes in place safe)
    has_rows = uplift is not None and len(uplift) > 0
    out = margin.copy() if has_rows and not in_place else margin
    n_seg, n_types = len(segments), len(types)
    sums = np.zeros((n_seg, n_types))
    counts = np.zeros((n_seg, n_types))
    ok = np.isfinite(margin)
    for j in range(n_types):
        sums[:, j] = np.bincount(segment_codes, np.where(ok[:, j], margin[:, j], 0.0), n_seg)
        counts[:, j] = np.bincount(segment_codes, ok[:, j].astype(np.float64), n_seg)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = np.where(counts > 0, sums / np.maximum(counts, 1.0), np.nan)
    rows = {
        "segment": np.repeat(np.array(segments, dtype=object), n_types),
        "bonus_type": np.tile(np.array(types, dtype=object), n_seg),
        "estimator": np.full(n_seg * n_types, "model", dtype=object),
        "weight": np.zeros(n_seg * n_types),
        "treated_n": np.zeros(n_seg * n_types, dtype=np.int64),
        "control_n": np.zeros(n_seg * n_types, dtype=np.int64),
        "model_margin": means.ravel(),
        "observed_margin": np.full(n_seg * n_types, np.nan),
    }
    if uplift is not None and len(uplift):
        missing = [c for c in UPLIFT_COLUMNS if c not in uplift.columns]
        if missing:
            raise EngineInputError(f"uplift is missing column(s) {missing}")
        seg_index = {s: i for i, s in enumerate(segments)}
        type_index = {t: j for j, t in enumerate(types)}
        for row in uplift.itertuples(index=False):
            s, b = seg_index.get(str(row.segment)), type_index.get(str(row.bonus_type))
            nt, nc = int(row.treated_n), int(row.control_n)
            if nt < 0 or nc < 0:
                raise EngineInputError(f"negative uplift counts for {row.segment}/{row.bonus_type}")
            observed = float(row.incremental_margin_per_treated)
            if s is None or b is None or nt == 0 or nc == 0 or not np.isfinite(observed):
                continue
            n_eff = 1.0 / (1.0 / nt + 1.0 / nc)
            weight = n_eff / (n_eff + prior_strength)
            members = (segment_codes == s) & ok[:, b]
            base = means[s, b] if np.isfinite(means[s, b]) else 0.0
            out[members, b] = margin[members, b] + weight * (observed - base)
            k = s * n_types + b
            rows["estimator"][k] = f"control-group uplift (n={nt + nc}, weight={weight:.2f})"
            rows["weight"][k] = weight
            rows["treated_n"][k] = nt
            rows["control_n"][k] = nc
            rows["observed_margin"][k] = observed
    estimators = pd.DataFrame(rows)
    estimators["segment"] = estimators["segment"].astype("str")
    estimators["bonus_type"] = estimators["bonus_type"].astype("str")
    estimators["estimator"] = estimators["estimator"].astype("str")
    return out, estimators
