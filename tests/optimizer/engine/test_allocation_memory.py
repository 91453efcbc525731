"""The memory-saving paths of the allocation engine give the same answers as the plain ones.

The value stage in customer slices, the core built inside the value and cost arrays, the
reason-only arrays released, categorical segments and compact frames (issue 18 point 4).
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from optimizer.engine.allocation import AllocationConfig, allocate
from optimizer.engine.allocation import stages as stages_module
from optimizer.engine.allocation.problem import build_core, segment_codes
from optimizer.engine.allocation.stages import read_inputs, value_pairs
from optimizer.engine.allocation.synthetic import make_instance

WEEK = date(2024, 3, 4)


def _valued(inst, *, keep_pairs: bool, uplift: pd.DataFrame | None = None):
    inp = read_inputs(
        inst.customers, inst.response, inst.bonus_types, inst.constraints, random_state=0
    )
    return value_pairs(
        inp,
        inst.constraints,
        horizon_weeks=inst.horizon_weeks,
        uplift=uplift,
        config=AllocationConfig(),
        keep_pairs=keep_pairs,
    )


def _allocate(inst, *, with_reasons: bool):
    return allocate(
        inst.customers,
        inst.response,
        inst.bonus_types,
        inst.constraints,
        week_start=WEEK,
        horizon_weeks=inst.horizon_weeks,
        random_state=0,
        time_limit=60,
        method="dual",
        with_reasons=with_reasons,
    )


def test_value_pairs_gives_the_same_arrays_when_built_in_small_slices(monkeypatch):
    inst = make_instance(700, seed=3)
    uplift = pd.DataFrame(
        {
            "segment": ["at risk", "loyal"],
            "bonus_type": ["coupon10", "points2x"],
            "treated_n": [400, 300],
            "control_n": [100, 80],
            "incremental_margin_per_treated": [4.0, -1.0],
        }
    )
    whole = _valued(inst, keep_pairs=True, uplift=uplift)
    monkeypatch.setattr(stages_module, "CHUNK", 37)
    sliced = _valued(inst, keep_pairs=True, uplift=uplift)
    for name in ("value", "cost", "resp", "expires", "window", "send", "next_visit"):
        np.testing.assert_array_equal(getattr(sliced, name), getattr(whole, name))
    np.testing.assert_array_equal(sliced.core.value, whole.core.value)
    np.testing.assert_array_equal(sliced.core.cost, whole.core.cost)
    assert (sliced.estimators["estimator"] != "model").sum() == 2


def test_build_core_in_place_equals_the_copied_core():
    inst = make_instance(900, seed=5)
    val = _valued(inst, keep_pairs=True)
    inp = read_inputs(
        inst.customers, inst.response, inst.bonus_types, inst.constraints, random_state=0
    )
    args = (inp.pair_ok, inp.treatable, inp.seg, inp.segments, inp.types, inst.constraints)
    copied = build_core(val.value.copy(), val.cost.copy(), *args)
    moved = build_core(val.value.copy(), val.cost.copy(), *args, in_place=True)
    assert 0 < moved.rows.size < inp.seg.size  # some rows are dropped, so rows really move
    np.testing.assert_array_equal(moved.rows, copied.rows)
    np.testing.assert_array_equal(moved.value, copied.value)
    np.testing.assert_array_equal(moved.cost, copied.cost)


def test_allocate_without_reasons_gives_the_decisions_with_reasons():
    inst = make_instance(2_000, seed=7, budget_per_customer=0.2)
    full = _allocate(inst, with_reasons=True)
    slim = _allocate(inst, with_reasons=False)
    assert slim.objective == full.objective
    assert slim.lp_bound == full.lp_bound
    a, b = full.decisions.drop(columns="reason"), slim.decisions.drop(columns="reason")
    pd.testing.assert_frame_equal(
        a.drop(columns="response_probability"), b.drop(columns="response_probability")
    )
    # kept as float32 for the core rows: a reported probability, 7 digits
    np.testing.assert_allclose(b["response_probability"], a["response_probability"], rtol=1e-6)
    assert (a["status"] == "allocated").sum() > 0


def test_segment_codes_reads_a_categorical_like_its_strings():
    seg = pd.Categorical(
        ["new", "at risk", "new", "loyal"], categories=["zz", "new", "loyal", "at risk"]
    )
    frame = pd.DataFrame({"segment": seg})
    codes, names = segment_codes(frame)
    codes_str, names_str = segment_codes(frame.astype({"segment": "str"}))
    assert names == names_str == ("at risk", "loyal", "new")  # sorted, unused "zz" left out
    np.testing.assert_array_equal(codes, codes_str)


def test_compact_instance_holds_the_same_draws_in_float32():
    loose = make_instance(1_000, seed=2)
    compact = make_instance(1_000, seed=2, compact=True)
    assert compact.customers["segment"].dtype == "category"
    assert compact.response["response_coupon10"].dtype == np.float32
    np.testing.assert_array_equal(
        compact.customers["segment"].astype("str"), loose.customers["segment"]
    )
    np.testing.assert_allclose(
        compact.customers["clv"].to_numpy(np.float64), loose.customers["clv"], rtol=1e-6
    )
    result = _allocate(compact, with_reasons=False)
    assert result.gap <= 1e-4
    assert result.objective == pytest.approx(
        _allocate(loose, with_reasons=False).objective, rel=1e-4
    )
