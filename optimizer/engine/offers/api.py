"""Personalised offers: choose, per customer, up to N offers among a generic bonus and product
offers, within every budget and cap, with a proven gap to an upper bound.

Why a package of its own: :func:`optimizer.engine.allocation.allocate` gives at most one bonus
per customer; product offers add a second dimension (which product) and several offers per
customer. The generic allocation runs first; its chosen (customer, bonus type) pair is one
option of the customer here, beside the recommender's product candidates.

Objective: maximise the total expected value of the chosen options (for a product offer: the
recommender's incremental margin minus the retailer's expected share of the discount; for the
generic bonus: the allocation's expected value).

Constraints:
    * at most ``max_offers`` options per customer, at most one generic bonus per customer;
    * the retailer's expected cost (generic cost + retailer share of discounts) <= ``budget``;
    * per product: expected discount (both shares) <= its product budget;
    * per supplier: expected supplier share <= its supplier budget;
    * per option code (bonus type): number chosen <= its cap;
    * options marked ``required`` (a generic bonus the allocation needed for a coverage minimum)
      are kept;
    * control customers get nothing: their best options (top ``max_offers`` by value, at most one
      generic, budgets ignored) are returned with status ``control`` so results compare.

Methods: the direct MILP (:mod:`.milp`, exact, small instances) or the decomposition
(:mod:`.decomposition`: column generation for the Lagrangian bound, then a recovery); ``auto``
picks by the number of pairs. Pure and deterministic given ``random_state``; the solver time
limit is explicit and bounds the whole call; only ``clock`` (``time.perf_counter``) is read, for
the deadline and the reported duration.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from optimizer.engine.allocation.deadline import Deadline
from optimizer.engine.allocation.types import (
    STATUS_FEASIBLE,
    STATUS_FEASIBLE_ABOVE_GAP,
    STATUS_OPTIMAL,
    STATUS_TIME_LIMIT,
    InfeasibleAllocation,
)
from optimizer.engine.offers.decomposition import decompose
from optimizer.engine.offers.milp import solve_milp
from optimizer.engine.offers.rows import Rows, build_rows
from optimizer.engine.offers.types import (
    GENERIC,
    PLACES,
    OfferConstraints,
    OfferResult,
    check_options,
)

METHODS = ("auto", "milp", "decomposition")
#: ``auto`` solves the direct MILP up to this many pairs (measured: the MILP proved 2,000
#: customers x 6 options within 1e-4, and hit its time limit at 10,000; bench/README.md).
AUTO_MILP_MAX_PAIRS = 15_000


def _control(
    customers: np.ndarray, control: frozenset[int], treated: frozenset[int], share: float, seed: int
) -> set[int]:
    fixed = control | treated
    rest = np.array(sorted(int(c) for c in customers if int(c) not in fixed), dtype=np.int64)
    drawn = int(np.floor(share * rest.size))
    rng = np.random.default_rng(seed)
    return set(control) | {int(c) for c in rng.choice(rest, size=drawn, replace=False)}


def _best(frame: pd.DataFrame, max_offers: int) -> pd.DataFrame:
    """Each customer's top options by value (at most one generic), budgets ignored."""
    ordered = frame.sort_values(["customer_id", "value"], ascending=[True, False], kind="stable")
    extra_generic = (ordered["kind"] == GENERIC) & ordered.duplicated(["customer_id", "kind"])
    kept = ordered.loc[~extra_generic & (ordered["value"] > 0)]
    return kept.groupby("customer_id", sort=False).head(max_offers)


def _check_required(frame: pd.DataFrame, rows: Rows, max_offers: int) -> None:
    required = frame["required"].to_numpy(dtype=bool)
    used = rows.usage(required)
    over = np.flatnonzero(used > rows.limits + 1e-9 * np.maximum(1.0, rows.limits))
    if over.size:
        name = rows.names[int(over[0])]
        raise InfeasibleAllocation(
            f"The generic bonuses that coverage minima need use {used[over[0]]:.2f} of "
            f"{name}, more than its limit {rows.limits[over[0]]:.2f}.",
            constraint="budget" if name == "budget" else name,
        )
    per_customer = frame.loc[required].groupby("customer_id").size()
    if (per_customer > max_offers).any():
        raise InfeasibleAllocation(
            "A customer has more required options than N.", constraint="max_offers"
        )


def _status(gap: float, tolerance: float, time_limited: bool) -> str:
    if gap <= 1e-6:
        return STATUS_OPTIMAL
    if gap <= tolerance:
        return STATUS_FEASIBLE
    return STATUS_TIME_LIMIT if time_limited else STATUS_FEASIBLE_ABOVE_GAP


