"""The one place the promotion engine builds a MILP solver and reads its status.

Objective: solve a PuLP problem with HiGHS (``highspy``) and fall back to the bundled CBC when
HiGHS is not available, so that the same code runs on PuLP 3.3 (Python 3.11) and PuLP 4.

Constraints: the status is read through :func:`solve` only; objective values are rounded
(HiGHS returns 6603.999999999999 where CBC returns 6604.0); a solution found before the time
limit is accepted only with a feasible incumbent (PuLP may call a time-limited stop "Optimal",
so the caller also checks every constraint on the returned choice).
"""

from __future__ import annotations

from dataclasses import dataclass

import pulp

#: Decimal places kept on objective values.
OBJECTIVE_DECIMALS = 6


@dataclass(frozen=True)
class SolveOutcome:
    """What the solver said: its name, PuLP's status text and the rounded objective."""

    solver: str
    status: str
    objective: float
    has_solution: bool


def make_solver(time_limit: float, mip_gap: float) -> tuple[str, pulp.LpSolver]:
    """HiGHS if available, else CBC; both silent and limited to ``time_limit`` seconds."""
    kwargs = {"msg": False, "timeLimit": max(1.0, float(time_limit)), "gapRel": mip_gap}
    for name in ("HiGHS", "PULP_CBC_CMD"):
        try:
            solver = pulp.getSolver(name, **kwargs)
        except pulp.PulpSolverError:
            continue
        if solver.available():
            return name, solver
    raise RuntimeError("neither HiGHS (highspy) nor CBC is available to PuLP")


def solve(problem: pulp.LpProblem, *, time_limit: float, mip_gap: float = 1e-6) -> SolveOutcome:
    """Solve ``problem`` in place and report the outcome (never raises on infeasibility)."""
    name, solver = make_solver(time_limit, mip_gap)
    code = problem.solve(solver)
    status = pulp.LpStatus.get(code, str(code))
    has_solution = code == pulp.LpStatusOptimal or (
        problem.sol_status in (pulp.LpSolutionIntegerFeasible, pulp.LpSolutionOptimal)
    )
    value = pulp.value(problem.objective) if has_solution else None
    objective = round(float(value or 0.0), OBJECTIVE_DECIMALS)
    return SolveOutcome(solver=name, status=status, objective=objective, has_solution=has_solution)
