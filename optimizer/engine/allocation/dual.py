"""Chain-scale allocation: Dantzig-Wolfe column generation over the coupling constraints.

Objective: the MILP of ``milp.py`` with millions of customers. Only a handful of constraints
couple customers (budget, one cap per type, one coverage minimum per segment); without them the
problem splits into independent per-customer choices.

Method:

1. *Pricing* (numpy, vectorised): for multipliers ``lam`` (budget), ``mu[b]`` (caps), ``nu[S]``
   (coverage) every customer takes ``argmax_b v[i,b] - lam*c[i,b] - mu[b] + nu[S(i)]`` if positive,
   else nothing. The Lagrangian value ``L = sum_i max(0, best_i) + lam*budget + sum mu*cap -
   sum nu*need`` is, for *any* non-negative multipliers, an upper bound on the LP relaxation and so
   on every allocation (weak duality). The per-customer polytope ``{sum_b x[i,b] <= 1, x >= 0}`` is
   integral, so ``min L`` equals the LP-relaxation optimum.
2. *Master* (PuLP, HiGHS): a Dantzig-Wolfe master over aggregated columns, one per pricing answer
   (its total value, expected cost, count per type and coverage per segment): choose a convex
   combination maximising value under the coupling rows; coverage rows have penalised artificial
   slacks so the master is always feasible (a positive artificial at convergence proves the
   coverage minimum infeasible). The master's duals are the next multipliers; its objective is a
   lower bound on the LP optimum, ``min L`` the upper bound: stop when they meet.
3. *Primal recovery*: at the final multipliers, customers whose best option beats the runner-up
   (or "nothing") by a clear margin keep it (complementary slackness: every LP optimum does the
   same); the ``free_customers`` most ambiguous ones form a small residual MILP (PuLP) over what
   budget, caps and coverage the fixed ones leave. A greedy repair is the fallback.

The reported gap ``(min L - objective) / min L`` is therefore provable: ``min L`` is a certified
upper bound, the objective that of a checked feasible allocation.

Constraints: memory is a few (n, K) float64 arrays; each pricing pass is O(n*K); the master has
at most ~(K + segments + 2) rows and one column per iteration.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import pulp

from optimizer.engine.allocation.problem import Core
from optimizer.engine.allocation.recovery import recover
from optimizer.engine.allocation.solver import (
    Solution,
    check_feasible,
    is_feasible,
    joint_infeasible,
    make_solver,
    objective,
)
from optimizer.engine.allocation.types import (
    STATUS_FEASIBLE,
    STATUS_FEASIBLE_ABOVE_GAP,
    STATUS_OPTIMAL,
    STATUS_TIME_LIMIT,
    AllocationConfig,
)

#: Relative tolerance of the column generation (master value vs Lagrangian bound), as a share of
#: ``AllocationConfig.gap_tolerance``: the LP must be solved well inside the gap we certify.
CG_TOLERANCE_SHARE = 0.01
#: The +10% budget what-if only needs a few digits: its bound may overstate by this share.
PLUS10_TOLERANCE = 1e-4
MAX_ITERATIONS = 400
#: Cores at least this large first solve a random sample of WARM_SAMPLE customers (scaled
#: constraints) for starting multipliers; the bound and the columns still come from everyone.
WARM_MIN_CUSTOMERS = 100_000
WARM_SAMPLE = 40_000


@dataclass
class _Columns:
    value: list[float]
    cost: list[float]
    count: list[np.ndarray]
    cover: list[np.ndarray]


class _Pricer:
    """Vectorised pricing over a core; holds the work buffer."""

    def __init__(self, core: Core) -> None:
        self.core = core
        self.buf = np.empty_like(core.value)
        self.ar = np.arange(core.value.shape[0])
        self.cov_segs = np.array([s for s, _ in core.coverage], dtype=np.int64)
        self.need = np.array([float(n) for _, n in core.coverage])
        self.finite_caps = np.isfinite(core.caps)

    def reduced(self, lam: float, mu: np.ndarray, nu: np.ndarray) -> np.ndarray:
        """``v - lam*c - mu + nu[seg]`` (-inf for non-candidates), a fresh array."""
        red = self._base(lam, mu).copy()
        if self.cov_segs.size:
            red += self._shift(nu)[:, None]
        return red

    def _base(self, lam: float, mu: np.ndarray) -> np.ndarray:
        buf = self.buf
        np.multiply(self.core.cost, -lam, out=buf)
        buf += self.core.value
        buf -= mu
        return buf

    def _shift(self, nu: np.ndarray) -> np.ndarray:
        shift = np.zeros(len(self.core.segments))
        shift[self.cov_segs] = nu
        per_customer: np.ndarray = shift[self.core.seg]
        return per_customer

    def price(
        self, lam: float, mu: np.ndarray, nu: np.ndarray, budget: float
    ) -> tuple[float, tuple[float, float, np.ndarray, np.ndarray]]:
        """(Lagrangian bound, aggregated column) at the given multipliers, over every customer.

        The coverage shift is constant per customer, so it does not change the argmax over
        types and is added after it (one pass fewer over the (n, K) arrays).
        """
        base = self._base(lam, mu)
        best = base.argmax(axis=1)
        top = base[self.ar, best]
        shift = self._shift(nu) if self.cov_segs.size else None
        if shift is not None:
            top += shift
        choice = np.where(top > 0, best, -1)
        column = self._aggregate(self.core.value, self.core.cost, self.core.seg, choice)
        caps = np.where(self.finite_caps, self.core.caps, 0.0)
        gain = float(top[top > 0].sum())
        bound = gain + lam * budget + float(mu @ caps) - float(nu @ self.need)
        return bound, column

    def _aggregate(
        self, value: np.ndarray, cost: np.ndarray, seg: np.ndarray, choice: np.ndarray
    ) -> tuple[float, float, np.ndarray, np.ndarray]:
        rows = np.flatnonzero(choice >= 0)
        pick = choice[rows]
        count = np.bincount(pick, minlength=len(self.core.types)).astype(np.float64)
        covered = np.bincount(seg[rows], minlength=len(self.core.segments))
        cover = covered[self.cov_segs].astype(np.float64) if self.cov_segs.size else np.zeros(0)
        return (
            float(value[rows, pick].sum()),
            float(cost[rows, pick].sum()),
            count,
            cover,
        )


def _master(
    cols: _Columns, core: Core, budget: float, need: np.ndarray, penalty: float
) -> tuple[float, float, np.ndarray, np.ndarray, float]:
    """Solve the restricted master LP: (objective, lam, mu, nu, artificial total)."""
    prob = pulp.LpProblem("dw_master", pulp.LpMaximize)
    theta = [pulp.LpVariable(f"t{k}", lowBound=0) for k in range(len(cols.value))]
    art = [pulp.LpVariable(f"a{s}", lowBound=0) for s in range(need.shape[0])]
    prob += pulp.lpSum(
        v * t for v, t in zip(cols.value, theta, strict=True)
    ) - penalty * pulp.lpSum(art)
    prob += (pulp.lpSum(theta) == 1, "convex")
    prob += (pulp.lpSum(c * t for c, t in zip(cols.cost, theta, strict=True)) <= budget, "budget")
    for j in np.flatnonzero(np.isfinite(core.caps)):
        expr = pulp.lpSum(n[j] * t for n, t in zip(cols.count, theta, strict=True))
        prob += (expr <= float(core.caps[j]), f"cap_{j}")
    for s in range(need.shape[0]):
        expr = pulp.lpSum(c[s] * t for c, t in zip(cols.cover, theta, strict=True)) + art[s]
        prob += (expr >= float(need[s]), f"cov_{s}")
    prob.solve(make_solver(60.0, mip=False))
    mu = np.zeros(len(core.types))
    nu = np.zeros(need.shape[0])
    for name, con in prob.constraints.items():
        pi = abs(float(con.pi or 0.0))
        if name.startswith("cap_"):
            mu[int(name[4:])] = pi
        elif name.startswith("cov_"):
            nu[int(name[4:])] = pi
    lam = abs(float(prob.constraints["budget"].pi or 0.0))
    artificial = float(sum(a.varValue or 0.0 for a in art))
    return float(pulp.value(prob.objective) or 0.0), lam, mu, nu, artificial


def _generate(
    pricer: _Pricer,
    cols: _Columns,
    budget: float,
    deadline: float,
    penalty: float,
    tolerance: float,
    start: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Column generation until the master meets the Lagrangian bound (or the deadline).

    ``start`` (bound and multipliers of a full pricing already done) seeds the stability center.

    Wentges smoothing: price at ``alpha * best + (1 - alpha) * master`` multipliers, which damps
    the zig-zag of plain Kelley steps; after a step that did not move the master (mis-pricing)
    the next one prices at the master's own multipliers, which keeps convergence exact.
    """
    need = pricer.need
    best: dict[str, Any] = dict(start) if start else {"bound": np.inf}
    it = 0
    master = -np.inf
    artificial = np.inf
    alpha = 0.5
    last_master = -np.inf
    while it < MAX_ITERATIONS:
        it += 1
        master, lam, mu, nu, artificial = _master(cols, pricer.core, budget, need, penalty)
        smooth = "lam" in best and master > last_master + 1e-9 * max(1.0, abs(master))
        last_master = master
        if smooth:
            lam = alpha * best["lam"] + (1 - alpha) * lam
            mu = alpha * best["mu"] + (1 - alpha) * mu
            nu = alpha * best["nu"] + (1 - alpha) * nu
        bound, column = pricer.price(lam, mu, nu, budget)
        if bound < best["bound"]:
            best = {"bound": bound, "lam": lam, "mu": mu, "nu": nu}
        if best["bound"] - master <= tolerance * max(1.0, abs(best["bound"])):
            break
        _add(cols, column)
        if time.perf_counter() > deadline:
            break
    converged = best["bound"] - master <= max(tolerance, 1e-6) * max(1.0, abs(best["bound"]))
    return {
        **best,
        "master": master,
        "iterations": it,
        "artificial": artificial,
        "converged": converged,
    }


