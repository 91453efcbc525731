"""Primal recovery after the decomposition: a feasible choice close to the Lagrangian bound.

Method (as in the generic allocation's recovery): at the final multipliers every customer's
pricing choice is computed with its margin to a tie. A basic LP optimum splits at most as many
customers as there are binding coupling rows, and they are among the smallest margins; so

1. the ``free_customers`` with the smallest margins are left open, the others keep their choice;
2. *repair*: while a row is over its limit (the multipliers are only near-optimal), the kept
   options of that row with the smallest reduced value are dropped until it fits;
3. the open customers form a small residual MILP (:func:`optimizer.engine.offers.milp.solve_milp`)
   within what the kept choices leave;
4. a greedy fill (:func:`optimizer.engine.offers.greedy.greedy_fill`) spends what is left.

The result is checked feasible by construction; its distance to the bound is the reported gap.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from optimizer.engine.allocation.deadline import Deadline
from optimizer.engine.offers.greedy import greedy_fill
from optimizer.engine.offers.milp import solve_milp
from optimizer.engine.offers.pricing import price
from optimizer.engine.offers.rows import Layout, Rows

_EPS = 1e-9


def _repair(keep: np.ndarray, base: np.ndarray, rows: Rows, reduced: np.ndarray) -> np.ndarray:
    """Drop options of ``keep`` (least reduced value first) until ``keep | base`` fits."""
    keep = keep.copy()
    for _ in range(8):
        over = rows.usage(keep | base) - rows.limits
        violated = np.flatnonzero(over > _EPS * np.maximum(1.0, rows.limits))
        if violated.size == 0:
            return keep
        for k in violated:
            in_row = keep & (rows.index == k).any(axis=1)
            idx = np.flatnonzero(in_row)
            idx = idx[np.argsort(reduced[idx], kind="stable")]
            weight = np.where(rows.index[idx] == k, rows.weight[idx], 0.0).sum(axis=1)
            excess = rows.usage(keep | base)[k] - rows.limits[k]
            count = int(np.searchsorted(np.cumsum(weight), excess - _EPS)) + 1
            keep[idx[:count]] = False
    return keep


def _knapsack_customers(
    layout: Layout, rows: Rows, y: np.ndarray, reduced: np.ndarray, per_row: int
) -> np.ndarray:
    """Customers of the ``per_row`` best options (by value per unit of the row, the row's own
    multiplier left out) of every priced row worth only a few options (its limit holds at most
    ``per_row // 2`` options of its mean weight).

    Why: such a row (a product budget of a few offers) is a small knapsack; the customers kept at
    their pricing choice may fill it with a bad integer combination that the residual MILP can
    no longer undo. Opening its best candidates lets the MILP choose the fill.
    """
    if per_row <= 0:
        return np.zeros(0, dtype=np.int64)
    flat_row = rows.index.ravel()
    flat_opt = np.repeat(np.arange(rows.index.shape[0]), rows.index.shape[1])
    at = (flat_row >= 0) & (y[np.maximum(flat_row, 0)] > 0) & (rows.weight.ravel() > 0)
    row, opt, weight = flat_row[at], flat_opt[at], rows.weight.ravel()[at]
    # Offers the row holds: its limit over its options' mean weight (not the options priced in
    # at ``y``: near-optimal multipliers may price in far more than fit).
    total = np.bincount(row, weights=weight, minlength=y.size)
    count = np.bincount(row, minlength=y.size)
    holds = rows.limits * count / np.maximum(total, 1e-12)
    small = holds[row] <= per_row // 2
    row, opt, weight = row[small], opt[small], weight[small]
    score = (reduced[opt] + y[row] * weight) / weight
    order = np.lexsort((-score, row))
    row, opt = row[order], opt[order]
    starts = np.searchsorted(row, row, side="left")
    top = (np.arange(row.size) - starts) < per_row
    return np.unique(layout.code[opt[top]])


def recover(
    frame: pd.DataFrame,
    layout: Layout,
    rows: Rows,
    y: np.ndarray,
    max_offers: int,
    *,
    free_customers: int,
    per_row: int = 0,
    deadline: Deadline,
    time_cap: float,
    gap_abs: float,
) -> tuple[np.ndarray, dict[str, Any]]:
    """A feasible choice (bool per option of ``frame``) near the multipliers ``y``, and facts
    (free customers, residual pairs, residual solver status, and ``bound``: the residual
    MILP's proven bound when it covered every customer).

    The residual MILP stops at the absolute gap ``gap_abs`` (a share of the whole problem's
    bound: its own relative gap is irrelevant) or at ``time_limit``: on product budgets of a
    few offers each its branch and bound rarely closes the knapsack gaps it inherits, and only
    its incumbent counts (the certified bound is the Lagrangian one). Its time limit is what
    ``deadline`` leaves once the residual is built, at most ``time_cap``; ``facts["fill_seconds"]``
    is what the greedy fill after it took (a caller's reserve for the next recovery)."""
    value = frame["value"].to_numpy("float64")
    required = frame["required"].to_numpy(dtype=bool)
    reduced = value - rows.reduce(y)
    priced = price(layout, reduced)
    free_count = min(layout.customers, free_customers)
    free = np.zeros(layout.customers, dtype=bool)
    free[np.argsort(priced.margin, kind="stable")[:free_count]] = True
    free[_knapsack_customers(layout, rows, y, reduced, per_row)] = True
    free_count = int(free.sum())
    open_option = free[layout.code]
    keep = _repair(priced.pick & ~open_option & ~required, required, rows, reduced)
    keep |= required & ~open_option
    residual = np.flatnonzero(open_option & ((value > 0) | required))
    left = np.maximum(rows.limits - rows.usage(keep), 0.0)
    facts: dict[str, Any] = {"free_customers": free_count, "residual_pairs": residual.size}
    pick = keep.copy()
    if residual.size:
        sub_rows = replace(
            rows, limits=left, index=rows.index[residual], weight=rows.weight[residual]
        )
        sub = frame.iloc[residual].reset_index(drop=True)
        answer = solve_milp(
            sub,
            sub_rows,
            max_offers,
            deadline=deadline,
            time_cap=time_cap,
            gap_tolerance=1e-6,
            gap_abs=gap_abs,
        )
        pick[residual[answer.pick]] = True
        facts["residual_status"] = answer.facts.get("status")
        if free_count == layout.customers:
            # Nobody fixed: the residual MILP is the whole problem, its bound holds for it.
            facts["bound"] = answer.bound
        facts["residual_incumbent"] = answer.facts.get("incumbent", "solver")
    started = deadline.clock()
    pick = greedy_fill(frame, rows, max_offers, start=pick)
    facts["fill_seconds"] = deadline.clock() - started
    return pick, facts
