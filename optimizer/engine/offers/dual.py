"""Chain-scale offers: Dantzig-Wolfe column generation over the coupling rows.

Objective: the LP relaxation of the offers MILP with millions of customers, and multipliers that
certify its value. Only the coupling rows (retailer budget, budgeted products and suppliers,
capped option codes: :mod:`optimizer.engine.offers.rows`) tie customers together.

Method:

1. *Pricing* (:mod:`optimizer.engine.offers.pricing`): for multipliers ``y >= 0`` every customer
   takes its best options by reduced value. ``L(y) = sum_customers best + y . limits`` is an
   upper bound on the LP and so on every allocation (weak duality), for *any* ``y >= 0``; the
   per-customer polytope is integral, so ``min L`` equals the LP optimum.
2. *Master* (highspy, warm-started between iterations): customers are dealt into ``groups``
   (customer index modulo ``groups``); each pricing answer gives one column per group (its value
   and its usage of every row); the master picks a convex combination per group maximising value
   within the rows. Its value is a lower bound on the LP optimum, its duals the next ``y``.
   Several groups (a multi-cut master) converge in far fewer iterations than one aggregated
   column, the master staying small (rows x groups x iterations).
3. *Lazy rows*: a row enters the master only once the columns could break it (the sum over
   groups of each group's largest usage exceeds the limit). Until then every convex combination
   keeps it and its multiplier is 0, so thousands of product budgets that never bind cost
   nothing in the master.

4. *Smoothing* (Wentges): the next pricing point is ``alpha * best_y + (1 - alpha) * duals``,
   not the master's duals alone, which jump between extreme points of its dual while the
   master holds few columns. When no group gains at the master's duals from the smoothed
   point's columns (a mis-pricing), the next pass prices at the duals themselves, so the
   convergence test is the unsmoothed one.

Stops when the best bound and the master value meet within ``tolerance`` (relative), at the
deadline or after ``max_iterations``; the bound is valid whenever it stops.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import highspy
import numpy as np

from optimizer.engine.offers.pricing import price
from optimizer.engine.offers.rows import Layout, Rows

_ROW_EPS = 1e-9


@dataclass(frozen=True, eq=False)
class DualAnswer:
    """``y`` at the best bound ``bound`` (min L), the master's last value ``master`` (a lower
    bound on the LP), the iteration count, the rows the master needed, and whether the two
    bounds met; ``tracked``: the master's fractional choice ``x`` of the options asked for (its
    last convex combination per group), for cut separation."""

    y: np.ndarray
    bound: float
    master: float
    iterations: int
    active_rows: int
    converged: bool
    tracked: np.ndarray = field(default_factory=lambda: np.zeros(0))


@dataclass
class _Master:
    groups: int
    rows: Rows
    highs: highspy.Highs = field(default_factory=highspy.Highs)
    usage: list[np.ndarray] = field(default_factory=list)
    group_of: list[int] = field(default_factory=list)
    iteration_of: list[int] = field(default_factory=list)
    active: list[int] = field(default_factory=list)
    peak: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))

    def __post_init__(self) -> None:
        self.highs.setOptionValue("output_flag", False)
        # Simplex keeps its basis when columns are added (dual simplex, HiGHS's default, took
        # 12.9 CPU s over 20 masters at 100,000 customers, primal 16.6); one thread, the
        # machine is shared.
        self.highs.setOptionValue("solver", "simplex")
        self.highs.setOptionValue("threads", 1)
        self.peak = np.zeros((self.groups, len(self.rows.names)))
        for _ in range(self.groups):
            self.highs.addRow(1.0, 1.0, 0, np.zeros(0, np.int32), np.zeros(0))

    def add_columns(
        self, value: np.ndarray, usage: np.ndarray, which: np.ndarray, iteration: int
    ) -> None:
        for g in which:
            col = usage[g]
            coefs = col[self.active]
            nz = np.flatnonzero(coefs)
            idx = np.concatenate([[g], self.groups + nz]).astype(np.int32)
            vals = np.concatenate([[1.0], coefs[nz]])
            self.highs.addCol(-float(value[g]), 0.0, highspy.kHighsInf, idx.size, idx, vals)
            self.usage.append(col)
            self.group_of.append(int(g))
            self.iteration_of.append(iteration)
            self.peak[g] = np.maximum(self.peak[g], col)

    def activate_rows(self) -> int:
        unsafe = self.peak.sum(axis=0) > self.rows.limits + _ROW_EPS * np.maximum(
            1.0, self.rows.limits
        )
        new = [k for k in np.flatnonzero(unsafe) if k not in set(self.active)]
        if new:
            stacked = np.asarray(self.usage)
        for k in new:
            coefs = stacked[:, k]
            nz = np.flatnonzero(coefs).astype(np.int32)
            self.highs.addRow(
                -highspy.kHighsInf, float(self.rows.limits[k]), nz.size, nz, coefs[nz]
            )
            self.active.append(int(k))
        return len(new)

    def solve(self) -> tuple[float, np.ndarray, np.ndarray]:
        """Master value, ``y`` (one per row, 0 when inactive) and the groups' duals."""
        self.highs.run()
        solution = self.highs.getSolution()
        duals = np.asarray(solution.row_dual, dtype="float64")
        y = np.zeros(len(self.rows.names))
        y[self.active] = np.maximum(-duals[self.groups :], 0.0)
        value = -float(self.highs.getInfo().objective_function_value)
        return value, y, -duals[: self.groups]

    def weights(self) -> np.ndarray:
        """(iterations, groups) weight of each column in the master's solution (re-solved: columns
        may have been added since, a warm start makes it cheap)."""
        self.highs.run()
        theta = np.asarray(self.highs.getSolution().col_value, dtype="float64")
        out = np.zeros((max(self.iteration_of) + 1, self.groups))
        np.add.at(out, (np.asarray(self.iteration_of), np.asarray(self.group_of)), theta)
        return out


