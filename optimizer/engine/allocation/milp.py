"""Exact allocation as one MILP: in PuLP for small instances, as arrays for the repair step.

Model (``x[i, b]`` binary for each candidate pair, ``v`` value, ``c`` expected cost)::

    max  sum v[i,b] x[i,b]
    s.t. sum_b x[i,b] <= 1                      each customer at most one bonus
         sum c[i,b] x[i,b] <= budget            expected cost
         sum_i x[i,b] <= cap[b]                 per-type caps (finite ones)
         sum_{i in S, b} x[i,b] >= need[S]      segment coverage minima
         sum_{(i,b) in row r} w_r[i,b] x[i,b] <= / >= limit[r]   coupling rows (``coupling.py``)

The LP relaxation (same model, ``0 <= x <= 1``) gives the upper bound, the shadow prices and, with
the budget raised by 10%, the value of more budget. Solved by HiGHS (CBC fallback) with an explicit
time limit; a time-limited run is reported ``time_limit`` even if the solver says "Optimal".

Constraints: PuLP model building is Python-speed (~20k pairs/s), so ``allocate`` uses this only up
to ``AllocationConfig.exact_max_pairs`` pairs; the benchmark also calls it on 600k pairs.
"""

from __future__ import annotations

import time
from typing import Any

import highspy
import numpy as np
import pulp

from optimizer.engine.allocation.coupling import pair_weights
from optimizer.engine.allocation.deadline import MIN_SOLVER_SECONDS, Deadline
from optimizer.engine.allocation.problem import Core
from optimizer.engine.allocation.solver import (
    Solution,
    check_feasible,
    make_solver,
    objective,
    solver_facts,
)
from optimizer.engine.allocation.types import (
    STATUS_FEASIBLE,
    STATUS_OPTIMAL,
    STATUS_TIME_LIMIT,
    AllocationConfig,
)


class MilpNoIncumbent(Exception):
    """The MILP solver stopped at its time limit without any feasible solution (not a proof of
    infeasibility: ``allocate`` falls back to the decomposition and reports ``time_limit``)."""


class MilpInfeasible(Exception):
    """The LP relaxation is infeasible: ``allocate`` asks the decomposition which constraints
    conflict (``infeasibility.explain``) and raises the named error."""


def build_model(
    core: Core,
) -> tuple[pulp.LpProblem, np.ndarray, np.ndarray, list[pulp.LpVariable]]:
    """The MILP over the finite entries of ``core.value``; returns (problem, rows, cols, vars)."""
    value, cost, seg, budget, caps = core.value, core.cost, core.seg, core.budget, core.caps
    rows, cols = np.nonzero(np.isfinite(value))
    prob = pulp.LpProblem("bonus_allocation", pulp.LpMaximize)
    xs = [pulp.LpVariable(f"x_{i}_{j}", cat=pulp.LpBinary) for i, j in zip(rows, cols, strict=True)]
    v = value[rows, cols].tolist()
    c = cost[rows, cols].tolist()
    prob += pulp.LpAffineExpression(list(zip(xs, v, strict=True)))
    starts = np.flatnonzero(np.r_[True, rows[1:] != rows[:-1]]) if rows.size else rows
    ends = np.r_[starts[1:], rows.size]
    for a, b in zip(starts.tolist(), ends.tolist(), strict=True):
        if b - a > 1:
            prob += pulp.LpAffineExpression([(x, 1.0) for x in xs[a:b]]) <= 1
    prob += (pulp.LpAffineExpression(list(zip(xs, c, strict=True))) <= budget, "budget")
    for j in range(caps.shape[0]):
        if np.isfinite(caps[j]):
            members = np.flatnonzero(cols == j).tolist()
            expr = pulp.LpAffineExpression([(xs[k], 1.0) for k in members])
            prob += (expr <= float(caps[j]), f"cap_{j}")
    for s, need in core.coverage:
        members = np.flatnonzero(seg[rows] == s).tolist()
        expr = pulp.LpAffineExpression([(xs[k], 1.0) for k in members])
        prob += (expr >= float(need), f"coverage_{s}")
    if core.extra:
        weights = pair_weights(core.extra, core.groups, cost, rows, cols)
        for r, row in enumerate(core.extra):
            hit = np.flatnonzero(weights[:, r]).tolist()
            expr = pulp.LpAffineExpression([(xs[k], float(weights[k, r])) for k in hit])
            con = expr <= row.limit if row.sense == "<=" else expr >= row.limit
            prob += (con, f"extra_{r}")
    return prob, rows, cols, xs


def _shadow(prob: pulp.LpProblem, core: Core) -> dict[str, float]:
    out: dict[str, float] = {}
    for name, con in prob.constraints.items():
        pi = con.pi if con.pi is not None else 0.0
        if name == "budget":
            out["budget"] = abs(float(pi))
        elif name.startswith("cap_"):
            out[f"cap:{core.types[int(name[4:])]}"] = abs(float(pi))
        elif name.startswith("coverage_"):
            out[f"coverage:{core.segments[int(name[9:])]}"] = abs(float(pi))
        elif name.startswith("extra_"):
            out[core.extra[int(name[6:])].name] = abs(float(pi))
    return out


