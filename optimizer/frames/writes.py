"""Engine scores back into :class:`~optimizer.models.CustomerScore` rows (bulk, rounded)."""

from __future__ import annotations

import json
from collections.abc import Sequence

import numpy as np
import pandas as pd

from loyalty_site.bulk import insert_frame
from optimizer.models import CustomerScore

#: Longest reason stored (the column's length); the engine's reasons are far shorter.
REASON_MAX = 255
SEGMENT_MAX = 64


def round_half_up(values: np.ndarray | pd.Series, places: int) -> np.ndarray:
    """Round to ``places`` decimals, halves away from zero, as ``loyalty_site.money.quantize``.

    Vectorised (``quantize`` costs about 10 s per million values). The scaled value is first
    rounded to 6 decimals so that binary noise does not decide a half (2.675 is stored as
    2.67499999...; ``str`` and this function both read it as 2.675 and give 2.68). Values
    within a millionth of a unit of a half may round either way.
    """
    scale = 10.0**places
    scaled = np.round(np.asarray(values, dtype=np.float64) * scale, 6)
    return np.copysign(np.floor(np.abs(scaled) + 0.5), scaled) / scale


def _responses_json(scores: pd.DataFrame, codes: Sequence[str]) -> pd.Series:
    """``{"code": probability, ...}`` JSON text per row (4 decimals), built column-wise."""
    if not codes:
        return pd.Series(["{}"] * len(scores), index=scores.index, dtype="str")
    text = pd.Series(["{"] * len(scores), index=scores.index, dtype="str")
    for i, code in enumerate(codes):
        column = f"response_{code}"
        if column in scores.columns:
            values = round_half_up(scores[column], 4)
            rendered = pd.Series(
                np.where(np.isfinite(values), values.astype("str"), "null"), index=scores.index
            ).astype("str")
        else:
            rendered = pd.Series(["null"] * len(scores), index=scores.index, dtype="str")
        text = text + ("" if i == 0 else ", ") + json.dumps(code) + ": " + rendered
    return text + "}"


def score_rows(
    *, retailer_id: int, run_id: int, scores: pd.DataFrame, codes: Sequence[str]
) -> pd.DataFrame:
    """Engine scores (``score_customers`` output) -> :class:`CustomerScore` database columns.

    Money is rounded half up to cents, probabilities and shares to 4 decimals, visits to 2;
    day counts and visit counts are whole numbers.
    """

    def ints(column: str) -> np.ndarray:
        return np.maximum(np.round(scores[column].to_numpy(dtype=np.float64)), 0).astype(np.int64)

    def prob(column: str) -> np.ndarray:
        return np.clip(round_half_up(scores[column], 4), 0.0, 1.0)

    return pd.DataFrame(
        {
            "retailer_id": retailer_id,
            "run_id": run_id,
            "customer_id": scores["customer_id"].to_numpy(dtype=np.int64),
            "churn_probability": prob("churn_probability"),
            "p_alive": prob("p_alive"),
            "expected_visits": round_half_up(scores["expected_visits"], 2),
            "expected_spend": round_half_up(scores["expected_spend"], 2),
            "clv": round_half_up(scores["clv"], 2),
            "responses": _responses_json(scores, codes).to_numpy(),
            "segment": scores["segment"].astype("str").str.slice(0, SEGMENT_MAX).to_numpy(),
            "reason": scores["reason"].astype("str").str.slice(0, REASON_MAX).to_numpy(),
            "recency_days": ints("recency_days"),
            "frequency": ints("frequency"),
            "frequency_52w": ints("frequency_52w"),
            "monetary_52w": round_half_up(scores["monetary_52w"], 2),
            "avg_basket": round_half_up(scores["avg_basket"], 2),
            "tenure_days": ints("tenure_days"),
            "discount_share": prob("discount_share"),
            "offers_received": ints("offers_received"),
            "offers_redeemed": ints("offers_redeemed"),
            "redemption_rate": prob("redemption_rate"),
        }
    )


def customer_scores_write(
    *, retailer_id: int, run_id: int, scores: pd.DataFrame, codes: Sequence[str]
) -> int:
    """Insert the rows of ``scores`` as :class:`CustomerScore` s of the run; returns the count.

    Call inside ``transaction.atomic`` after deleting the rows being replaced.
    """
    rows = score_rows(retailer_id=retailer_id, run_id=run_id, scores=scores, codes=codes)
    return insert_frame(CustomerScore, rows)