def _columns(
    layout: Layout, rows: Rows, value: np.ndarray, pick: np.ndarray, groups: int
) -> tuple[np.ndarray, np.ndarray]:
    """Per group: the value and the (rows,) usage of the options in ``pick``."""
    group = layout.code[pick] % groups
    total = np.bincount(group, weights=value[pick], minlength=groups)
    index, weight = rows.index[pick], rows.weight[pick]
    used = index >= 0
    flat = (np.repeat(group[:, None], index.shape[1], axis=1) * len(rows.names) + index)[used]
    usage = np.bincount(flat, weights=weight[used], minlength=groups * len(rows.names))
    return total, usage.reshape(groups, len(rows.names))


def column_generation(
    layout: Layout,
    rows: Rows,
    value: np.ndarray,
    *,
    groups: int,
    tolerance: float,
    deadline: float,
    max_iterations: int = 300,
    y0: np.ndarray | None = None,
    track: np.ndarray | None = None,
    smoothing: float = 0.0,
    clock: Callable[[], float] = time.perf_counter,
) -> DualAnswer:
    """Minimise the Lagrangian bound (see the module docstring).

    Args:
        layout: the options' grid; ``value`` is per option (float64).
        rows: coupling rows; the required options alone must respect them.
        groups: customer groups of the master (>= 1, at most the customers).
        tolerance: relative distance between bound and master value that stops it.
        deadline: a reading of ``clock``: no pass starts that would, at the mean
            duration of the passes so far, end after it (one pass at 1,000,000 customers takes
            seconds, so checking only after a pass overran the limit by that much).
        max_iterations: pricing passes at most.
        y0: the first pricing pass's multipliers (a warm start, e.g. before cuts were added).
        track: indices of options whose fractional ``x`` the answer reports (``tracked``).
        smoothing: ``alpha`` in [0, 1) of the dual smoothing (0: price at the master's duals).
        clock: the clock ``deadline`` is read on (tests inject a fake one).
    """
    groups = max(1, min(groups, layout.customers))
    master = _Master(groups=groups, rows=rows)
    required = np.zeros(len(value), dtype=bool)
    required[:] = layout.required[layout.code, layout.pos]
    start_value, start_usage = _columns(layout, rows, value, required, groups)
    master.add_columns(start_value, start_usage, np.arange(groups), 0)
    tracked = np.zeros(0, dtype=np.int64) if track is None else track
    picks = [required[tracked]]
    solved = False
    y = np.zeros(len(rows.names)) if y0 is None else y0
    best_y, best = y, np.inf
    lower, duals = -np.inf, np.full(groups, -np.inf)
    y_master = y
    iterations, converged = 0, False
    started = clock()
    while iterations < max_iterations:
        iterations += 1
        priced = price(layout, value - rows.reduce(y))
        bound = float(priced.value.sum() + y @ rows.limits)
        if bound < best:
            best, best_y = bound, y
        scale = max(1.0, abs(best))
        col_value, col_usage = _columns(layout, rows, value, priced.pick, groups)
        # A group gains when its new column's reduced value at the master's duals beats the
        # group's dual (at y itself this is the group's share of L(y)).
        gain = col_value - col_usage @ y_master
        better = np.flatnonzero(gain > duals + 1e-12 * scale)
        master.add_columns(col_value, col_usage, better, iterations)
        picks.append(priced.pick[tracked])
        new_rows = master.activate_rows()
        if better.size == 0 and new_rows == 0:
            if y is not y_master:
                y = y_master  # mis-pricing: price at the duals themselves
                continue
            converged = True
            break
        if better.size or new_rows or not solved:
            lower, y_master, duals = master.solve()
            solved = True
        now = clock()
        if best - lower <= tolerance * scale or now + (now - started) / iterations > deadline:
            converged = best - lower <= tolerance * scale
            break
        y = y_master if smoothing <= 0 else smoothing * best_y + (1 - smoothing) * y_master
    return DualAnswer(
        y=best_y,
        bound=best,
        master=lower,
        iterations=iterations,
        active_rows=len(master.active),
        converged=converged,
        tracked=_fractional(master, picks, layout.code[tracked] % groups)
        if solved
        else np.asarray(picks[0], dtype="float64"),
    )