def _relax(prob: pulp.LpProblem, time_limit: float) -> float | None:
    """Solve the LP relaxation in place; its objective, or None if infeasible."""
    prob.solve(make_solver(time_limit, mip=False))
    if prob.status != pulp.LpStatusOptimal:
        return None
    return float(pulp.value(prob.objective) or 0.0)


def solve_milp(core: Core, *, deadline: Deadline, config: AllocationConfig) -> Solution:
    """Solve the core exactly (module docstring) within what is left of ``deadline``.

    Raises:
        InfeasibleAllocation: a constraint cannot hold on its own (named in the message).
        MilpInfeasible: the constraints conflict only together (``allocate`` names them).
    """
    t0 = time.perf_counter()
    check_feasible(core)
    prob, rows, cols, xs = build_model(core)
    build = time.perf_counter() - t0
    lp = _relax(prob, deadline.solver_seconds())
    if lp is None:
        raise MilpInfeasible("the LP relaxation is infeasible")
    shadow = _shadow(prob, core)
    budget_con = prob.constraints["budget"]
    budget_con.constant = -1.1 * core.budget
    lp10 = _relax(prob, deadline.solver_seconds())
    budget_con.constant = -core.budget
    remaining = deadline.solver_seconds()
    t_mip = time.perf_counter()
    prob.solve(make_solver(remaining, mip=True, gap_rel=config.optimal_tolerance))
    mip_seconds = time.perf_counter() - t_mip
    facts = solver_facts(prob)
    if prob.status == pulp.LpStatusInfeasible:
        raise MilpInfeasible("the MILP is infeasible")
    values = np.array([x.varValue if x.varValue is not None else 0.0 for x in xs])
    choice = np.full(core.value.shape[0], -1, dtype=np.int64)
    picked = values > 0.5
    choice[rows[picked]] = cols[picked]
    no_solution = facts["solution"] not in ("Optimal Solution Found", "Solution Found")
    has_minimum = bool(core.coverage) or any(r.sense == ">=" for r in core.extra)
    if no_solution and not picked.any() and has_minimum:
        raise MilpNoIncumbent(
            f"HiGHS found no integer solution in {mip_seconds:.0f} s (time left {remaining:.1f} s)"
        )
    obj = objective(core, choice)
    gap = (lp - obj) / max(abs(lp), 1e-9)
    time_limited = bool(facts["time_limited"]) or deadline.expired()
    proven = prob.status == pulp.LpStatusOptimal and (
        facts["mip_gap"] is None or facts["mip_gap"] <= config.optimal_tolerance
    )
    if time_limited:
        status = STATUS_TIME_LIMIT
    elif proven or gap <= config.optimal_tolerance:
        status = STATUS_OPTIMAL
    elif gap <= config.gap_tolerance:
        status = STATUS_FEASIBLE
    else:
        status = STATUS_TIME_LIMIT
    details: dict[str, Any] = {
        "pairs": len(xs),
        "build_seconds": round(build, 3),
        "mip_seconds": round(mip_seconds, 3),
        "solver": type(prob.solver).__name__ if getattr(prob, "solver", None) else "",
        **facts,
    }
    return Solution(
        choice=choice,
        lp_bound=lp,
        lp_bound_plus10=lp10 if lp10 is not None else lp,
        shadow=shadow,
        status=status,
        method="milp",
        details=details,
        # proven optimal: no integer allocation beats obj by more than HiGHS's relative gap
        proven_bound=obj + abs(obj) * (facts["mip_gap"] or 0.0) if proven else None,
    )


#: HiGHS model statuses after which its incumbent (if any) is usable by the repair step.
_SUB_USABLE = (
    highspy.HighsModelStatus.kOptimal,
    highspy.HighsModelStatus.kObjectiveBound,
    highspy.HighsModelStatus.kObjectiveTarget,
    highspy.HighsModelStatus.kInterrupt,
    highspy.HighsModelStatus.kTimeLimit,
    highspy.HighsModelStatus.kIterationLimit,
)


