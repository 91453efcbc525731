"""Primal recovery of the decomposition: from optimal multipliers to a feasible allocation.

Objective: at the (near-)optimal Lagrange multipliers every customer has a preferred option and a
*lead* over the runner-up ("nothing" included). Customers with a clear lead are fixed (in every LP
optimum they take that option, by complementary slackness); the ``free_customers`` with the
smallest lead form a small residual MILP (HiGHS, as arrays) over what is left of budget, caps,
coverage and the coupling rows. A final greedy fill spends what budget and caps are left.

Degenerate instances (many identical customers, values rounded to 0.1) have whole blocks of
customers whose reduced values tie exactly; the LP splits such a block fractionally, and a cut at
``reduced > 0`` keeps all of it or none. Three rules make the rounding safe there:

1. *Seeded perturbation*: ties are broken by ``TIE_EPS * scale * u_i`` with ``u_i`` uniform in
   (-1, 1) from a fixed seed, so a tied block splits (deterministically) instead of moving as
   one; it changes the order of the recovery only, never the objective or the bound.
2. *Free customers chosen with the minimums still owed*: the fixed customers are taken first,
   then for every minimum (coverage or ``>=`` row) the customers the residual can still use are
   topped up from the best fixed-out members, so the residual is feasible by construction.
3. *Release, then fill*: fixed customers that overrun a limit (budget, a cap, a ``<=`` row) are
   released weakest first (freed up to the free-set size, dropped beyond it), and after the
   residual MILP every unserved customer with a positive value is added, best first, while every
   limit holds (batched: no per-customer Python loop).

If the residual MILP fails the free set grows 4x (twice) while the time left pays for it (the
last attempt's measured cost, scaled by the growth) or the greedy repair, the last resort, finds
no feasible allocation (then the limit is overrun rather than no answer returned).

Constraints: the returned allocation is always checked with ``is_feasible`` by the caller; the
residual MILP stops at an absolute gap of 25% of the certified gap tolerance, after a third of
the time left, and at the deadline.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from optimizer.engine.allocation.coupling import member_mask, pair_weights
from optimizer.engine.allocation.deadline import Deadline
from optimizer.engine.allocation.fill import Left, fill, fill_positive, slack
from optimizer.engine.allocation.milp import solve_sub_milp
from optimizer.engine.allocation.problem import Core
from optimizer.engine.allocation.solver import is_feasible, objective, usage
from optimizer.engine.allocation.types import AllocationConfig

#: Relative size of the tie-breaking perturbation (of the largest reduced value).
TIE_EPS = 1e-9
TIE_SEED = 20_181_018
#: The residual MILP frees at most this many times ``AllocationConfig.free_customers``.
FREE_MAX_FACTOR = 8
#: At most this many further residual MILPs (blocks of the least certain customers).
IMPROVE_ROUNDS = 8
#: A residual MILP stops at this share of the certified gap tolerance (absolute, of the bound):
#: the rounding of the rest and the residual's own gap together stay inside the tolerance.
SUB_GAP_SHARE = 0.25


def _finite_range(red: np.ndarray) -> tuple[float, float]:
    """``(min(0, smallest finite), max(1, largest finite |red|))`` without copying ``red``."""
    finite = np.isfinite(red)
    low = float(red.min(where=finite, initial=np.inf))
    high = float(red.max(where=finite, initial=-np.inf))
    return min(0.0, low), max(1.0, high, -low)


def perturb(red: np.ndarray) -> np.ndarray:
    """``red`` plus the seeded per-customer tie-breaker (in place; returned)."""
    _, scale = _finite_range(red)
    u = np.asarray(np.random.default_rng(TIE_SEED).uniform(-1.0, 1.0, size=red.shape[0]))
    red += TIE_EPS * scale * u[:, None]
    return red


def _margins(red: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per customer: preferred option (-1 = nothing) and its lead over the runner-up."""
    best = red.argmax(axis=1)
    top = red[np.arange(red.shape[0]), best]
    return np.where(top > 0, best, -1), _lead(red)