def _add(cols: _Columns, column: tuple[float, float, np.ndarray, np.ndarray]) -> None:
    value, cost, count, cover = column
    cols.value.append(value)
    cols.cost.append(cost)
    cols.count.append(count)
    cols.cover.append(cover)


def _seed(pricer: _Pricer, cols: _Columns, duals: dict[str, Any], budget: float) -> dict[str, Any]:
    """Price every customer at given multipliers: a column and a valid bound to start from."""
    bound, column = pricer.price(duals["lam"], duals["mu"], duals["nu"], budget)
    _add(cols, column)
    return {"bound": bound, "lam": duals["lam"], "mu": duals["mu"], "nu": duals["nu"]}


def _warm_duals(core: Core, penalty: float, deadline: float) -> dict[str, Any] | None:
    """Multipliers from the same problem on a random sample of customers (budget, caps and
    coverage scaled to the sample): close to the full optimum, found at a fraction of the cost,
    so that the full column generation starts near its end. ``None`` for small cores."""
    n = core.value.shape[0]
    if n < WARM_MIN_CUSTOMERS:
        return None
    idx = np.sort(np.random.default_rng(0).choice(n, WARM_SAMPLE, replace=False))
    f = WARM_SAMPLE / n
    sub = Core(
        rows=idx,
        value=core.value[idx],
        cost=core.cost[idx],
        seg=core.seg[idx],
        budget=core.budget * f,
        caps=core.caps * f,
        coverage=tuple((s, need * f) for s, need in core.coverage),
        types=core.types,
        segments=core.segments,
    )
    pricer = _Pricer(sub)
    cols = _Columns([0.0], [0.0], [np.zeros(len(core.types))], [np.zeros(pricer.need.shape[0])])
    zero = {"lam": 0.0, "mu": np.zeros(len(core.types)), "nu": np.zeros(pricer.need.shape[0])}
    _seed(pricer, cols, zero, sub.budget)
    run = _generate(pricer, cols, sub.budget, deadline, penalty, 1e-6)
    return run if "lam" in run else None


