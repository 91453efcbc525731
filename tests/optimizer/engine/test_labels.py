"""Window labels by hand: visits, net spend, churn; only rows inside the window count."""

from __future__ import annotations

import pytest

from optimizer.engine.history import day_of, prepare_history
from optimizer.engine.labels import window_labels


def test_window_labels_by_hand(hand_made):
    history = prepare_history(hand_made["baskets"], hand_made["customers"])
    labels = window_labels(history, day_of("2024-01-10"), 1).set_index("customer_id")
    assert labels.loc[1].to_dict() == {
        "visits": 1,
        "spend": 15.0,
        "churned": 0,
        "baskets": 1,
    }
    assert labels.loc[2, "churned"] == 1
    assert labels.loc[2, "spend"] == 0
    later = window_labels(history, day_of("2024-02-29"), 1).set_index("customer_id")
    assert later.loc[3, "visits"] == 1
    assert later.loc[3, "spend"] == pytest.approx(9.0)
    assert later.loc[1, "churned"] == 1


def test_window_end_is_exclusive(hand_made):
    history = prepare_history(hand_made["baskets"], hand_made["customers"])
    # 2024-03-01 is the first day after a one-week window starting 2024-02-23
    labels = window_labels(history, day_of("2024-02-23"), 1).set_index("customer_id")
    assert labels.loc[3, "visits"] == 0


def test_window_labels_reject_a_non_positive_horizon(hand_made):
    history = prepare_history(hand_made["baskets"], hand_made["customers"])
    with pytest.raises(ValueError, match="horizon_weeks"):
        window_labels(history, day_of("2024-01-01"), 0)
