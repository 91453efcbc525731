"""The decomposition method of :func:`optimizer.engine.offers.offers_allocate` (chain scale).

Column generation for the Lagrangian bound (:mod:`.dual`, from a sample's multipliers above
:data:`SAMPLE_ABOVE` customers), a primal recovery at the multipliers (:mod:`.recovery`), and
while the proven gap is above the tolerance, rounds of cover cuts on the product budgets
(:mod:`.cuts`) and a second recovery. Every stage takes its share of one
:class:`~optimizer.engine.allocation.deadline.Deadline`, the whole call's
(docs/personalised-offers.md).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from optimizer.engine.allocation.deadline import Deadline
from optimizer.engine.offers.cuts import add_cover_cuts
from optimizer.engine.offers.dual import DualAnswer, column_generation, sample_multipliers
from optimizer.engine.offers.greedy import greedy_fill
from optimizer.engine.offers.recovery import recover
from optimizer.engine.offers.rows import Layout, Rows, build_layout
from optimizer.engine.offers.types import OfferConstraints

#: Share of ``time_limit`` the column generation may use; the rest is for the residual MILP.
DUAL_TIME_SHARE = 0.6
#: Customer groups of the column generation's master (bench at 100,000 customers: 16 groups did
#: not converge in 300 iterations, 64 took 130, 256 took 45, 1,024 took 19, 4,096 took 12 but
#: twice the time of 1,024 in its larger master).
MASTER_GROUPS = 1024
#: The residual MILP's time limit as a share of ``time_limit``, and its absolute gap as a share of
#: ``gap_tolerance x bound``.
RESIDUAL_TIME_SHARE = 0.2
RESIDUAL_GAP_SHARE = 0.1
#: Share of ``time_limit`` the cut rounds may use up to (they follow the first recovery; the
#: rest is for the second one). Measured at 100,000 customers, load 12, 120 s: column
#: generation and first recovery took past 60 %, and with the cut rounds bounded by
#: ``DUAL_TIME_SHARE`` no cut was added (gap 1.8e-4 instead of 2.6e-5 with cuts).
CUT_TIME_SHARE = 0.8
#: Rounds of cover cuts on the product budgets (each followed by a warm column generation).
CUT_ROUNDS = 10
#: The column generation after a round of cuts stops at this share of ``gap_tolerance``: a cut
#: round lowers the bound by about 1e-5 relative at 10,000 customers, so stopping at
#: ``gap / 10`` (as the first run does) would hide it (measured: the bound stalled at round 4).
CUT_TOLERANCE_SHARE = 0.01
#: Above this many customers the column generation starts from the multipliers of an even
#: sample of :data:`SAMPLE_CUSTOMERS` (solved within :data:`SAMPLE_TIME_SHARE` of the limit):
#: measured 2026-12-06 at 1,000,000 customers, cold it needed about 60 iterations of a master
#: that grows with every one.
SAMPLE_ABOVE = 300_000
SAMPLE_CUSTOMERS = 100_000
SAMPLE_TIME_SHARE = 0.25
#: Dual smoothing of the column generation (:func:`optimizer.engine.offers.dual.column_generation`)
#: from a sample's start (measured at 1,000,000 realistic, 2026-12-06, load 4: 20 iterations to
#: 4.4e-6 with 0.5; cold with 0.5, 18 iterations reached only 1.9e-3). Not used below
#: :data:`SAMPLE_ABOVE`, where the 10,000 / 100,000 figures were measured without it.
SMOOTHING = 0.5
#: Open in the residual MILP the customers of this many best options of every priced row that
#: holds only a few offers (:func:`optimizer.engine.offers.recovery.recover`).
KNAPSACK_OPEN = 40


def _cut_rounds(
    layout: Layout,
    rows: Rows,
    value: np.ndarray,
    dual: DualAnswer,
    track: np.ndarray,
    gap: float,
    deadline: float,
    clock: Callable[[], float],
) -> tuple[DualAnswer, Rows, int]:
    """Rounds of cover cuts on the product budgets (:mod:`.cuts`) cutting off the master's
    fractional choice, each followed by a column generation warm-started at the last
    multipliers, while cuts are violated and time is left.

    Returns the last round's answer with ``bound`` the best (lowest) of all rounds (each is a
    valid upper bound) and ``iterations`` their sum, the rows with their cuts, and the number
    of cuts.
    """
    product_rows = np.flatnonzero([name.startswith("product:") for name in rows.names])
    best, cuts, iterations = dual.bound, 0, 0
    for round_no in range(1, CUT_ROUNDS + 1):
        if clock() > deadline or not dual.converged:
            break
        x = np.zeros(len(value))
        x[track] = dual.tracked
        rows, added = add_cover_cuts(rows, x, product_rows, round_no)
        if not added:
            break
        cuts += added
        y0 = np.concatenate([dual.y, np.zeros(len(rows.names) - dual.y.size)])
        dual = column_generation(
            layout,
            rows,
            value,
            groups=MASTER_GROUPS,
            tolerance=gap * CUT_TOLERANCE_SHARE,
            deadline=deadline,
            y0=y0,
            track=track,
            clock=clock,
        )
        best, iterations = min(best, dual.bound), iterations + dual.iterations
    return replace(dual, bound=best, iterations=iterations), rows, cuts


def _recover(
    treat: pd.DataFrame,
    layout: Layout,
    rows: Rows,
    dual: DualAnswer,
    limits: OfferConstraints,
    coupling: int,
    deadline: Deadline,
    gap: float,
) -> tuple[np.ndarray, dict[str, Any]]:
    # Cut rows do not add customers an LP optimum splits beyond those of the rows they cut.
    return recover(
        treat,
        layout,
        rows,
        dual.y,
        limits.max_offers,
        # At chain scale near-optimal multipliers leave more customers near a tie than rows:
        # 1,000,000 realistic with 1,520 open customers recovered 2.6e-4 below the LP bound.
        free_customers=max(200, 20 * min(dual.active_rows, coupling), layout.customers // 100),
        per_row=KNAPSACK_OPEN,
        deadline=deadline,
        time_cap=RESIDUAL_TIME_SHARE * deadline.seconds,
        gap_abs=RESIDUAL_GAP_SHARE * gap * abs(dual.bound),
    )


def _lagrangian(
    layout: Layout,
    rows: Rows,
    value: np.ndarray,
    track: np.ndarray,
    deadline: Deadline,
    gap: float,
) -> DualAnswer:
    """The column generation to ``gap / 10`` by :data:`DUAL_TIME_SHARE` of the limit; above
    :data:`SAMPLE_ABOVE` customers from a sample's multipliers, with dual smoothing."""
    y0, smoothing = None, 0.0
    if layout.customers > SAMPLE_ABOVE:
        smoothing = SMOOTHING
        y0 = sample_multipliers(
            layout,
            rows,
            value,
            sample=SAMPLE_CUSTOMERS,
            groups=MASTER_GROUPS,
            tolerance=gap / 10,
            deadline=deadline.start + SAMPLE_TIME_SHARE * deadline.seconds,
            smoothing=SMOOTHING,
            clock=deadline.clock,
        )
    return column_generation(
        layout,
        rows,
        value,
        groups=MASTER_GROUPS,
        tolerance=gap / 10,
        deadline=deadline.start + DUAL_TIME_SHARE * deadline.seconds,
        y0=y0,
        track=track,
        smoothing=smoothing,
        clock=deadline.clock,
    )