def solve_dual(core: Core, *, time_limit: float, config: AllocationConfig) -> Solution:
    """Solve the core by column generation + fix-and-solve recovery (module docstring).

    Raises:
        InfeasibleAllocation: a constraint cannot hold (named in the message).
    """
    t0 = time.perf_counter()
    deadline = t0 + 0.7 * time_limit
    check_feasible(core)
    pricer = _Pricer(core)
    finite = core.value[np.isfinite(core.value)]
    penalty = 10.0 * (float(np.abs(finite).max()) if finite.size else 1.0) + 1.0
    penalty *= 1.0 + float(core.cost.max(initial=0.0))
    cols = _Columns([0.0], [0.0], [np.zeros(len(core.types))], [np.zeros(pricer.need.shape[0])])
    zero = {"lam": 0.0, "mu": np.zeros(len(core.types)), "nu": np.zeros(pricer.need.shape[0])}
    start = _seed(pricer, cols, zero, core.budget)
    warm = _warm_duals(core, penalty, t0 + 0.3 * time_limit)
    if warm is not None:
        seeded = _seed(pricer, cols, warm, core.budget)
        start = seeded if seeded["bound"] < start["bound"] else start
    tolerance = CG_TOLERANCE_SHARE * config.gap_tolerance
    run = _generate(pricer, cols, core.budget, deadline, penalty, tolerance, start)
    if run["artificial"] > 1e-6 and run["converged"]:
        short = [core.coverage[s][0] for s in range(len(core.coverage))]
        raise joint_infeasible(core, short)
    t_cg = time.perf_counter() - t0
    plus_start = _seed(pricer, cols, run, 1.1 * core.budget)
    plus = _generate(
        pricer,
        cols,
        1.1 * core.budget,
        t0 + 0.8 * time_limit,
        penalty,
        PLUS10_TOLERANCE,
        plus_start,
    )
    t_plus = time.perf_counter() - t0 - t_cg
    red = pricer.reduced(run["lam"], run["mu"], run["nu"])
    choice, how, n_free = recover(core, red, float(run["bound"]), config, t0 + time_limit)
    del red
    obj = objective(core, choice)
    bound = float(run["bound"])
    gap = (bound - obj) / max(abs(bound), 1e-9)
    if not is_feasible(core, choice):
        raise joint_infeasible(core, [s for s, _ in core.coverage])
    if gap <= config.optimal_tolerance:
        status = STATUS_OPTIMAL
    elif gap <= config.gap_tolerance:
        status = STATUS_FEASIBLE
    else:
        out_of_time = not run["converged"] or time.perf_counter() - t0 >= time_limit
        status = STATUS_TIME_LIMIT if out_of_time else STATUS_FEASIBLE_ABOVE_GAP
    shadow = {"budget": float(run["lam"])}
    for j in np.flatnonzero(np.isfinite(core.caps)):
        shadow[f"cap:{core.types[j]}"] = float(run["mu"][j])
    for k, (s, _) in enumerate(core.coverage):
        shadow[f"coverage:{core.segments[s]}"] = float(run["nu"][k])
    return Solution(
        choice=choice,
        lp_bound=bound,
        lp_bound_plus10=float(plus["bound"]),
        shadow=shadow,
        status=status,
        method=f"dantzig-wolfe + {how}",
        details={
            "iterations": run["iterations"],
            "iterations_plus10": plus["iterations"],
            "columns": len(cols.value),
            "converged": run["converged"],
            "master_value": run["master"],
            "free_customers": n_free,
            "cg_seconds": round(t_cg, 3),
            "plus10_seconds": round(t_plus, 3),
        },
    )
