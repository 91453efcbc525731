"""Allocation rules: control group, timing, estimator and uplift shrinkage, reasons, purity."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from optimizer.engine.allocation import ALLOCATED, AllocationConfig, allocate
from optimizer.engine.allocation.control import control_mask
from optimizer.engine.allocation.synthetic import make_instance
from optimizer.engine.allocation.timing import next_visit_offset, schedule
from optimizer.engine.allocation.value import apply_uplift, model_margin

WEEK = date(2024, 3, 4)
PACKAGE = Path(__file__).resolve().parents[3] / "optimizer" / "engine" / "allocation"
ALLOWED = {"numpy", "pandas", "pulp", "optimizer", "__future__"}


def _allocate(inst, **kw):
    kw.setdefault("random_state", 7)
    kw.setdefault("method", "dual")
    return allocate(
        inst.customers,
        inst.response,
        inst.bonus_types,
        inst.constraints,
        week_start=WEEK,
        horizon_weeks=inst.horizon_weeks,
        time_limit=30,
        **kw,
    )


def test_control_group_is_reproducible_across_input_order_and_stratified():
    rng = np.random.default_rng(0)
    ids = rng.permutation(10_000).astype(np.int64)
    seg = rng.integers(0, 3, 10_000)
    eligible = rng.random(10_000) < 0.9
    mask = control_mask(ids, seg, eligible, share=0.1, seed=42)
    perm = rng.permutation(10_000)
    again = control_mask(ids[perm], seg[perm], eligible[perm], share=0.1, seed=42)
    assert set(ids[mask]) == set(ids[perm][again])
    assert not (mask & ~eligible).any()
    for s in range(3):
        n = (eligible & (seg == s)).sum()
        assert (mask & (seg == s)).sum() == int(np.floor(0.1 * n + 0.5))
    other = control_mask(ids, seg, eligible, share=0.1, seed=43)
    assert set(ids[other]) != set(ids[mask])


def test_control_customers_are_never_allocated_and_same_seed_same_group():
    inst = make_instance(3_000, seed=4)
    first = _allocate(inst, with_reasons=False).decisions
    shuffled = type(inst)(
        inst.customers.sample(frac=1.0, random_state=1),
        inst.response,
        inst.bonus_types,
        inst.constraints,
        inst.horizon_weeks,
    )
    second = _allocate(shuffled, with_reasons=False).decisions
    control = first.loc[first["status"] == "control", "customer_id"]
    assert set(control) == set(second.loc[second["status"] == "control", "customer_id"])
    assert first.loc[first["status"] == "control", "bonus_type"].isna().all()
    share = len(control) / (first["status"] != "ineligible").sum()
    assert share == pytest.approx(0.10, abs=0.005)


def test_timing_rule_urgent_and_regular():
    nxt = next_visit_offset(
        np.array([10.0, 2.0, 40.0, 3.0]),
        np.array([14.0, 7.0, 14.0, np.nan]),
        np.array([4.0, 4.0, 4.0, 8.0]),
        8,
    )
    assert nxt.tolist() == [4.0, 5.0, 0.0, 4.0]  # gap 14-10, 7-2, overdue, 56/8-3
    send, expires = schedule(
        next_visit=np.array([4.0, 5.0, 0.0, 20.0]),
        churn=np.array([0.2, 0.2, 0.8, 0.1]),
        validity_days=np.array([7, 2, 7, 7]),
        urgent_churn=0.5,
        urgent_validity_days=3,
        lead_days=2,
    )
    # regular: 2 days before the visit; validity capped at the week's end; at risk: day 0, 3 days
    assert send.tolist() == [2, 3, 0, 4]
    assert expires.tolist() == [6, 4, 2, 6]


def test_allocated_bonuses_are_dated_inside_the_campaign_week():
    inst = make_instance(2_000, seed=8)
    d = _allocate(inst, with_reasons=False).decisions
    alloc = d[d["status"] == ALLOCATED]
    start, end = pd.Timestamp(WEEK), pd.Timestamp(WEEK) + pd.Timedelta(days=6)
    assert alloc["send_on"].between(start, end).all()
    assert alloc["expires_on"].between(start, end).all()
    assert (alloc["expires_on"] >= alloc["send_on"]).all()
    assert d.loc[d["status"] != ALLOCATED, "send_on"].isna().all()


def test_model_margin_gives_only_cost_for_customer_who_would_buy_anyway():
    config = AllocationConfig(gross_margin_rate=0.3, retention_weight=0.0)
    margin = model_margin(
        churn=np.array([0.1, 0.1]),
        visits=np.array([1e6, 1.0]),  # the first visits for sure; the second rarely
        spend=np.array([1e6 * 20.0, 20.0]),
        clv=np.array([100.0, 100.0]),
        response=np.array([[0.5], [0.5]]),
        horizon_weeks=8,
        config=config,
    )
    assert margin[0, 0] == pytest.approx(0.0, abs=1e-9)
    q = 1 - np.exp(-1 / 8)
    assert margin[1, 0] == pytest.approx(0.3 * 0.5 * (1 - q) * 20.0)


def test_uplift_shrinks_towards_observed_by_sample_size():
    margin = np.array([[1.0], [3.0], [5.0]])
    seg = np.array([0, 0, 1])
    uplift = pd.DataFrame(
        {
            "segment": ["x"],
            "bonus_type": ["a"],
            "treated_n": [900],
            "control_n": [100],
            "incremental_margin_per_treated": [6.0],
        }
    )
    out, est = apply_uplift(
        margin,
        segment_codes=seg,
        segments=("x", "y"),
        types=("a",),
        uplift=uplift,
        prior_strength=90.0,
    )
    w = 90.0 / (90.0 + 90.0)  # n_eff = 1/(1/900 + 1/100) = 90
    assert out[:2, 0] == pytest.approx([1.0 + w * (6.0 - 2.0), 3.0 + w * (6.0 - 2.0)])
    assert out[2, 0] == 5.0
    row = est.set_index("segment").loc["x"]
    assert row["estimator"] == "control-group uplift (n=1000, weight=0.50)"
    assert est.set_index("segment").loc["y", "estimator"] == "model"


def test_allocate_reports_estimator_and_reason_per_customer():
    inst = make_instance(1_000, seed=9)
    uplift = pd.DataFrame(
        {
            "segment": ["at risk"],
            "bonus_type": ["free_item"],
            "treated_n": [5_000],
            "control_n": [500],
            "incremental_margin_per_treated": [4.0],
        }
    )
    result = _allocate(inst, uplift=uplift)
    d = result.decisions
    boosted = d[(d["segment"] == "at risk") & (d["bonus_type"] == "free_item")]
    assert len(boosted) > 0
    assert boosted["estimator"].str.startswith("control-group uplift (n=5500").all()
    alloc = d[d["status"] == ALLOCATED].iloc[0]
    assert "expected" in alloc["reason"]
    assert "chosen over" in alloc["reason"]
    assert d.loc[d["status"] == "control", "reason"].str.contains("control group").all()
    risky = d[(d["status"] == ALLOCATED) & (inst.customers["churn_probability"] >= 0.5)]
    assert risky["reason"].str.startswith("at risk: ").all()
    assert set(result.by_segment.columns) >= {"allocated", "coverage", "expected_cost"}
    assert result.by_bonus_type["allocated"].sum() == (d["status"] == ALLOCATED).sum()