def _minimum_rows(core: Core) -> list[tuple[np.ndarray | None, np.ndarray, bool, float]]:
    """Every minimum as (members or None, type mask, cost weighted, limit)."""
    out: list[tuple[np.ndarray | None, np.ndarray, bool, float]] = []
    all_types = np.ones(len(core.types), dtype=bool)
    for s, need in core.coverage:
        out.append((core.seg == s, all_types, False, float(need)))
    for r, row in enumerate(core.extra):
        if row.sense == ">=" and row.limit > 0:
            out.append(
                (member_mask(core.extra, core.groups, r), row.types, row.cost_weighted, row.limit)
            )
    return out


def top_up(core: Core, choice: np.ndarray, red: np.ndarray, protect: np.ndarray) -> np.ndarray:
    """Meet what each minimum still owes from unserved customers outside ``protect`` (the free
    set), best reduced value first, within every limit."""
    for members, types, cost_weighted, limit in _minimum_rows(core):
        rows = np.flatnonzero(choice >= 0)
        in_row = types[choice[rows]]
        if members is not None:
            in_row &= members[rows]
        w = core.cost[rows, choice[rows]] if cost_weighted else np.ones(rows.size)
        owed = limit - float(w[in_row].sum())
        cand = np.flatnonzero((choice < 0) & ~protect & (True if members is None else members))
        if owed <= 0 or cand.size == 0:
            continue
        sub = np.where(types[None, :], red[cand], -np.inf)
        pick = sub.argmax(axis=1)
        ok = np.isfinite(sub[np.arange(cand.size), pick])
        cand, pick = cand[ok], pick[ok]
        order = np.argsort(-red[cand, pick], kind="stable")
        cand, pick = cand[order], pick[order]
        weight = core.cost[cand, pick] if cost_weighted else np.ones(cand.size)
        choice = fill(core, choice, cand, pick, stop_at=owed, weight=weight)
    return choice


def _release(
    core: Core, choice: np.ndarray, lead: np.ndarray, is_free: np.ndarray, size: int
) -> np.ndarray:
    """Release the weakest fixed customers until the fixed part fits every limit.

    With multipliers optimal only to the column-generation tolerance (or a perturbed tie), the
    fixed customers may overuse a resource; releasing the ones with the smallest lead on exactly
    that resource restores a feasible residual. Up to ``size`` released customers join the free
    set; beyond that they are dropped (the final fill gives them back what is left).
    """
    fixed = np.where(is_free, -1, choice)
    budget_left, caps_left, rows_left = slack(core, fixed)
    released: list[np.ndarray] = []
    if budget_left < 0:
        cand = np.flatnonzero(fixed >= 0)
        cand = cand[np.argsort(lead[cand], kind="stable")]
        spent = np.cumsum(core.cost[cand, fixed[cand]])
        take = int(np.searchsorted(spent, -budget_left)) + 1
        released.append(cand[:take])
        fixed[cand[:take]] = -1
    for j in np.flatnonzero(caps_left < 0):
        cand = np.flatnonzero(fixed == j)
        cand = cand[np.argsort(lead[cand], kind="stable")][: int(np.ceil(-caps_left[j]))]
        released.append(cand)
        fixed[cand] = -1
    for r in np.flatnonzero(rows_left < 0):
        cand = np.flatnonzero(fixed >= 0)
        w = pair_weights(core.extra[r : r + 1], core.groups, core.cost, cand, fixed[cand])[:, 0]
        cand, w = cand[w > 0], w[w > 0]
        order = np.argsort(lead[cand], kind="stable")
        over = slack(core, fixed)[2][r]
        take = int(np.searchsorted(np.cumsum(w[order]), -over - 1e-9)) + 1
        released.append(cand[order][:take])
        fixed[cand[order][:take]] = -1
    if released:
        out = np.concatenate(released)
        room = max(size - int(is_free.sum()), 0)
        keep = out[np.argsort(-lead[out], kind="stable")][:room]  # the closest calls stay free
        is_free = is_free.copy()
        is_free[keep] = True
    return is_free