def _fractional(master: _Master, picks: list[np.ndarray], group: np.ndarray) -> np.ndarray:
    """``x`` of the tracked options: per group, its columns' weights times their picks."""
    theta = master.weights()
    out = np.zeros(group.size)
    for t in range(theta.shape[0]):
        out += theta[t, group] * picks[t]
    return out


def sample_multipliers(
    layout: Layout,
    rows: Rows,
    value: np.ndarray,
    *,
    sample: int,
    groups: int,
    tolerance: float,
    deadline: float,
    smoothing: float = 0.0,
    clock: Callable[[], float] = time.perf_counter,
) -> np.ndarray:
    """Multipliers of a sample: every ``k``-th customer (``k = customers // sample``), the limits
    scaled by the sampled share, solved by :func:`column_generation`. A warm start for the full
    problem (the generic allocation starts from a sample's duals too): customers drawn evenly
    face about the same prices, so the sample's ``y`` is near the full problem's; the full run
    still proves its own bound."""
    step = max(1, layout.customers // max(1, sample))
    keep = layout.code % step == 0
    sub = Layout(
        code=layout.code[keep] // step,
        pos=layout.pos[keep],
        width=layout.width,
        generic=layout.generic[::step],
        required=layout.required[::step],
        slots_left=layout.slots_left[::step],
        locked_generic=layout.locked_generic[::step],
    )
    share = sub.customers / max(1, layout.customers)
    part = Rows(
        names=rows.names, limits=rows.limits, index=rows.index[keep], weight=rows.weight[keep]
    )
    required = sub.required[sub.code, sub.pos]
    # The sample's required options must fit its limits, or its master has no solution.
    limits = np.maximum(rows.limits * share, part.usage(required))
    part = Rows(names=rows.names, limits=limits, index=part.index, weight=part.weight)
    answer = column_generation(
        sub,
        part,
        value[keep],
        groups=groups,
        tolerance=tolerance,
        deadline=deadline,
        smoothing=smoothing,
        clock=clock,
    )
    return answer.y
