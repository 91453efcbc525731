"""Pricing split into customer-range chunks (``pricing.py``): the chunks' sums are the whole
core's pricing, and the decomposition fed by chunked pricing returns the same allocation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from optimizer.engine.allocation.pricing import (
    ChunkedPricing,
    LocalPricing,
    Multipliers,
    chunk_ranges,
    combine,
    in_process,
    split,
)
from tests.optimizer.engine.test_allocation_coupling import coupled, instance, solve


def captured_core(n: int = 3_000):
    """The core the engine builds for the coupled instance (five store blocks, coupling rows)."""
    inst, customers, types = instance(n)
    seen = []

    def factory(core):
        seen.append(core)
        return LocalPricing(core)

    solve(inst, customers, types, coupled(inst, n), method="dual", pricing=factory)
    return seen[0]


def multipliers(core, seed: int) -> Multipliers:
    rng = np.random.default_rng(seed)
    k, c, r = len(core.types), len(core.coverage), len(core.extra)
    sigma = rng.uniform(0, 0.5, r) * np.array([1 if x.sense == "<=" else -1 for x in core.extra])
    return Multipliers(float(rng.uniform(0, 2)), rng.uniform(0, 1, k), rng.uniform(0, 1, c), sigma)


def test_chunk_ranges_cover_every_position_once_in_order():
    assert chunk_ranges(10, 3) == [(0, 3), (3, 7), (7, 10)]
    assert chunk_ranges(2, 5) == [(0, 1), (1, 2)]
    assert chunk_ranges(0, 4) == [(0, 0)]


@pytest.mark.parametrize("chunks", [1, 2, 7])
def test_chunked_pricing_sums_to_the_whole_core_pricing(chunks):
    core = captured_core()
    whole = LocalPricing(core)
    assert whole.n_blocks == 5  # blocks by store: each chunk must keep the whole core's blocks
    chunked = ChunkedPricing(core, in_process(split(core, chunks)))
    for seed in range(3):
        m = multipliers(core, seed)
        bound, column = whole.price(m.lam, m.mu, m.nu, m.sigma, core.budget)
        c_bound, c_column = chunked.price(m.lam, m.mu, m.nu, m.sigma, core.budget)
        assert c_bound == pytest.approx(bound, rel=1e-12)
        np.testing.assert_array_equal(c_column[5], column[5])  # every customer's choice
        for part, full in zip(c_column[:5], column[:5], strict=True):
            np.testing.assert_allclose(part, full, rtol=1e-12, atol=1e-9)
        assert (column[5] >= 0).any()  # the multipliers leave someone a positive gain


def test_combine_refuses_no_chunk():
    with pytest.raises(ValueError, match="no chunk"):
        combine([])


@pytest.mark.parametrize("coupling", [False, True])
def test_decomposition_with_chunked_pricing_returns_the_same_allocation(coupling):
    n = 4_000
    inst, customers, types = instance(n)
    cons = coupled(inst, n) if coupling else inst.constraints
    local = solve(inst, customers, types, cons, method="dual")
    fanned = solve(
        inst,
        customers,
        types,
        cons,
        method="dual",
        pricing=lambda core: ChunkedPricing(core, in_process(split(core, 3))),
    )
    assert "dantzig-wolfe" in fanned.method
    pd.testing.assert_series_equal(fanned.decisions["bonus_type"], local.decisions["bonus_type"])
    assert fanned.decisions["bonus_type"].notna().sum() > n // 10
    assert fanned.objective == pytest.approx(local.objective, rel=1e-9)
    assert fanned.lp_bound == pytest.approx(local.lp_bound, rel=1e-9)