@dataclass(frozen=True, eq=False)
class LpPrimal:
    """The master's LP solution per customer, kept sparse (``dual.lp_primal``): ``choice`` where
    the LP is integral (-1 = nothing; -1 also for the fractional rows), ``rows`` the fractional
    customers and ``x`` their shares per type (len(rows), K). At 1M customers only a few
    thousand are fractional: a dense (n, K) copy of the LP cost more than the rounding."""

    choice: np.ndarray
    rows: np.ndarray
    x: np.ndarray


def _lead(red: np.ndarray) -> np.ndarray:
    """Per customer, the lead of the preferred option over the runner-up ("nothing" counts as
    0), or ``-top`` when nothing is preferred: the largest two of each row, one column at a
    time (numpy's reductions along a row of 6 are several times slower)."""
    top = red[:, 0].copy()
    second = np.full(red.shape[0], -np.inf)
    low = np.empty_like(top)
    for j in range(1, red.shape[1]):
        col = red[:, j]
        np.minimum(top, col, out=low)
        np.maximum(second, low, out=second)
        np.maximum(top, col, out=top)
    np.maximum(second, 0.0, out=second)
    lead: np.ndarray = np.where(top > 0, top - second, -top)
    return lead


def _round_lp(core: Core, red: np.ndarray, lp: LpPrimal) -> tuple[np.ndarray, np.ndarray]:
    """Start from the LP solution: integral customers keep its choice, fractional ones follow
    its mix (module docstring). Returns (choice, lead): ``lead`` orders the free set, the most
    fractional customers first (0..1), integral ones after them (their reduced-value lead + 1).

    A block of tied customers is split by the LP between types and "nothing"; the fractional
    customers are filled, highest LP share first (ties by the perturbed reduced value), with
    per-type quotas equal to the LP's total on them, so the block keeps the LP's mix.
    """
    k = len(core.types)
    choice = lp.choice.astype(np.int64)
    rows, x = lp.rows, lp.x
    nothing = 1.0 - x.sum(axis=1)
    best = x.argmax(axis=1) if rows.size else np.zeros(0, dtype=np.int64)
    top = x[np.arange(rows.size), best]
    share = np.maximum(top, nothing)
    near = share >= 1.0 - 1e-7  # integral up to the master's tolerance
    choice[rows[near]] = np.where(top >= nothing, best, -1)[near]
    rows, x, share = rows[~near], x[~near], share[~near]
    lead = _lead(red)
    lead += 1.0
    lead[rows] = share
    if rows.size == 0:
        return choice, lead
    choice[rows] = -1
    fixed_count = np.bincount(choice[choice >= 0], minlength=k).astype(np.float64)
    quota = fixed_count + np.floor(x.sum(axis=0) + 1e-6)
    capped = replace(core, caps=np.minimum(core.caps, quota))
    # the order key of the fractional rows only (a few thousand of 1M)
    low, scale = _finite_range(red)
    red_f = red[rows]
    order_key = x + 1e-3 * (red_f - low) / scale
    order_key = np.where(np.isfinite(red_f), order_key, -np.inf)
    ranked = np.argsort(-order_key, axis=1, kind="stable")
    left = Left(*slack(capped, choice))  # kept across the ranks (one usage scan, not K)
    for rank in range(k):
        pos = np.flatnonzero(choice[rows] < 0)
        if pos.size == 0:
            break
        out, pick = rows[pos], ranked[pos, rank]
        ok = x[pos, pick] > 1e-9
        pos, out, pick = pos[ok], out[ok], pick[ok]
        order = np.argsort(-order_key[pos, pick], kind="stable")
        choice = fill(capped, choice, out[order], pick[order], left=left)
    return choice, lead


