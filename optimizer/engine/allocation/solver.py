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

from optimizer.engine.allocation.coupling import NO_GROUP
from optimizer.engine.allocation.coupling import usage as coupling_usage
from optimizer.engine.allocation.deadline import MIN_SOLVER_SECONDS
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
    #: A bound on the best *integer* allocation tighter than ``lp_bound``, when a solver proved
    #: one (the MILP's branch and bound); the reported gap is measured against the tighter one.
    proven_bound: float | None = None


def make_solver(
    time_limit: float, *, mip: bool = True, gap_rel: float = 1e-6, gap_abs: float | None = None
) -> Any:
    """HiGHS (highspy) if available, else the bundled CBC; both silent, both time-limited."""
    limit = max(float(time_limit), MIN_SOLVER_SECONDS)
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
    """Cost, count per type, coverage count per segment and coupling-row usage of a choice."""
    rows = np.flatnonzero(choice >= 0)
    k = len(core.types)
    return {
        "cost": float(core.cost[rows, choice[rows]].sum()),
        "count": np.bincount(choice[rows], minlength=k).astype(np.float64),
        "covered": np.bincount(core.seg[rows], minlength=len(core.segments)).astype(np.float64),
        "extra": coupling_usage(core.extra, core.groups, core.cost, choice),
    }


def extra_violation(core: Core, used: np.ndarray, tol: float = 1e-6) -> np.ndarray:
    """Bool per coupling row: violated at usage ``used``."""
    limits = core.extra_limits()
    sense = np.array([r.sense == "<=" for r in core.extra], dtype=bool)
    slack = tol * np.maximum(1.0, np.abs(limits))
    over = used > limits + slack
    under = used < limits - slack
    out: np.ndarray = np.where(sense, over, under)
    return out


def is_feasible(core: Core, choice: np.ndarray, tol: float = 1e-6) -> bool:
    """Whether a choice satisfies budget, caps, coverage and the coupling rows."""
    use = usage(core, choice)
    if use["cost"] > core.budget + tol * max(1.0, core.budget):
        return False
    if np.any(use["count"] > core.caps + 1e-9):
        return False
    if core.extra and extra_violation(core, use["extra"], tol).any():
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
        eligible = finite[members].sum(axis=0).astype(np.float64)
        room = float(np.minimum(core.caps, eligible).sum())
        if req > room:
            stopping = [f"cap:{core.types[j]}" for j in np.flatnonzero(core.caps < eligible)]
            conflict = (f"coverage:{name}", *stopping)
            raise InfeasibleAllocation(
                f"coverage minimum for segment {name!r} needs {req} customers but the per-type "
                f"caps leave room for at most {int(room)} of them (conflict: "
                f"{', '.join(repr(c) for c in conflict)})",
                constraint=f"coverage:{name}",
                constraints=conflict,
            )
        costs = np.where(finite[members], core.cost[members], np.inf).min(axis=1)
        cheapest.append(np.sort(costs)[: int(req)])
    if cheapest:
        need = float(sum(c.sum() for c in cheapest))
        if need > core.budget * (1 + 1e-9) + 1e-9:
            names = ", ".join(repr(core.segments[s]) for s, _ in core.coverage)
            conflict = ("budget", *(f"coverage:{core.segments[s]}" for s, _ in core.coverage))
            raise InfeasibleAllocation(
                f"coverage minimum(s) for {names} cannot be met within the budget: the cheapest "
                f"bonuses that reach them cost {need:,.2f} in expectation > budget "
                f"{core.budget:,.2f} (conflict: {', '.join(repr(c) for c in conflict)})",
                constraint="budget",
                constraints=conflict,
            )
    reach_of = _reach(core, finite)
    for r, row in enumerate(core.extra):
        if row.sense != ">=" or row.limit <= 0:
            continue
        reach = reach_of[r]
        if reach < row.limit * (1 - 1e-9):
            raise InfeasibleAllocation(
                f"minimum {row.name!r} needs {row.limit:,.2f} but the eligible customers it "
                f"counts can give at most {reach:,.2f} (after contact limits and the control "
                "group)",
                constraint=row.name,
            )


def _reach(core: Core, finite: np.ndarray) -> np.ndarray:
    """Per coupling row: the most it can count (each member's heaviest eligible pair), one
    pass per (attribute, type mask, weight) family rather than one (n, K) mask per row."""
    out = np.zeros(len(core.extra))
    best: dict[tuple[int, bytes, bool], np.ndarray] = {}
    for r, row in enumerate(core.extra):
        if row.group == NO_GROUP:
            continue
        key = (row.attr, row.types.tobytes(), row.cost_weighted)
        if key not in best:
            w = np.where(finite & row.types, core.cost if row.cost_weighted else 1.0, 0.0)
            per = w.max(axis=1, initial=0.0)
            codes = np.zeros(per.size, dtype=np.int64) if row.attr < 0 else core.groups[row.attr]
            best[key] = np.bincount(codes, weights=per)
        totals = best[key]
        g = 0 if row.attr < 0 else row.group
        out[r] = float(totals[g]) if g < totals.size else 0.0
    return out


def joint_infeasible(core: Core, names: list[str]) -> InfeasibleAllocation:
    """The error for minima that fail only together with the limits that stop them.

    ``names``: every constraint of the conflict, minimums first (see
    ``infeasibility.explain``); empty when the solver could not tell, then every minimum and
    limit is named.
    """
    if not names:
        names = [f"coverage:{core.segments[s]}" for s, _ in core.coverage]
        names += [r.name for r in core.extra if r.sense == ">="]
        names += [
            "budget",
            *(f"cap:{core.types[j]}" for j in np.flatnonzero(np.isfinite(core.caps))),
        ]
        names += [r.name for r in core.extra if r.sense == "<="]
    listed = ", ".join(repr(n) for n in names)
    return InfeasibleAllocation(
        f"these constraints cannot all hold together: {listed} (the minimum(s) cannot be met "
        "within the limit(s))",
        constraint=names[0] if names else "coverage",
        constraints=tuple(names),
    )
