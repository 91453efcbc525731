"""The Dantzig-Wolfe restricted master LP, kept as one persistent HiGHS model per column set.

Objective: over the columns gathered so far (one per block and pricing pass: total value,
expected cost, count per type, coverage per minimum segment, usage of every coupling row),
choose a convex combination per block that maximises value under the coupling rows::

    max  sum_k value_k theta_k - penalty * sum artificials
    s.t. sum_{k in block b} theta_k = 1                       one convexity row per block
         sum_k cost_k theta_k <= budget
         sum_k count_k[j] theta_k <= cap[j]                   finite caps
         sum_k cover_k[s] theta_k + a_s >= need[s]            coverage minima
         sum_k extra_k[r] theta_k (+ a_r) <= / >= limit[r]    coupling rows (artificial on >=)
         theta, a >= 0

The artificials keep the master feasible; a positive one at convergence proves that minimum
cannot be met. The row duals are the next multipliers; the objective is a lower bound on the
LP optimum (with no positive artificial).

Why highspy directly and not PuLP (which the small MILPs keep): the master grows by one column
per block each pass (50 per pass with 50 store blocks). PuLP rebuilt the whole model as Python
expressions every pass, O(rows x columns) Python work, and HiGHS then solved it from scratch.
Here the model lives across passes: new columns go in with one sparse ``addCols`` call and the
simplex re-starts from the previous optimal basis (the new columns enter as non-basic), so a
pass costs only the pivots the new columns need.

Constraints: highspy >= 1.7 (``addCols``, ``changeRowBounds``, ``getSolution``); a master not
solved to optimality reports ``master = -inf`` (no lower bound claimed) but still returns its
duals: any non-negative multipliers give a valid Lagrangian bound.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import highspy
import numpy as np

from optimizer.engine.allocation.problem import Core

#: Coefficients smaller than this are left out of the sparse columns.
ZERO = 1e-12


@dataclass
class _Columns:
    value: list[float]
    cost: list[float]
    count: list[np.ndarray]
    cover: list[np.ndarray]
    extra: list[np.ndarray]
    #: Each pricing pass's choice per customer (int8; only for the full core, see
    #: ``lp_primal``); ``block[k]`` and ``source[k]``: column k's block and pricing pass.
    choices: list[np.ndarray] | None = None
    block: list[int] = field(default_factory=list)
    source: list[int] = field(default_factory=list)
    passes: int = 0
    #: The persistent master over these columns (created by the first ``_master`` call).
    lp: MasterLP | None = None


class MasterLP:
    """The restricted master as a HiGHS model; columns are appended, never rebuilt.

    Row order: ``n_blocks`` convexity rows, the budget, the finite caps, the coverage minima,
    the coupling rows. Artificial columns (one per minimum) come first.
    """

    def __init__(
        self, core: Core, n_blocks: int, need: np.ndarray, budget: float, penalty: float
    ) -> None:
        self.h = highspy.Highs()  # type: ignore[no-untyped-call]
        self.h.setOptionValue("output_flag", False)
        self.h.setOptionValue("threads", 1)
        self.h.changeObjectiveSense(highspy.ObjSense.kMaximize)
        self.n_blocks = n_blocks
        self.n_types = len(core.types)
        self.caps = np.flatnonzero(np.isfinite(core.caps))
        self.sense = np.array([r.sense for r in core.extra])
        self.budget_row = n_blocks
        self.cap0 = n_blocks + 1
        self.cov0 = self.cap0 + self.caps.size
        self.x0 = self.cov0 + need.shape[0]
        n_rows = self.x0 + len(core.extra)
        inf = highspy.kHighsInf
        lower = np.full(n_rows, -inf)
        upper = np.full(n_rows, inf)
        lower[:n_blocks] = upper[:n_blocks] = 1.0
        upper[self.budget_row] = budget
        upper[self.cap0 : self.cov0] = core.caps[self.caps]
        lower[self.cov0 : self.x0] = need
        limits = core.extra_limits()
        is_min = self.sense == ">="
        lower[self.x0 :][is_min] = limits[is_min]
        upper[self.x0 :][~is_min] = limits[~is_min]
        no_index = np.zeros(0, dtype=np.int32)
        self.h.addRows(n_rows, lower, upper, 0, np.zeros(n_rows, np.int32), no_index, np.zeros(0))
        self.art_rows = np.r_[np.arange(self.cov0, self.x0), self.x0 + np.flatnonzero(is_min)]
        n_art = self.art_rows.size
        starts = np.arange(n_art, dtype=np.int32)
        self.h.addCols(
            n_art,
            np.full(n_art, -penalty),
            np.zeros(n_art),
            np.full(n_art, inf),
            n_art,
            starts,
            self.art_rows.astype(np.int32),
            np.ones(n_art),
        )
        self.n_art = n_art
        self.penalty = penalty
        self.budget = budget
        self.added = 0

    def sync(self, cols: _Columns, budget: float, penalty: float) -> None:
        """Append the columns added since the last call; update the budget and penalty."""
        if budget != self.budget:
            self.h.changeRowBounds(self.budget_row, -highspy.kHighsInf, budget)
            self.budget = budget
        if penalty != self.penalty and self.n_art:
            arts = np.arange(self.n_art, dtype=np.int32)
            self.h.changeColsCost(self.n_art, arts, np.full(self.n_art, -penalty))
            self.penalty = penalty
        new = range(self.added, len(cols.value))
        if not new:
            return
        dense = np.zeros((len(new), self.x0 + self.sense.size))
        for m, k in enumerate(new):
            dense[m, cols.block[k]] = 1.0
            dense[m, self.budget_row] = cols.cost[k]
            dense[m, self.cap0 : self.cov0] = cols.count[k][self.caps]
            dense[m, self.cov0 : self.x0] = cols.cover[k]
            dense[m, self.x0 :] = cols.extra[k]
        dense[np.abs(dense) < ZERO] = 0.0
        col, row = np.nonzero(dense)
        starts = np.searchsorted(col, np.arange(len(new))).astype(np.int32)
        self.h.addCols(
            len(new),
            np.asarray(cols.value[self.added :], dtype=np.float64),
            np.zeros(len(new)),
            np.full(len(new), highspy.kHighsInf),
            int(col.size),
            starts,
            row.astype(np.int32),
            dense[col, row],
        )
        self.added = len(cols.value)

    def solve(self, seconds: float) -> dict[str, Any]:
        """Re-solve (warm from the last basis); objective, multipliers, artificials, weights."""
        # HiGHS before 2.0 compares time_limit with the model's *cumulative* run time over
        # every run() (ERGO-Code/HiGHS#1331, #1477): the limit is set past what is spent.
        self.h.setOptionValue("time_limit", float(self.h.getRunTime()) + float(seconds))
        self.h.run()
        optimal = self.h.getModelStatus() == highspy.HighsModelStatus.kOptimal
        sol = self.h.getSolution()
        dual = np.abs(np.asarray(sol.row_dual, dtype=np.float64))
        x = np.asarray(sol.col_value, dtype=np.float64)
        art = np.zeros(self.x0 + self.sense.size)
        art[self.art_rows] = x[: self.n_art]
        sigma = dual[self.x0 :].copy()
        sigma[self.sense == ">="] *= -1.0
        mu = np.zeros(self.n_types)
        mu[self.caps] = dual[self.cap0 : self.cov0]
        short_cov = art[self.cov0 : self.x0]
        short_x = art[self.x0 :]
        master = float(self.h.getInfo().objective_function_value) if optimal else -np.inf
        return {
            "theta": x[self.n_art :],
            "master": master,
            "lam": float(dual[self.budget_row]),
            "mu": mu,
            "nu": dual[self.cov0 : self.x0].copy(),
            "sigma": sigma,
            "short_cov": short_cov,
            "short_x": short_x,
            "artificial": float(short_cov.sum() + short_x.sum()),
        }


def _master(
    cols: _Columns,
    core: Core,
    budget: float,
    need: np.ndarray,
    penalty: float,
    seconds: float,
) -> dict[str, Any]:
    """Solve the restricted master LP: objective, multipliers and the artificial per minimum.

    Every minimum (coverage and ``>=`` rows) has a penalised artificial slack, so the master is
    always feasible; a positive artificial at convergence proves that minimum cannot be met.
    """
    if cols.lp is None:
        cols.lp = MasterLP(core, max(cols.block) + 1, need, budget, penalty)
    cols.lp.sync(cols, budget, penalty)
    return cols.lp.solve(seconds)