def recover(
    core: Core,
    red: np.ndarray,
    bound: float,
    config: AllocationConfig,
    deadline: Deadline,
    *,
    lp: LpPrimal | None = None,
) -> tuple[np.ndarray, str, int]:
    """Feasible allocation from the reduced values at (near-)optimal multipliers.

    ``red`` is perturbed in place (module docstring, rule 1); ``lp``: the master's LP
    solution (:func:`_round_lp`); without it the customers are fixed by their lead.
    Returns (choice, how, number of free customers in the residual MILP).
    """
    red = perturb(red)
    if lp is not None:
        choice, lead = _round_lp(core, red, lp)
    else:
        choice, lead = _margins(red)
    rounded = _feasible_rounding(core, choice, red)
    target = 0.5 * config.gap_tolerance * max(abs(bound), 1e-9)
    if rounded is not None and bound - objective(core, rounded) <= target:
        return rounded, "LP rounding + fill", 0
    n = choice.shape[0]
    # Every customer the LP leaves fractional is free (up to FREE_MAX_FACTOR x the configured
    # size): the residual MILP then decides exactly the part of the LP that is not integral.
    fractional = int(np.count_nonzero(lead < 1.0)) if lp is not None else 0
    size = min(max(config.free_customers, fractional + config.free_customers // 5), n)
    size = min(size, FREE_MAX_FACTOR * config.free_customers)
    expected = 0.0  # clock seconds the next attempt should take (the last one's, scaled)
    fallback: np.ndarray | None = None
    for _ in range(3):
        started = deadline.clock()
        if deadline.expired():
            break
        if deadline.remaining() < expected:
            # no time for a larger attempt: stop only if the greedy repair is an answer (with
            # minimums it may not be, and an overrun with an allocation beats an error on time)
            fallback = greedy(core, choice, red)
            if is_feasible(core, fallback):
                break
        is_free = np.zeros(n, dtype=bool)
        if size:
            is_free[np.argpartition(lead, size - 1)[:size] if size < n else np.arange(n)] = True
        is_free = _release(core, choice, lead, is_free, 2 * size)
        fixed = np.where(is_free, -1, choice)
        fixed = _release_drop(core, fixed)
        fixed = top_up(core, fixed, red, is_free)
        free = np.flatnonzero(is_free)
        sub = solve_sub_milp(
            _residual(core, fixed, free),
            time_limit=_sub_seconds(deadline),
            gap_abs=SUB_GAP_SHARE * config.gap_tolerance * max(abs(bound), 1.0),
        )
        if sub is not None:
            fixed[free] = sub
            fixed = fill_positive(core, fixed, red)
            if is_feasible(core, fixed):
                if rounded is not None and objective(core, rounded) > objective(core, fixed):
                    fixed = rounded
                fixed, rounds = _improve(core, fixed, lead, is_free, red, bound, config, deadline)
                how = "fix-and-solve sub-MILP + fill" + (f" + {rounds} more" if rounds else "")
                return fixed, how, int(free.size)
        grown = min(4 * size, n, FREE_MAX_FACTOR * config.free_customers)
        if grown <= size:  # a larger residual MILP is built at Python speed: never past this
            break
        expected = (deadline.clock() - started) * grown / max(size, 1)
        size = grown
    if rounded is not None:
        return rounded, "LP rounding + fill", 0
    return (fallback if fallback is not None else greedy(core, choice, red)), "greedy repair", 0


def _feasible_rounding(core: Core, choice: np.ndarray, red: np.ndarray) -> np.ndarray | None:
    """The rounded LP solution plus the positive fill, when it keeps every limit and minimum:
    an incumbent that the residual MILPs must beat (with coupling minimums over another
    attribute than the caps, the top-up before a residual can cost more than the residual
    wins back)."""
    if not is_feasible(core, choice):
        return None
    filled = fill_positive(core, choice, red)
    return filled if is_feasible(core, filled) else choice


def _sub_seconds(deadline: Deadline) -> float:
    """One residual MILP may use a third of what is left (at least 2 s): a symmetric residual
    (many identical customers) can keep HiGHS proving optimality long after its incumbent is
    good enough, and the fill and further rounds need time too."""
    return deadline.solver_seconds(cap=max(2.0, deadline.remaining() / 3))


def _residual(core: Core, fixed: np.ndarray, free: np.ndarray) -> Core:
    """The problem of the ``free`` customers over what the ``fixed`` ones leave of every row."""
    use = usage(core, fixed)
    return core.subset(
        free,
        budget=max(core.budget - use["cost"], 0.0),
        caps=np.maximum(core.caps - use["count"], 0.0),
        coverage=tuple((s, int(max(0.0, req - use["covered"][s]))) for s, req in core.coverage),
        limits=np.maximum(core.extra_limits() - use["extra"], 0.0),
    )


def _improve(
    core: Core,
    choice: np.ndarray,
    lead: np.ndarray,
    done: np.ndarray,
    red: np.ndarray,
    bound: float,
    config: AllocationConfig,
    deadline: Deadline,
) -> tuple[np.ndarray, int]:
    """Re-solve further blocks of the least certain customers while the gap exceeds half the
    tolerance (a large-neighbourhood search: the current allocation is feasible for every
    block's residual, so no round makes it worse). Stops with 25% of the time left, or when
    what is left would not pay for another round as long as the last one."""
    size = max(config.free_customers, int(done.sum()))
    target = 0.5 * config.gap_tolerance * max(abs(bound), 1e-9)
    rounds = 0
    order: np.ndarray | None = None  # sorted only when a round runs (1M customers: 0.1 s)
    start, last = 0, 0.0
    while rounds < IMPROVE_ROUNDS:
        current = objective(core, choice)
        left = deadline.remaining()
        if bound - current <= target or left < max(0.25 * deadline.seconds, last):
            break
        if order is None:
            order = np.argsort(lead, kind="stable")
            order = order[~done[order]]
        if start >= order.size:
            break
        began = deadline.clock()
        block = order[start : start + size]
        start += size
        fixed = choice.copy()
        fixed[block] = -1
        sub = solve_sub_milp(
            _residual(core, fixed, block),
            time_limit=_sub_seconds(deadline),
            gap_abs=SUB_GAP_SHARE * config.gap_tolerance * max(abs(bound), 1.0),
        )
        rounds += 1
        if sub is not None:
            fixed[block] = sub
            fixed = fill_positive(core, fixed, red)
            if is_feasible(core, fixed) and objective(core, fixed) >= current:
                choice = fixed
        last = deadline.clock() - began
    return choice, rounds


def _release_drop(core: Core, fixed: np.ndarray) -> np.ndarray:
    """Whatever still overruns a limit after the release (freed set full) is dropped."""
    budget_left, caps_left, rows_left = slack(core, fixed)
    if budget_left >= -1e-9 and (caps_left >= -1e-9).all() and (rows_left >= -1e-9).all():
        return fixed
    rows = np.flatnonzero(fixed >= 0)
    order = rows[np.argsort(-core.value[rows, fixed[rows]], kind="stable")]
    return fill(core, np.full_like(fixed, -1), order, fixed[order])


def greedy(core: Core, choice: np.ndarray, red: np.ndarray) -> np.ndarray:
    """Repair to feasibility: keep the strongest within every limit, meet the minimums, fill."""
    rows = np.flatnonzero(choice >= 0)
    order = rows[np.argsort(-red[rows, choice[rows]], kind="stable")]
    kept = fill(core, np.full_like(choice, -1), order, choice[order])
    kept = top_up(core, kept, red, np.zeros(choice.shape[0], dtype=bool))
    return fill_positive(core, kept, red)
