"""The column generation of the chain-scale allocation (``dual.py``): a Dantzig-Wolfe master
over aggregated columns, priced by Wentges-smoothed multipliers until the master's value meets
the Lagrangian bound.

Its pieces are used by the solve itself (``dual.solve_dual``: the full core, its warm-start
sample and the +10% budget what-if) and by the explanation of an infeasible core
(``infeasibility.py``: the same generation on the feasibility problem).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from optimizer.engine.allocation.deadline import Deadline
from optimizer.engine.allocation.master import _Columns, _master
from optimizer.engine.allocation.pricing import Column, Pricing
from optimizer.engine.allocation.problem import Core

#: Wentges smoothing weight of the stability centre: ``COLD_ALPHA`` from zero multipliers,
#: ``WARM_ALPHA`` from a sample's near-optimal multipliers (the first masters have few columns
#: and their duals jump far from the optimum: pricing near the good centre cut the passes at
#: 1M x 6 from 21 to 10, and the what-if's from 9 to 3). With columns disaggregated by block
#: (coupling rows by store) each block mixes its own columns and the strong smoothing slowed the
#: convergence instead (25 -> 34 passes with 50 store caps): those keep ``COLD_ALPHA``.
COLD_ALPHA = 0.5
WARM_ALPHA = 0.9
MAX_ITERATIONS = 400


def generate(
    pricer: Pricing,
    cols: _Columns,
    budget: float,
    until: float,
    deadline: Deadline,
    penalty: float,
    tolerance: float,
    start: dict[str, Any] | None = None,
    alpha: float = COLD_ALPHA,
) -> dict[str, Any]:
    """Column generation until the master meets the Lagrangian bound (or clock ``until``).

    ``start`` (bound and multipliers of a full pricing already done) seeds the stability center;
    ``alpha`` is the centre's smoothing weight (``WARM_ALPHA`` when it is near the optimum).

    Wentges smoothing: price at ``alpha * best + (1 - alpha) * master`` multipliers, which damps
    the zig-zag of plain Kelley steps; after a step that did not move the master (mis-pricing)
    the next one prices at the master's own multipliers, which keeps convergence exact.
    """
    need = pricer.need
    best: dict[str, Any] = dict(start) if start else {"bound": np.inf}
    it = 0
    m: dict[str, Any] = {"master": -np.inf, "artificial": np.inf}
    last_master = -np.inf
    while it < MAX_ITERATIONS:
        it += 1
        m = _master(cols, pricer.core, budget, need, penalty, deadline.solver_seconds(60.0))
        master = m["master"]
        lam, mu, nu, sigma = m["lam"], m["mu"], m["nu"], m["sigma"]
        smooth = "lam" in best and master > last_master + 1e-9 * max(1.0, abs(master))
        last_master = master
        if smooth:
            lam = alpha * best["lam"] + (1 - alpha) * lam
            mu = alpha * best["mu"] + (1 - alpha) * mu
            nu = alpha * best["nu"] + (1 - alpha) * nu
            sigma = alpha * best["sigma"] + (1 - alpha) * sigma
        bound, column = pricer.price(lam, mu, nu, sigma, budget)
        if bound < best["bound"]:
            best = {"bound": bound, "lam": lam, "mu": mu, "nu": nu, "sigma": sigma}
        if best["bound"] - master <= tolerance * max(1.0, abs(best["bound"])):
            break
        add_column(cols, column)
        if deadline.clock() > until:
            break
    master = m["master"]
    converged = best["bound"] - master <= max(tolerance, 1e-6) * max(1.0, abs(best["bound"]))
    return {
        **best,
        "iterations": it,
        "converged": converged,
        "last": m,
        "master": master,
        "artificial": m["artificial"],
    }


def add_column(cols: _Columns, column: Column) -> None:
    value, cost, count, cover, extra, choice = column
    if cols.choices is not None:
        cols.choices.append(choice)
    for b in range(value.shape[0]):
        cols.value.append(float(value[b]))
        cols.cost.append(float(cost[b]))
        cols.count.append(count[b])
        cols.cover.append(cover[b])
        cols.extra.append(extra[b])
        cols.block.append(b)
        cols.source.append(cols.passes)
    cols.passes += 1


def seed(pricer: Pricing, cols: _Columns, duals: dict[str, Any], budget: float) -> dict[str, Any]:
    """Price every customer at given multipliers: a column and a valid bound to start from."""
    bound, column = pricer.price(duals["lam"], duals["mu"], duals["nu"], duals["sigma"], budget)
    add_column(cols, column)
    return {
        "bound": bound,
        "lam": duals["lam"],
        "mu": duals["mu"],
        "nu": duals["nu"],
        "sigma": duals["sigma"],
    }


def start_columns(pricer: Pricing, *, keep: bool = False) -> tuple[_Columns, dict[str, Any]]:
    """The empty column ("nothing for anyone") and zero multipliers; ``keep``: store every
    column's choice vector (the LP primal of the full core is read from them)."""
    core = pricer.core
    k, c, r = len(core.types), pricer.need.shape[0], len(core.extra)
    n = core.value.shape[0]
    choices: list[np.ndarray] | None = [] if keep else None
    cols = _Columns([], [], [], [], [], choices)
    nb = pricer.n_blocks
    empty: Column = (
        np.zeros(nb),
        np.zeros(nb),
        np.zeros((nb, k)),
        np.zeros((nb, c)),
        np.zeros((nb, r)),
        np.full(n, -1, dtype=np.int8),
    )
    add_column(cols, empty)
    zero = {"lam": 0.0, "mu": np.zeros(k), "nu": np.zeros(c), "sigma": np.zeros(r)}
    return cols, zero


def penalty_of(core: Core) -> float:
    """The artificial slacks' price: far above any value a customer can add."""
    finite = np.isfinite(core.value)  # reductions with ``where``: no copy of the finite values
    high = float(core.value.max(where=finite, initial=-np.inf))
    low = float(core.value.min(where=finite, initial=np.inf))
    penalty = 10.0 * (max(abs(high), abs(low)) if np.isfinite(high) else 1.0) + 1.0
    return penalty * (1.0 + float(core.cost.max(initial=0.0)))
