"""P(redeem) follows the validity window and the next visit; points cost at face; honest reasons."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from optimizer.engine.allocation import AllocationConfig, AllocationConstraints, allocate
from optimizer.engine.allocation.window import redeem_probability, visit_within

WEEK = date(2024, 3, 4)


def _customers(**over):
    row = {
        "customer_id": 1,
        "segment": "regular",
        "churn_probability": 0.2,
        "expected_visits": 4.0,
        "expected_spend": 200.0,
        "clv": 500.0,
        "days_since_last_visit": 1.0,
        "usual_gap_days": 12.0,  # next visit expected in ~11 days
        "marketing_consent": True,
    }
    row.update(over)
    return pd.DataFrame([row])


def _types(rows):
    return pd.DataFrame(rows)


def _run(customers, response, types, budget=1_000.0, **kw):
    return allocate(
        customers,
        response,
        types,
        AllocationConstraints(budget=budget, control_share=0.0, **kw),
        week_start=WEEK,
        horizon_weeks=8,
        random_state=1,
        time_limit=10,
    )


def test_visit_within_is_the_exponential_wait_floored_at_one_day():
    got = visit_within(np.array([3.0, 3.0, 7.0]), np.array([11.0, 0.0, 2.0]))
    assert got == pytest.approx([1 - np.exp(-3 / 11), 1 - np.exp(-3), 1 - np.exp(-3.5)])
    # p / v_b is capped at 1 before the window's chance applies
    out = redeem_probability(
        np.array([[0.85, 0.95]]), np.array([0.9, 0.5]), np.array([[3, 3]]), np.array([[11.0]])
    )
    v = 1 - np.exp(-3 / 11)
    assert out[0] == pytest.approx([0.85 / 0.9 * v, 1.0 * v])


def test_short_bonus_for_a_customer_expected_in_11_days_is_not_redeemed_at_085():
    customers = _customers(churn_probability=0.6)  # at risk: sent at once, valid 3 days
    response = pd.DataFrame({"customer_id": [1], "response_c3": [0.85]})
    types = _types([{"bonus_type": "c3", "cost_when_redeemed": 1.0, "validity_days": 3}])
    d = _run(customers, response, types).decisions.iloc[0]
    assert d["status"] == "allocated"
    assert d["response_probability"] == pytest.approx(0.85 * (1 - np.exp(-3 / 11)))
    assert d["expected_cost"] == pytest.approx(d["response_probability"] * 1.0)
    assert "P(redeem) 0.20 over 3 days" in d["reason"]


def test_validity_cut_at_the_week_end_lowers_the_probability_and_value():
    # Regular customer expected on day 11: sent on day 4 (the latest), so a 14-day bonus keeps
    # only 3 days (days 4..6) of the 14 the catalogue promises.
    response = pd.DataFrame({"customer_id": [1], "response_long": [0.6]})
    types = _types([{"bonus_type": "long", "cost_when_redeemed": 2.0, "validity_days": 14}])
    d = _run(_customers(), response, types).decisions.iloc[0]
    assert (d["send_on"].date(), d["expires_on"].date()) == (date(2024, 3, 8), date(2024, 3, 10))
    assert d["response_probability"] == pytest.approx(0.6 * (1 - np.exp(-3 / 7)))
    off = allocate(
        _customers(),
        response,
        types,
        AllocationConstraints(budget=1_000.0, control_share=0.0),
        week_start=WEEK,
        horizon_weeks=8,
        random_state=1,
        time_limit=10,
        config=AllocationConfig(window_adjustment=False),
    ).decisions.iloc[0]
    assert off["response_probability"] == pytest.approx(0.6)
    assert d["expected_value"] < off["expected_value"]


def test_reference_visit_probability_rescales_the_model_to_a_conditional_response():
    customers = _customers(churn_probability=0.6)
    response = pd.DataFrame({"customer_id": [1], "response_c3": [0.5]})
    types = _types(
        [
            {
                "bonus_type": "c3",
                "cost_when_redeemed": 1.0,
                "validity_days": 3,
                "reference_visit_probability": 0.5,
            }
        ]
    )
    d = _run(customers, response, types).decisions.iloc[0]
    assert d["response_probability"] == pytest.approx(1.0 * (1 - np.exp(-3 / 11)))


def test_bonus_type_reference_visit_probability_out_of_range_names_the_field():
    response = pd.DataFrame({"customer_id": [1], "response_c": [0.5]})
    types = _types(
        [
            {
                "bonus_type": "c",
                "cost_when_redeemed": 1.0,
                "validity_days": 3,
                "reference_visit_probability": 0.0,
            }
        ]
    )
    with pytest.raises(Exception, match="reference_visit_probability"):
        _run(_customers(), response, types)


def test_points_credited_at_issue_count_at_face_value_against_the_budget():
    n = 40
    customers = pd.concat(
        [
            _customers(customer_id=i, days_since_last_visit=11.0, expected_spend=2000.0)
            for i in range(1, n + 1)
        ],
        ignore_index=True,
    )
    response = pd.DataFrame({"customer_id": range(1, n + 1), "response_pts": 0.2})
    types = _types(
        [
            {
                "bonus_type": "pts",
                "cost_when_redeemed": 5.0,
                "validity_days": 7,
                "charged_on_issue": True,
            }
        ]
    )
    result = _run(customers, response, types, budget=50.0)
    alloc = result.decisions[result.decisions["status"] == "allocated"]
    assert len(alloc) == 10  # 10 x 5.00 = 50.00: every credit is paid, redeemed or not
    assert (alloc["expected_cost"] == 5.0).all()
    assert result.total_expected_cost == pytest.approx(50.0)


def test_reason_names_the_cap_when_the_best_bonus_is_not_chosen():
    customers = pd.concat(
        [_customers(customer_id=i, days_since_last_visit=11.0) for i in (1, 2)], ignore_index=True
    )
    response = pd.DataFrame({"customer_id": [1, 2], "response_big": 0.5, "response_small": 0.5})
    types = _types(
        [
            {"bonus_type": "big", "cost_when_redeemed": 0.5, "validity_days": 7},
            {"bonus_type": "small", "cost_when_redeemed": 2.0, "validity_days": 7},
        ]
    )
    d = _run(customers, response, types, type_caps={"big": 1}).decisions
    second = d[d["bonus_type"] == "small"].iloc[0]
    assert "chosen over big" in second["reason"]
    assert "big is at its cap" in second["reason"]


def test_reason_names_the_budget_when_the_best_bonus_costs_too_much():
    customers = pd.concat(
        [_customers(customer_id=i, days_since_last_visit=11.0) for i in (1, 2)], ignore_index=True
    )
    response = pd.DataFrame({"customer_id": [1, 2], "response_rich": 0.9, "response_lean": 0.5})
    types = _types(
        [
            {"bonus_type": "rich", "cost_when_redeemed": 1.0, "validity_days": 7},
            {"bonus_type": "lean", "cost_when_redeemed": 0.1, "validity_days": 7},
        ]
    )
    result = _run(customers, response, types, budget=0.955)
    d = result.decisions
    lean = d[d["bonus_type"] == "lean"]
    assert len(lean) == 1
    assert "lean chosen over rich" in lean["reason"].iloc[0]
    assert (
        "budget: rich would cost 0.85 more expected and only 0.01 of the budget is left"
        in (lean["reason"].iloc[0])
    )


def test_not_selected_reason_names_the_budget_that_left_no_room():
    customers = pd.concat(
        [_customers(customer_id=i, days_since_last_visit=11.0) for i in (1, 2, 3)],
        ignore_index=True,
    )
    response = pd.DataFrame({"customer_id": [1, 2, 3], "response_c": 0.5})
    types = _types([{"bonus_type": "c", "cost_when_redeemed": 1.0, "validity_days": 7}])
    d = _run(customers, response, types, budget=0.6).decisions
    assert (d["status"] == "allocated").sum() == 1
    lost = d[d["status"] == "not_selected"]["reason"]
    assert len(lost) == 2
    assert lost.str.contains(r"lost to better uses of the budget \(0\.10 left\)").all()
