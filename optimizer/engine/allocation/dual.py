"""Chain-scale allocation: Dantzig-Wolfe column generation over the coupling constraints.

Objective: the MILP of ``milp.py`` with millions of customers. Only a handful of constraints
couple customers (budget, one cap per type, one coverage minimum per segment); without them the
problem splits into independent per-customer choices.

Method:

1. *Pricing* (``pricing.py``; numpy, vectorised, splits by customer range): for multipliers
   ``lam`` (budget), ``mu[b]`` (caps), ``nu[S]`` (coverage) every customer takes
   ``argmax_b v[i,b] - lam*c[i,b] - mu[b] + nu[S(i)]`` if positive, else nothing. The
   Lagrangian value ``L = sum_i max(0, best_i) + lam*budget + sum mu*cap - sum nu*need`` is,
   for *any* non-negative multipliers, an upper bound on the LP relaxation and so on every
   allocation (weak duality). The per-customer polytope ``{sum_b x[i,b] <= 1, x >= 0}`` is
   integral, so ``min L`` equals the LP-relaxation optimum.
2. *Master* (``master.py``, a persistent HiGHS model): a Dantzig-Wolfe master over aggregated
   columns, one per pricing answer and block (its total value, expected cost, count per type,
   coverage per segment, usage of each coupling row): choose a convex combination per block
   maximising value under the coupling rows; minimums have penalised artificial slacks so the
   master is always feasible (a positive artificial at convergence proves the minimum
   infeasible). The master's duals are the next multipliers; its objective is a
   lower bound on the LP optimum, ``min L`` the upper bound: stop when they meet (the loop,
   with its smoothing: ``colgen.py``; a positive artificial at convergence is explained by
   ``infeasibility.py``).
3. *Primal recovery*: at the final multipliers, customers whose best option beats the runner-up
   (or "nothing") by a clear margin keep it (complementary slackness: every LP optimum does the
   same); the ``free_customers`` most ambiguous ones form a small residual MILP (HiGHS) over what
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

from optimizer.engine.allocation.colgen import (
    COLD_ALPHA,
    WARM_ALPHA,
    generate,
    penalty_of,
    seed,
    start_columns,
)
from optimizer.engine.allocation.deadline import Deadline
from optimizer.engine.allocation.infeasibility import explain, no_allocation
from optimizer.engine.allocation.master import _Columns
from optimizer.engine.allocation.pricing import LocalPricing, Pricing, PricingFactory
from optimizer.engine.allocation.problem import Core
from optimizer.engine.allocation.recovery import LpPrimal, recover
from optimizer.engine.allocation.solver import Solution, check_feasible, is_feasible, objective
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
#: Cores at least this large first solve a random sample of WARM_SAMPLE customers (scaled
#: constraints) for starting multipliers; the bound and the columns still come from everyone.
WARM_MIN_CUSTOMERS = 100_000
WARM_SAMPLE = 40_000


@dataclass
class _Warm:
    """The sample of the warm start: its pricing, its columns (the master keeps its basis) and
    the scale of its right-hand sides; re-solved at the +10% budget for the what-if's start."""

    pricer: LocalPricing
    cols: _Columns
    scale: float
    run: dict[str, Any]

    def duals(
        self, budget: float, until: float, deadline: Deadline, penalty: float
    ) -> dict[str, Any] | None:
        """The sample's multipliers at ``budget`` (full-core money; scaled to the sample)."""
        sub_budget = budget * self.scale
        if sub_budget != self.pricer.core.budget * (1 + 1e-12) and self.run.get("budget") != (
            sub_budget
        ):
            self.run = generate(self.pricer, self.cols, sub_budget, until, deadline, penalty, 1e-6)
            self.run["budget"] = sub_budget
        return self.run if "lam" in self.run else None


def _warm_duals(core: Core, penalty: float, until: float, deadline: Deadline) -> _Warm | None:
    """Multipliers from the same problem on a random sample of customers (budget, caps,
    coverage and coupling limits scaled to the sample): close to the full optimum, found at a
    fraction of the cost, so that the full column generation starts near its end. ``None`` for
    small cores."""
    n = core.value.shape[0]
    if n < WARM_MIN_CUSTOMERS:
        return None
    idx = np.sort(np.random.default_rng(0).choice(n, WARM_SAMPLE, replace=False))
    f = WARM_SAMPLE / n
    sub = core.subset(
        idx,
        budget=core.budget * f,
        caps=core.caps * f,
        coverage=tuple((s, need * f) for s, need in core.coverage),
        limits=core.extra_limits() * f,
    )
    pricer = LocalPricing(sub)
    cols, zero = start_columns(pricer)
    seed(pricer, cols, zero, sub.budget)
    run = generate(pricer, cols, sub.budget, until, deadline, penalty, 1e-6)
    run["budget"] = sub.budget
    return _Warm(pricer, cols, f, run) if "lam" in run else None


