"""The column generation's dual smoothing and its warm start from a sample (no database)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from optimizer.engine.offers.dual import column_generation, sample_multipliers
from optimizer.engine.offers.pricing import price
from optimizer.engine.offers.rows import build_layout, build_rows
from tests.optimizer.engine.test_offers_decomposition import random_options, tight_limits


def problem(frame: pd.DataFrame, limits):
    treat = frame.loc[frame["value"] > 0].reset_index(drop=True)
    rows, layout = build_rows(treat, limits), build_layout(treat, limits.max_offers)
    return layout, rows, treat["value"].to_numpy("float64")


def lagrangian(layout, rows, value, y) -> float:
    return float(price(layout, value - rows.reduce(y)).value.sum() + y @ rows.limits)


def solve(layout, rows, value, **kwargs):
    return column_generation(
        layout, rows, value, groups=16, tolerance=1e-9, deadline=float("inf"), **kwargs
    )


@pytest.mark.parametrize("seed", [1, 2])
def test_smoothed_column_generation_reaches_the_same_lp_bound(seed):
    frame = random_options(200, seed)
    layout, rows, value = problem(frame, tight_limits(frame, max_offers=3))
    plain = solve(layout, rows, value)
    smoothed = solve(layout, rows, value, smoothing=0.5)
    assert plain.converged
    assert smoothed.converged
    assert smoothed.bound == pytest.approx(plain.bound, rel=1e-7)
    assert smoothed.master == pytest.approx(plain.master, rel=1e-7)


def test_sample_multipliers_of_replicated_customers_bound_the_whole_at_its_lp():
    # Every template customer appears 4 times in a row, the limits are 4 times a template
    # problem's: the sample (every 4th customer) is the template problem, so its multipliers
    # are optimal for the whole and their Lagrangian bound is the whole's LP value.
    template = random_options(50, 3)
    copies = [template.assign(customer_id=template["customer_id"] * 4 + k) for k in range(4)]
    frame = pd.concat(copies, ignore_index=True)
    limits = tight_limits(template, max_offers=3)
    scaled = dataclasses.replace(
        limits,
        budget=4 * limits.budget,
        product_budgets={p: 4 * b for p, b in limits.product_budgets.items()},
        supplier_budgets={s: 4 * b for s, b in limits.supplier_budgets.items()},
        option_caps={c: 4 * b for c, b in limits.option_caps.items()},
    )
    layout, rows, value = problem(frame, scaled)
    whole = solve(layout, rows, value)
    y = sample_multipliers(
        layout, rows, value, sample=50, groups=16, tolerance=1e-9, deadline=float("inf")
    )
    assert y.shape == (len(rows.names),)
    assert (y >= 0).all()
    assert lagrangian(layout, rows, value, y) == pytest.approx(whole.bound, rel=1e-7)


def test_column_generation_from_a_sample_start_keeps_a_valid_bound():
    frame = random_options(300, 4)
    layout, rows, value = problem(frame, tight_limits(frame, max_offers=3))
    cold = solve(layout, rows, value)
    y0 = sample_multipliers(
        layout, rows, value, sample=60, groups=8, tolerance=1e-9, deadline=float("inf")
    )
    warm = solve(layout, rows, value, y0=y0, smoothing=0.5)
    assert warm.converged
    assert warm.bound == pytest.approx(cold.bound, rel=1e-7)
    assert lagrangian(layout, rows, value, np.asarray(y0)) >= cold.bound - 1e-6
