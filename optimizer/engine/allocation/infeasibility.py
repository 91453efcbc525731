"""Why an allocation is impossible: every constraint of the conflict, proven.

When the minimums (coverage, ``>=`` limits) cannot hold together with the limits, the column
generation of ``colgen.py`` is run on the feasibility problem alone (every value 0, the
artificial slacks priced 1): its positive duals are exactly the limits that stop the minimums
(a Farkas certificate), not the ones that merely bind on value. The error names them all; when
no allocation was found in time and nothing was proven, it says so instead.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from optimizer.engine.allocation.colgen import generate, seed, start_columns
from optimizer.engine.allocation.deadline import Deadline
from optimizer.engine.allocation.pricing import LocalPricing
from optimizer.engine.allocation.problem import Core
from optimizer.engine.allocation.solver import joint_infeasible
from optimizer.engine.allocation.types import InfeasibleAllocation


def _conflict(core: Core, run: dict[str, Any]) -> list[str]:
    """Every constraint of the conflict at a converged master with a positive artificial: the
    minimums it cannot meet, then the limits whose duals are positive (the ones stopping it)."""
    last = run["last"]
    names = [
        f"coverage:{core.segments[s]}"
        for (s, _), short in zip(core.coverage, last["short_cov"], strict=True)
        if short > 1e-6
    ]
    names += [r.name for r, short in zip(core.extra, last["short_x"], strict=True) if short > 1e-6]
    if last["lam"] > 1e-9:
        names.append("budget")
    names += [f"cap:{core.types[j]}" for j in np.flatnonzero(last["mu"] > 1e-9)]
    names += [
        r.name
        for r, sig in zip(core.extra, last["sigma"], strict=True)
        if r.sense == "<=" and sig > 1e-9
    ]
    return names


def _phase_one(core: Core, deadline: Deadline) -> list[str]:
    """Every constraint of the conflict: column generation on the feasibility problem alone
    (every value 0, artificial slacks priced 1), whose positive duals are exactly the limits
    that stop the minimums (a Farkas certificate), not the ones that merely bind on value."""
    zero = core.subset(
        np.arange(core.value.shape[0]),
        budget=core.budget,
        caps=core.caps,
        coverage=core.coverage,
        limits=core.extra_limits(),
    )
    zero = replace(zero, value=np.where(np.isfinite(core.value), 0.0, -np.inf))
    pricer = LocalPricing(zero)
    cols, duals = start_columns(pricer)
    start = seed(pricer, cols, duals, core.budget)
    run = generate(pricer, cols, core.budget, deadline.at, deadline, 1.0, 1e-9, start)
    return _conflict(core, run) if run["artificial"] > 1e-6 else []


def no_allocation(core: Core, run: dict[str, Any], deadline: Deadline) -> InfeasibleAllocation:
    """The error when the recovery found no feasible allocation: a proven conflict when the
    phase-one generation finds one, else an honest "none found in time" (never a claim of
    infeasibility that was not proven)."""
    names = _phase_one(core, deadline) if run["converged"] or not deadline.expired() else []
    if names:
        return joint_infeasible(core, names)
    return InfeasibleAllocation(
        "no feasible allocation was found within the time limit (the constraints were not "
        "proven infeasible): allow more time or loosen the minimums",
        constraint="time_limit",
    )


def explain(core: Core, *, deadline: Deadline) -> InfeasibleAllocation:
    """The named error for a core whose minimums conflict with its limits (MILP path)."""
    return joint_infeasible(core, _phase_one(core, deadline))