def _plus10(
    pricer: Pricing,
    cols: _Columns,
    run: dict[str, Any],
    deadline: Deadline,
    penalty: float,
    warm: _Warm | None = None,
) -> dict[str, Any]:
    """The +10% budget what-if (the LP bound to ``PLUS10_TOLERANCE``), skipped when the
    deadline has no time for it.

    It starts with no pricing pass: the Lagrangian value is linear in the budget, so the final
    multipliers' bound at 110% is ``bound + lam * 0.1 * budget`` (a valid upper bound). With a
    warm-start sample, the sample is re-solved at 110% (a few milliseconds, from its basis) and
    the full core priced once at its multipliers; the column generation then continues from the
    better centre with the strong smoothing, usually for a few passes only.
    """
    budget = 1.1 * pricer.core.budget
    if deadline.remaining() < 0.3 * deadline.seconds:
        # no time for it: the bound at 110% is at least the bound (reported as +0)
        return {"bound": run["bound"], "iterations": 0, "passes": 0}
    until = deadline.share(0.3)
    start = {key: run[key] for key in ("lam", "mu", "nu", "sigma")}
    start["bound"] = float(run["bound"]) + float(run["lam"]) * (budget - pricer.core.budget)
    passes, alpha = 0, COLD_ALPHA
    sample = warm.duals(budget, until, deadline, penalty) if warm is not None else None
    if sample is not None:
        seeded = seed(pricer, cols, sample, budget)
        passes, alpha = 1, WARM_ALPHA if pricer.n_blocks == 1 else COLD_ALPHA
        start = seeded if seeded["bound"] < start["bound"] else start
    plus = generate(pricer, cols, budget, until, deadline, penalty, PLUS10_TOLERANCE, start, alpha)
    plus["passes"] = passes + plus["iterations"]
    return plus


def lp_primal(
    cols: _Columns, theta: np.ndarray | None, k: int, block: np.ndarray, n_blocks: int
) -> LpPrimal | None:
    """The master's LP solution per pair: ``x[i, b] = sum_k theta_k [column k gives i type b]``,
    kept sparse (:class:`LpPrimal`): a customer is integral when every column its block mixes
    gives it the same option, and only the others get a row of shares.

    A feasible LP solution within the column-generation tolerance of the optimum; customers it
    assigns integrally are kept as they are by the recovery, the fractional ones are rounded.
    """
    if theta is None or cols.choices is None:
        return None
    n = block.shape[0]
    used = [
        j
        for j in np.flatnonzero(theta > 1e-12).tolist()
        if j < len(cols.source) and cols.source[j] < len(cols.choices)
    ]
    members: dict[int, np.ndarray | slice] = {}

    def of(b: int) -> np.ndarray | slice:
        if b not in members:
            members[b] = slice(None) if n_blocks == 1 else np.flatnonzero(block == b)
        return members[b]

    ref = np.full(n, -2, dtype=np.int8)  # -2: no column of the block seen yet
    frac = np.zeros(n, dtype=bool)
    for j in used:
        idx = of(cols.block[j])
        ch = cols.choices[cols.source[j]][idx]
        seen = ref[idx]
        seen = np.where(seen == -2, ch, seen)
        ref[idx] = seen
        frac[idx] |= seen != ch
    rows = np.flatnonzero(frac)
    x = np.zeros((rows.size, k))
    blk = block[rows]
    for j in used:
        ch = cols.choices[cols.source[j]][rows].astype(np.int64)
        on = np.flatnonzero((ch >= 0) & (blk == cols.block[j]))
        x[on, ch[on]] += theta[j]
    choice = ref.astype(np.int64)
    choice[choice == -2] = -1
    choice[rows] = -1
    return LpPrimal(choice, rows, x)