def _sub_rows(
    sub: Core, rows: np.ndarray, cols: np.ndarray, cost: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The constraints of :func:`build_model` over the pairs ``(rows, cols)`` as CSR arrays:
    (lower, upper, starts, pair index, coefficient), built with numpy (no Python per pair)."""
    inf = highspy.kHighsInf
    m = rows.size
    lower: list[float] = []
    upper: list[float] = []
    index: list[np.ndarray] = []
    coef: list[np.ndarray] = []

    def add(lo: float, up: float, idx: np.ndarray, w: np.ndarray) -> None:
        lower.append(lo)
        upper.append(up)
        index.append(idx)
        coef.append(w)

    # at most one bonus per customer (pairs of a customer are contiguous: rows is sorted)
    counts = np.bincount(rows, minlength=sub.value.shape[0])
    multi = np.flatnonzero(counts > 1)
    starts_all = np.r_[0, np.cumsum(counts)[:-1]]
    if multi.size:
        lens = counts[multi]
        first = np.repeat(starts_all[multi], lens)
        offset = np.arange(int(lens.sum())) - np.repeat(np.cumsum(lens) - lens, lens)
        one_idx = (first + offset).astype(np.int32)
        one_starts = np.r_[0, np.cumsum(lens)[:-1]]
    every = np.arange(m, dtype=np.int32)
    add(-inf, float(sub.budget), every, cost)
    for j in np.flatnonzero(np.isfinite(sub.caps)).tolist():
        members = np.flatnonzero(cols == j).astype(np.int32)
        add(-inf, float(sub.caps[j]), members, np.ones(members.size))
    seg = sub.seg[rows]
    for s, need in sub.coverage:
        members = np.flatnonzero(seg == s).astype(np.int32)
        add(float(need), inf, members, np.ones(members.size))
    if sub.extra:
        weights = pair_weights(sub.extra, sub.groups, sub.cost, rows, cols)
        for r, row in enumerate(sub.extra):
            hit = np.flatnonzero(weights[:, r]).astype(np.int32)
            lim = float(row.limit)
            lo, up = (-inf, lim) if row.sense == "<=" else (lim, inf)
            add(lo, up, hit, weights[hit, r])
    sizes = np.array([i.size for i in index], dtype=np.int64)
    idx_all = np.concatenate(index) if index else np.zeros(0, dtype=np.int32)
    coef_all = np.concatenate(coef) if coef else np.zeros(0)
    lo_all = np.array(lower)
    up_all = np.array(upper)
    starts = np.r_[0, np.cumsum(sizes)[:-1]] if sizes.size else np.zeros(0, dtype=np.int64)
    if multi.size:
        base = int(idx_all.size)
        idx_all = np.r_[idx_all, one_idx]
        coef_all = np.r_[coef_all, np.ones(one_idx.size)]
        starts = np.r_[starts, base + one_starts]
        lo_all = np.r_[lo_all, np.full(multi.size, -inf)]
        up_all = np.r_[up_all, np.ones(multi.size)]
    return lo_all, up_all, starts.astype(np.int32), idx_all.astype(np.int32), coef_all


def solve_sub_milp(sub: Core, *, time_limit: float, gap_abs: float) -> np.ndarray | None:
    """Best choice vector of a residual problem (repair step), or None if none was found.

    The model of :func:`build_model`, handed to HiGHS (highspy) as arrays: PuLP built it at
    Python speed (one object per pair and term: 0.5-1.0 s of CPU for the ~9,000 pairs of the
    1M-customer repair, more than HiGHS needed to solve it). Any incumbent HiGHS returns is
    accepted (also at its time limit); the caller checks the allocation's feasibility.
    """
    rows, cols = np.nonzero(np.isfinite(sub.value))
    n = sub.value.shape[0]
    m = int(rows.size)
    if m == 0:
        return np.full(n, -1, dtype=np.int64)
    value = sub.value[rows, cols]
    cost = sub.cost[rows, cols]
    lower, upper, starts, index, coef = _sub_rows(sub, rows, cols, cost)
    h = highspy.Highs()  # type: ignore[no-untyped-call]
    h.setOptionValue("output_flag", False)
    h.setOptionValue("time_limit", max(float(time_limit), MIN_SOLVER_SECONDS))
    h.setOptionValue("mip_rel_gap", 1e-9)
    h.setOptionValue("mip_abs_gap", float(gap_abs))
    # The residual has one row per free customer and a few coupling rows, nothing presolve
    # can shrink: at 1M x 6 (11,641 pairs) it was 0.45 of the 0.62 s CPU, with the same
    # root-node answer and gap with it off.
    h.setOptionValue("presolve", "off")
    every = np.arange(m, dtype=np.int32)
    h.addVars(m, np.zeros(m), np.ones(m))
    h.changeColsCost(m, every, value)
    integer = np.full(m, highspy.HighsVarType.kInteger.value, dtype=np.uint8)
    h.changeColsIntegrality(m, every, integer)
    h.changeObjectiveSense(highspy.ObjSense.kMaximize)
    h.addRows(lower.size, lower, upper, int(index.size), starts, index, coef)
    h.run()
    if h.getModelStatus() not in _SUB_USABLE or h.getInfo().primal_solution_status != 2:
        return None
    x = np.asarray(h.getSolution().col_value, dtype=np.float64)
    choice = np.full(n, -1, dtype=np.int64)
    picked = x > 0.5
    choice[rows[picked]] = cols[picked]
    return choice
