"""Segments: readable unique names, a profile, and stability from run to run."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from optimizer.engine.segmentation import (
    NAME_RULES,
    SEGMENT_FEATURES,
    fit_segments,
    segment_names,
    segment_profile,
)
from tests.optimizer.engine.conftest import FAST


@pytest.fixture(scope="module")
def kpis(scored) -> pd.DataFrame:
    return scored.scores[["customer_id", *SEGMENT_FEATURES]].copy()


def test_segments_have_unique_readable_names_and_a_profile(scored):
    names = scored.model.segments.names
    assert len(set(names)) == len(names) == scored.model.segments.k
    assert set(names) <= set(NAME_RULES)
    profile = scored.segment_profile
    assert profile["size"].sum() == len(scored.scores)
    assert set(profile["segment"]) <= set(names)
    assert {"churn_probability", "clv", "recency_days"} <= set(profile.columns)
    json.dumps(scored.segment_state, allow_nan=False)


def test_segment_names_follow_the_profile(scored):
    profile = scored.segment_profile.set_index("segment")
    if {"dormant", "champions"} <= set(profile.index):
        assert profile.loc["dormant", "recency_days"] > profile.loc["champions", "recency_days"]
        assert profile.loc["champions", "frequency_52w"] > profile.loc["dormant", "frequency_52w"]


def test_same_data_twice_gives_identical_segments(kpis):
    first = fit_segments(kpis, config=FAST, random_state=0)
    second = fit_segments(kpis, config=FAST, random_state=0)
    assert first.names == second.names
    again = fit_segments(kpis, config=FAST, random_state=0, previous=first.state())
    assert again.names == first.names
    assert all(again.inherited)
    pd.testing.assert_series_equal(segment_names(first, kpis), segment_names(again, kpis))


def test_perturbed_data_keeps_at_least_95_percent_of_names(kpis):
    first = fit_segments(kpis, config=FAST, random_state=0)
    rng = np.random.default_rng(1)
    moved = kpis.copy()
    for column in ("recency_days", "avg_basket", "tenure_days"):
        moved[column] = moved[column] * rng.uniform(0.97, 1.03, len(moved))
    moved["churn_probability"] = (
        moved["churn_probability"] + rng.normal(0, 0.01, len(moved))
    ).clip(0, 1)
    # another seed too: names must come from the previous state, not from luck
    second = fit_segments(moved, config=FAST, random_state=5, previous=first.state())
    kept = (segment_names(first, kpis) == segment_names(second, moved)).mean()
    assert kept >= 0.95


def test_malformed_previous_state_is_ignored(kpis):
    fresh = fit_segments(kpis, config=FAST, random_state=0)
    odd = {"features": ["x"], "centroids": [[1.0]], "names": ["a"]}
    assert fit_segments(kpis, config=FAST, random_state=0, previous=odd).names == fresh.names
    assert fit_segments(kpis.head(1), config=FAST, random_state=0) is None


def test_segment_profile_counts_and_means():
    scores = pd.DataFrame({"segment": ["a", "b", "a"], "clv": [1.0, 5.0, 3.0]})
    profile = segment_profile(scores, ("clv", "absent"))
    assert profile.to_dict("records") == [
        {"segment": "a", "size": 2, "share": pytest.approx(2 / 3), "clv": 2.0},
        {"segment": "b", "size": 1, "share": pytest.approx(1 / 3), "clv": 5.0},
    ]