def solve_dual(
    core: Core,
    *,
    deadline: Deadline,
    config: AllocationConfig,
    pricing: PricingFactory | None = None,
) -> Solution:
    """Solve the core by column generation + fix-and-solve recovery (module docstring).

    ``pricing`` builds the pricing of the full core (default: :class:`LocalPricing`, in this
    process; ``pricing.ChunkedPricing`` spreads it over customer-range chunks). The warm
    start's sample and the phase-one explanation always price in this process.

    Time: the warm start may use 30% of what is left, the column generation up to 70%, the
    +10% what-if 30% of the rest, the recovery the remainder; past the deadline the best
    allocation found so far is returned with its bound, status ``time_limit``.

    Raises:
        InfeasibleAllocation: constraints cannot hold (every one of the conflict is named).
    """
    t0 = time.perf_counter()
    cg_until = deadline.share(0.7)
    check_feasible(core)
    pricer = (pricing or LocalPricing)(core)
    penalty = penalty_of(core)
    cols, zero = start_columns(pricer, keep=True)
    warm = (
        _warm_duals(core, penalty, deadline.share(0.3), deadline)
        if deadline.remaining() > 0.5 * deadline.seconds
        else None
    )
    # One block: one seed pass, at the sample's multipliers when there is a sample (the column
    # at zero multipliers lies far from the optimum). Blocks (coupling rows by store): the
    # zero column as well, whose per-block mix the LP rounding of (a2) relies on.
    one_block = pricer.n_blocks == 1
    start: dict[str, Any] = {"bound": np.inf}
    if warm is None or not one_block:
        start = seed(pricer, cols, zero, core.budget)
    if warm is not None:
        seeded = seed(pricer, cols, warm.run, core.budget)
        start = seeded if seeded["bound"] < start["bound"] else start
    alpha = WARM_ALPHA if warm is not None and one_block else COLD_ALPHA
    seeds = 2 if warm is not None and not one_block else 1
    tolerance = CG_TOLERANCE_SHARE * config.gap_tolerance
    run = generate(pricer, cols, core.budget, cg_until, deadline, penalty, tolerance, start, alpha)
    if run["artificial"] > 1e-6 and run["converged"]:
        raise explain(core, deadline=deadline)
    t_cg = time.perf_counter() - t0
    plus = _plus10(pricer, cols, run, deadline, penalty, warm)
    t_plus = time.perf_counter() - t0 - t_cg
    # the last use of the pricing: the recovery works in its buffer (perturbed in place)
    red = pricer.reduced(run["lam"], run["mu"], run["nu"], run["sigma"], in_buffer=True)
    lp = lp_primal(cols, run["last"].get("theta"), red.shape[1], pricer.block, pricer.n_blocks)
    cols.choices = None
    choice, how, n_free = recover(core, red, float(run["bound"]), config, deadline, lp=lp)
    del lp
    del red
    obj = objective(core, choice)
    bound = float(run["bound"])
    gap = (bound - obj) / max(abs(bound), 1e-9)
    if not is_feasible(core, choice):
        raise no_allocation(core, run, deadline)
    if gap <= config.optimal_tolerance:
        status = STATUS_OPTIMAL
    elif gap <= config.gap_tolerance:
        status = STATUS_FEASIBLE
    else:
        out_of_time = not run["converged"] or deadline.expired()
        status = STATUS_TIME_LIMIT if out_of_time else STATUS_FEASIBLE_ABOVE_GAP
    shadow = {"budget": float(run["lam"])}
    for j in np.flatnonzero(np.isfinite(core.caps)):
        shadow[f"cap:{core.types[j]}"] = float(run["mu"][j])
    for k, (s, _) in enumerate(core.coverage):
        shadow[f"coverage:{core.segments[s]}"] = float(run["nu"][k])
    for r, row in enumerate(core.extra):
        shadow[row.name] = abs(float(run["sigma"][r]))
    return Solution(
        choice=choice,
        lp_bound=bound,
        lp_bound_plus10=max(float(plus["bound"]), bound),
        shadow=shadow,
        status=status,
        method=f"dantzig-wolfe + {how}",
        details={
            "iterations": run["iterations"],
            "iterations_plus10": plus["iterations"],
            # every full pricing pass: the seed, one per iteration, the what-if's seed
            "pricing_passes": seeds + run["iterations"] + plus["passes"],
            "columns": len(cols.value),
            "converged": run["converged"],
            "master_value": run["master"],
            "free_customers": n_free,
            "cg_seconds": round(t_cg, 3),
            "plus10_seconds": round(t_plus, 3),
        },
    )
