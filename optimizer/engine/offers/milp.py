"""The direct MILP over every (customer, option) pair: exact, for small instances.

Objective and constraints: those of :mod:`optimizer.engine.offers` (maximise the chosen options'
value; N per customer, one generic, required options kept, the coupling rows of
:mod:`optimizer.engine.offers.rows`). Built with PuLP, solved by HiGHS (CBC when HiGHS is
missing) to ``gap_tolerance / 10``; the LP relaxation is solved first for its bound. Also solves
the decomposition's residual problem (a few ambiguous customers under what the others leave).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pulp

from optimizer.engine.allocation.deadline import Deadline
from optimizer.engine.allocation.solver import make_solver, solver_facts
from optimizer.engine.allocation.types import InfeasibleAllocation
from optimizer.engine.offers.greedy import greedy_fill
from optimizer.engine.offers.rows import Rows
from optimizer.engine.offers.types import GENERIC


@dataclass(frozen=True, eq=False)
class MilpAnswer:
    """``pick`` (bool per option), the LP relaxation's optimum, the proven ``bound`` (branch and
    bound's dual bound, never above ``lp_bound``) and the solver facts."""

    pick: np.ndarray
    lp_bound: float
    bound: float
    facts: dict[str, Any]


def _build(frame: pd.DataFrame, rows: Rows, max_offers: int, *, integer: bool) -> tuple[Any, ...]:
    prob = pulp.LpProblem("offers", pulp.LpMaximize)
    cat = pulp.LpBinary if integer else pulp.LpContinuous
    x = [pulp.LpVariable(f"x{i}", lowBound=0, upBound=1, cat=cat) for i in range(len(frame))]
    values = frame["value"].to_numpy("float64")
    prob += pulp.lpSum(float(v) * x[i] for i, v in enumerate(values))
    is_generic = (frame["kind"] == GENERIC).to_numpy()
    for n, idx in enumerate(frame.groupby("customer_id", sort=True).indices.values()):
        prob += pulp.lpSum(x[i] for i in idx) <= max_offers, f"n{n}"
        generic = [i for i in idx if is_generic[i]]
        if len(generic) > 1:
            prob += pulp.lpSum(x[i] for i in generic) <= 1, f"g{n}"
    for i in np.flatnonzero(frame["required"].to_numpy(dtype=bool)):
        prob += x[i] >= 1, f"r{i}"
    flat_rows = rows.index.ravel()
    flat_options = np.repeat(np.arange(len(frame)), rows.index.shape[1])
    flat_weights = rows.weight.ravel()
    for k in np.unique(flat_rows[flat_rows >= 0]):
        at = np.flatnonzero(flat_rows == k)
        terms = zip(flat_options[at], flat_weights[at], strict=True)
        prob += pulp.lpSum(float(w) * x[i] for i, w in terms) <= float(rows.limits[k]), f"c{k}"
    return prob, x


def _dual_bound(prob: pulp.LpProblem, objective: float, fallback: float) -> float:
    """The MILP's proven upper bound (HiGHS's dual bound after branch and bound), else
    ``fallback`` (the LP relaxation, looser: on small instances its integrality gap is large).

    PuLP may hand HiGHS the negated (minimised) objective: the sign is read off the primal value.
    """
    model = getattr(prob, "solverModel", None)
    if model is None or not hasattr(model, "getInfo"):
        return fallback
    info = model.getInfo()
    bound = getattr(info, "mip_dual_bound", None)
    primal = getattr(info, "objective_function_value", None)
    if bound is None or primal is None or not np.isfinite(bound):
        return fallback
    negated = abs(primal + objective) < abs(primal - objective)
    return -float(bound) if negated else float(bound)


def solve_milp(
    frame: pd.DataFrame,
    rows: Rows,
    max_offers: int,
    *,
    deadline: Deadline,
    time_cap: float | None = None,
    gap_tolerance: float,
    gap_abs: float | None = None,
) -> MilpAnswer:
    """Solve the MILP on ``frame`` (index 0..n-1) to the relative gap ``gap_tolerance / 10``
    (or the absolute ``gap_abs`` if it is reached first); keeps the greedy choice when the time
    limit stops the solver with a worse incumbent (``facts["incumbent"] == "greedy"``). The LP
    relaxation and the MILP share what ``deadline`` leaves (at most ``time_cap`` seconds).

    Raises:
        InfeasibleAllocation: the constraints cannot all hold.
    """
    if time_cap is not None:  # at most ``time_cap`` from now, never past ``deadline``
        deadline = deadline.until(deadline.clock() + time_cap)
    relaxed, _ = _build(frame, rows, max_offers, integer=False)
    relaxed.solve(make_solver(deadline.solver_seconds(), mip=False))
    lp_bound = float(pulp.value(relaxed.objective) or 0.0)
    prob, x = _build(frame, rows, max_offers, integer=True)
    solver = make_solver(deadline.solver_seconds(), gap_rel=gap_tolerance / 10, gap_abs=gap_abs)
    prob.solve(solver)
    facts = solver_facts(prob)
    if facts["status"] == "Infeasible":
        raise InfeasibleAllocation("The offer constraints cannot all hold.", constraint="budget")
    pick = np.array([(v.value() or 0.0) > 0.5 for v in x], dtype=bool)
    fallback = greedy_fill(frame, rows, max_offers)
    values = frame["value"].to_numpy("float64")
    if float(values[fallback].sum()) > float(values[pick].sum()) + 1e-9:
        # Stopped by its time limit without a better incumbent: keep the greedy one.
        pick = fallback
        facts["incumbent"] = "greedy"
    objective = float(values[pick].sum())
    bound = min(_dual_bound(prob, objective, lp_bound), lp_bound)
    return MilpAnswer(pick=pick, lp_bound=lp_bound, bound=bound, facts=facts)