def decompose(
    treat: pd.DataFrame, rows: Rows, limits: OfferConstraints, deadline: Deadline, gap: float
) -> tuple[np.ndarray, float, float, str, bool]:
    """Column generation, recovery, and only when the proven gap is still above ``gap``: cut
    rounds on the product budgets (tightening the bound) and a second recovery at their
    multipliers (the better incumbent is kept).

    Every stage is cut from the call's one ``deadline`` (which started before the input
    checks): the column generation by :data:`DUAL_TIME_SHARE` of the limit, a residual MILP to
    :data:`RESIDUAL_TIME_SHARE` and never past what is left; the greedy incumbent (tens of
    seconds at 1,000,000 customers) is computed before the cut rounds and stops at the
    deadline with what it has, and the cut rounds stop early
    enough for a second recovery as long as the first. Measured before (100,000 hard,
    60 s): 66.9 s, the second recovery's MILP taking all that was left and its greedy fill and
    the greedy incumbent coming after.
    """
    clock = deadline.clock
    layout = build_layout(treat, limits.max_offers)
    value = treat["value"].to_numpy("float64")
    product_rows = np.flatnonzero([name.startswith("product:") for name in rows.names])
    track = np.flatnonzero(np.isin(rows.index, product_rows).any(axis=1))
    dual = _lagrangian(layout, rows, value, track, deadline, gap)
    coupling, lp_bound, iterations = len(rows.names), dual.bound, dual.iterations
    started = clock()
    pick, facts = _recover(treat, layout, rows, dual, limits, coupling, deadline, gap)
    recovery_seconds = clock() - started
    bound = min(dual.bound, facts.get("bound", np.inf))
    objective = float(value[pick].sum())
    greedy_won = False
    if not dual.converged and bound - objective > gap * abs(bound):
        # Multipliers far from optimal may recover worse than the plain greedy rule: keep it.
        # Not tried when the recovery is already within the gap; cut short (still feasible,
        # best ratios first) at the deadline: at 1,000,000 customers the whole pass takes
        # 24-29 s, and after a recovery from a warm start it rarely wins there.
        fallback = greedy_fill(treat, rows, limits.max_offers, deadline=deadline)
        if float(value[fallback].sum()) > objective + 1e-9:
            pick, objective, greedy_won = fallback, float(value[fallback].sum()), True
    cuts = 0
    cut_deadline = min(
        deadline.start + CUT_TIME_SHARE * deadline.seconds, deadline.at - recovery_seconds
    )
    if (
        (bound - objective) > gap * abs(bound)
        and dual.converged
        and track.size
        and clock() < cut_deadline
    ):
        dual, cut, cuts = _cut_rounds(layout, rows, value, dual, track, gap, cut_deadline, clock)
        iterations += dual.iterations
        bound = min(bound, dual.bound)
        if cuts:
            # Leave the time of the first recovery's greedy fill for this one's.
            last = deadline.until(deadline.at - facts["fill_seconds"])
            again, more = _recover(treat, layout, cut, dual, limits, coupling, last, gap)
            if float(value[again].sum()) > objective + 1e-9:
                pick, facts = again, more
    method = (
        f"decomposition over {len(treat)} pairs ({iterations} iterations, "
        f"{dual.active_rows} rows in the master, {cuts} cover cuts, "
        f"{facts['free_customers']} customers in the "
        f"residual MILP ({facts.get('residual_status', 'empty')}))"
    ) + (", greedy incumbent" if greedy_won else "")
    return pick, lp_bound, bound, method, not dual.converged
