"""Campaign results arithmetic on hand-made members."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from optimizer.engine.results import MIN_GROUP, campaign_results, welch_effect


def members(treated_margin, control_margin, *, cost=1.0, redeemed_every=2):
    rows = []
    for i, m in enumerate(treated_margin):
        redeemed = i % redeemed_every == 0
        rows.append(("loyal", "coupon", False, m * 3, m, redeemed, cost if redeemed else 0.0))
    for m in control_margin:
        rows.append(("loyal", "", True, m * 3, m, False, 0.0))
    return pd.DataFrame(
        rows, columns=["segment", "bonus_type", "is_control", "spend", "margin", "redeemed", "cost"]
    )


def test_welch_effect_matches_a_hand_computed_interval():
    t, c = np.array([1.0, 2.0, 3.0, 4.0]), np.array([0.0, 1.0, 2.0])
    effect = welch_effect(t, c)
    se = np.sqrt(np.var(t, ddof=1) / 4 + np.var(c, ddof=1) / 3)
    assert effect.difference == pytest.approx(1.5)
    # Welch dof for these samples is 4.88...; t quantile from scipy.
    from scipy import stats

    dof = (1.6667 / 4 + 1 / 3) ** 2 / ((1.6667 / 4) ** 2 / 3 + (1 / 3) ** 2 / 2)
    q = stats.t.ppf(0.975, dof)
    assert effect.low == pytest.approx(1.5 - q * se, rel=1e-3)
    assert effect.high == pytest.approx(1.5 + q * se, rel=1e-3)
    assert not effect.significant


def test_campaign_results_incremental_margin_is_net_of_every_redeemed_bonus():
    treated = [10.0] * 40  # each treated customer brings 10 margin
    control = [8.0] * 40  # control customers bring 8: the bonus caused 2 each
    result = campaign_results(members(treated, control, cost=1.5))
    assert result["measurable"]
    assert result["margin"]["difference"] == pytest.approx(2.0)
    assert result["redemption_rate"] == pytest.approx(0.5)
    # 40 treated x 2 incremental margin - 20 redemptions x 1.5 cost
    assert result["bonus_cost"] == pytest.approx(30.0)
    assert result["incremental_margin"] == pytest.approx(80.0 - 30.0)
    assert result["roi"] == pytest.approx(50.0 / 30.0, rel=1e-3)
    assert result["uplift"] == [
        {
            "segment": "loyal",
            "bonus_type": "coupon",
            "treated_n": 40,
            "control_n": 40,
            "incremental_margin_per_treated": 2.0,
        }
    ]


def test_campaign_results_say_when_the_sample_is_too_small():
    result = campaign_results(members([5.0] * 10, [4.0] * (MIN_GROUP - 1)))
    assert not result["measurable"]
    assert "Too small to tell" in result["note"]


def test_a_bonus_given_to_customers_who_buy_anyway_only_costs():
    same = [10.0, 12.0, 8.0] * 20
    result = campaign_results(members(same, same, cost=2.0, redeemed_every=1))
    assert result["margin"]["difference"] == pytest.approx(0.0)
    assert result["incremental_margin"] == pytest.approx(-2.0 * 60)
    assert result["roi"] == pytest.approx(-1.0)
