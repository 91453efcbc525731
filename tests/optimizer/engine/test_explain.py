"""Reasons read well and name the main drivers."""

from __future__ import annotations

import pandas as pd

from optimizer.engine.explain import explain
from optimizer.engine.features import BASE_FEATURES

REFERENCE = {"tenant_rate": 0.2, "top_basket": 80.0}


def _row(**values: float) -> dict[str, float]:
    base = dict.fromkeys(BASE_FEATURES, 0.0)
    base.update(tenure_days=400.0, avg_basket=20.0)
    base.update(values)
    return base


def test_reasons_name_lapse_and_spend_drop():
    features = pd.DataFrame(
        [
            _row(
                frequency=20,
                frequency_52w=12,
                recency_days=63,
                mean_gap_days=9,
                spend_prev_13w=100,
                spend_change_13w=-0.4,
            )
        ]
    )
    assert explain(features, reference=REFERENCE).iloc[0] == (
        "63 days since last visit, usual gap 9 days; spend down 40% vs previous quarter"
    )


def test_reasons_for_new_single_and_never_buyers():
    features = pd.DataFrame(
        [
            _row(frequency=0, tenure_days=30, recency_days=30),
            _row(frequency=1, frequency_52w=1, tenure_days=20, recency_days=1, mean_gap_days=1),
            _row(
                frequency=30,
                frequency_13w=9,
                frequency_52w=30,
                recency_days=2,
                mean_gap_days=8,
                offers_resolved=4,
                offers_redeemed=3,
            ),
        ]
    )
    reasons = explain(features, reference=REFERENCE).tolist()
    assert reasons[0] == "no purchase yet, member for 30 days"
    assert reasons[1] == "new member, joined 20 days ago; one visit so far, 1 day ago"
    assert reasons[2] == "redeemed 3 of 4 offers; 9 visits in the last 13 weeks"


def test_every_customer_gets_a_reason(scored):
    assert scored.scores["reason"].str.len().min() > 10
    assert not scored.scores["reason"].str.contains("nan").any()


def test_explain_keeps_the_index_and_handles_no_rows():
    features = pd.DataFrame([_row(frequency=3, frequency_52w=3)], index=[42])
    assert explain(features).index.tolist() == [42]
    assert explain(pd.DataFrame([_row()]).head(0)).empty