def _milp(
    treat: pd.DataFrame, rows: Rows, limits: OfferConstraints, deadline: Deadline, gap: float
) -> tuple[np.ndarray, float, float, str, bool]:
    answer = solve_milp(treat, rows, limits.max_offers, deadline=deadline, gap_tolerance=gap)
    facts: dict[str, Any] = answer.facts
    method = f"milp over {len(treat)} pairs ({facts.get('status', 'no pair')})" + (
        ", greedy incumbent" if facts.get("incumbent") == "greedy" else ""
    )
    return answer.pick, answer.lp_bound, answer.bound, method, bool(facts.get("time_limited"))


def offers_allocate(
    options: pd.DataFrame,
    limits: OfferConstraints,
    *,
    control: frozenset[int] = frozenset(),
    treated: frozenset[int] = frozenset(),
    random_state: int,
    time_limit: float,
    gap_tolerance: float = 1e-4,
    method: str = "auto",
    clock: Callable[[], float] = time.perf_counter,
) -> OfferResult:
    """Choose each customer's offers (see the module docstring).

    Args:
        options: one row per (customer, option). ``customer_id`` (int64), ``option`` (str: the
            bonus type code), ``product_id`` (Int64, NA on a generic option), ``kind``
            ("generic" | "product"), ``supplier`` (str, "" when none), ``value`` (float64:
            expected value net of the retailer's expected cost), ``retailer_cost`` and
            ``supplier_cost`` (float64 >= 0, expected), ``required`` (bool), ``reason`` (str).
        limits: N, budgets and caps.
        control: customers already in the control group (the campaign's control members).
        treated: customers already treated (members with a generic bonus): never drawn.
        random_state: seed of the control draw among the other customers (``control_share``).
        time_limit: wall-time limit of the whole call in seconds (> 0): every solver and
            stage gets a share of what is left (see :mod:`.decomposition`).
        gap_tolerance: relative gap accepted as "feasible-within-gap".
        method: "milp" (exact, small instances), "decomposition" (chain scale) or "auto"
            (the MILP up to :data:`AUTO_MILP_MAX_PAIRS` pairs).
        clock: the clock of the time limit (``time.perf_counter``; tests inject a fake one).

    Returns:
        :class:`OfferResult`.

    Raises:
        EngineInputError: a missing column or a bad value (the row is named).
        InfeasibleAllocation: the required options alone break a limit.
        ValueError: an unknown method, or a time limit that is not positive.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    deadline = Deadline(time_limit, clock)  # the whole call's, input checks included
    frame = check_options(options)
    customers = frame["customer_id"].unique()
    in_control = _control(customers, control, treated, limits.control_share, random_state)
    is_control = frame["customer_id"].isin(in_control).to_numpy()
    held = _best(frame.loc[is_control], limits.max_offers).assign(status="control")
    treat = frame.loc[~is_control & ((frame["value"] > 0) | frame["required"].astype(bool))]
    treat = treat.reset_index(drop=True)
    rows = build_rows(treat, limits)
    _check_required(treat, rows, limits.max_offers)
    pick = np.zeros(len(treat), dtype=bool)
    lp_bound = bound = 0.0
    described, time_limited = "nothing to choose", False
    if len(treat):
        use_milp = method == "milp" or (method == "auto" and len(treat) <= AUTO_MILP_MAX_PAIRS)
        solve = _milp if use_milp else decompose
        pick, lp_bound, bound, described, time_limited = solve(
            treat, rows, limits, deadline, gap_tolerance
        )
    chosen = treat.loc[pick]
    objective = float(chosen["value"].sum())
    gap = max(bound - objective, 0.0) / max(abs(bound), 1e-9) if len(treat) else 0.0
    used, limit = rows.usage(pick), rows.limits
    constraints = tuple(
        {
            "name": name,
            "limit": round(float(limit[k]), PLACES),
            "used": round(float(used[k]), PLACES),
            "binding": bool(limit[k] - used[k] <= 1e-6 * max(1.0, limit[k])),
        }
        for k, name in enumerate(rows.names)
    )
    out = pd.concat([chosen.assign(status="allocated"), held], ignore_index=True)
    out = out.sort_values(["customer_id", "value"], ascending=[True, False], kind="stable")
    out["rank"] = out.groupby("customer_id").cumcount().astype("int64") + 1
    return OfferResult(
        chosen=out.reset_index(drop=True),
        objective=round(objective, PLACES),
        lp_bound=round(lp_bound, PLACES),
        bound=round(bound, PLACES),
        gap=round(gap, 9),
        status=_status(gap, gap_tolerance, time_limited) if len(treat) else STATUS_OPTIMAL,
        method=described,
        constraints=constraints,
        solve_seconds=deadline.elapsed(),
    )
