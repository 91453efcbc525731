"""Shared solver plumbing: the PuLP solver factory, status reading, usage and feasibility checks.

Objective: build the solver in one place (HiGHS through highspy, CBC as fallback), read PuLP
statuses through one helper, and name the constraint that cannot hold *before* any solver runs
(coverage larger than the eligible customers, the capped types or the budget can serve).

Constraints: ``time_limit`` is always explicit; a solver stopped by its time limit is never
reported as optimal (HiGHS may say "Optimal" then, so the model status is checked too).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pulp

from optimizer.engine.allocation.problem import Core
from optimizer.engine.allocation.types import InfeasibleAllocation


@dataclass(frozen=True, eq=False)
class Solution:
    """A solver's answer on a :class:`Core`: ``choice[i]`` is a type index or -1 (none)."""

    choice: np.ndarray
    lp_bound: float
    lp_bound_plus10: float
    shadow: dict[str, float]
    status: str
    method: str
    details: dict[str, Any] = field(default_factory=dict)


def make_solver(
    time_limit: float, *, mip: bool = True, gap_rel: float = 1e-6, gap_abs: float | None = None
) -> Any:
    """HiGHS (highspy) if available, else the bundled CBC; both silent, both time-limited."""
    limit = max(float(time_limit), 0.1)
    opts: dict[str, Any] = {"msg": False, "timeLimit": limit, "mip": mip, "gapRel": gap_rel}
    if gap_abs is not None:
        opts["gapAbs"] = gap_abs
    try:
        return pulp.getSolver("HiGHS", **opts)
    except pulp.PulpSolverError:
        return pulp.getSolver("PULP_CBC_CMD", **opts)


def solver_facts(prob: pulp.LpProblem) -> dict[str, Any]:
    """Status strings and, for HiGHS, whether the time limit stopped it and its MIP gap."""
    facts: dict[str, Any] = {
        "status": pulp.LpStatus[prob.status],
        "solution": pulp.LpSolution.get(prob.sol_status, str(prob.sol_status)),
        "time_limited": False,
        "mip_gap": None,
    }
    model = getattr(prob, "solverModel", None)
    if model is not None and hasattr(model, "getModelStatus"):
        status = model.getModelStatus()
        facts["time_limited"] = "TimeLimit" in str(status) or "Interrupt" in str(status)
        facts["model_status"] = str(status)
        info = model.getInfo()
        gap = getattr(info, "mip_gap", None)
        facts["mip_gap"] = float(gap) if gap is not None and np.isfinite(gap) else None
    return facts


def objective(core: Core, choice: np.ndarray) -> float:
    """Total value of a choice vector."""
    rows = np.flatnonzero(choice >= 0)
    return float(core.value[rows, choice[rows]].sum())


def usage(core: Core, choice: np.ndarray) -> dict[str, Any]:
    """Cost, count per type and coverage count per segment of a choice vector."""
    rows = np.flatnonzero(choice >= 0)
    k = len(core.types)
    return {
        "cost": float(core.cost[rows, choice[rows]].sum()),
        "count": np.bincount(choice[rows], minlength=k).astype(np.float64),
        "covered": np.bincount(core.seg[rows], minlength=len(core.segments)).astype(np.float64),
    }


def is_feasible(core: Core, choice: np.ndarray, tol: float = 1e-6) -> bool:
    """Whether a choice satisfies budget, caps and coverage."""
    use = usage(core, choice)
    if use["cost"] > core.budget + tol * max(1.0, core.budget):
        return False
    if np.any(use["count"] > core.caps + 1e-9):
        return False
    return all(use["covered"][s] >= req for s, req in core.coverage)


def check_feasible(core: Core) -> None:
    """Raise :class:`InfeasibleAllocation` for constraints that cannot hold on their own.

    Checks per coverage segment: enough customers, enough room under the caps of the types they
    can get, and the cheapest way to cover all the minima within the budget.
    """
    finite = np.isfinite(core.value)
    cheapest: list[np.ndarray] = []
    for s, req in core.coverage:
        name = core.segments[s]
        members = core.seg == s
        available = int(members.sum())
        if req > available:
            raise InfeasibleAllocation(
                f"coverage minimum for segment {name!r} needs {req} customers but only "
                f"{available} are eligible (after contact limits and the control group)",
                constraint=f"coverage:{name}",
            )
        room = sum(
            min(core.caps[j], float(finite[members, j].sum())) for j in range(len(core.types))
        )
        if req > room:
            raise InfeasibleAllocation(
                f"coverage minimum for segment {name!r} needs {req} customers but the per-type "
                f"caps leave room for at most {int(room)} of them",
                constraint=f"coverage:{name}",
            )
        costs = np.where(finite[members], core.cost[members], np.inf).min(axis=1)
        cheapest.append(np.sort(costs)[:req])
    if cheapest:
        need = float(sum(c.sum() for c in cheapest))
        if need > core.budget * (1 + 1e-9) + 1e-9:
            names = ", ".join(repr(core.segments[s]) for s, _ in core.coverage)
            raise InfeasibleAllocation(
                f"coverage minimum(s) for {names} cannot be met within the budget: the cheapest "
                f"bonuses that reach them cost {need:,.2f} in expectation > budget "
                f"{core.budget:,.2f}",
                constraint="budget",
            )


def joint_infeasible(core: Core, segment_codes: list[int]) -> InfeasibleAllocation:
    """The error for coverage minima that fail only together (budget and caps shared)."""
    names = ", ".join(repr(core.segments[s]) for s in segment_codes) or "the coverage segments"
    first = core.segments[segment_codes[0]] if segment_codes else ""
    return InfeasibleAllocation(
        f"coverage minimum(s) for {names} cannot be met together within the budget and the "
        f"per-type caps",
        constraint=f"coverage:{first}" if first else "coverage",
    )
