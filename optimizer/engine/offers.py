"""Personalised offers: choose, per customer, up to N offers among a generic bonus and product
offers, within every budget and cap, with a proven gap to the LP bound.

Why a module of its own: :func:`optimizer.engine.allocation.allocate` gives at most one bonus per
customer and is tuned for millions of customers with one pair per bonus type; product offers add
a second dimension (which product) and several offers per customer. The generic allocation runs
first; its chosen (customer, bonus type) pair is one option of the customer here, beside the
recommender's product candidates, and this MILP decides the whole basket of offers.

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

Pure and deterministic given ``random_state``; the solver time limit is explicit; only
``time.perf_counter`` is read, for the reported duration.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pulp

from optimizer.engine.allocation.solver import make_solver, solver_facts
from optimizer.engine.allocation.types import (
    STATUS_FEASIBLE,
    STATUS_FEASIBLE_ABOVE_GAP,
    STATUS_OPTIMAL,
    STATUS_TIME_LIMIT,
    InfeasibleAllocation,
)
from optimizer.engine.types import EngineInputError

GENERIC = "generic"
PRODUCT = "product"
OPTION_COLUMNS = (
    "customer_id",
    "option",
    "product_id",
    "kind",
    "supplier",
    "value",
    "retailer_cost",
    "supplier_cost",
    "required",
    "reason",
)
#: Expected costs are rounded to this many places in constraint reports.
_PLACES = 6


@dataclass(frozen=True)
class OfferConstraints:
    """Budgets and caps of one campaign's offers.

    Attributes:
        max_offers: N, options per customer (generic bonus included), >= 1.
        budget: the retailer's total expected cost, money, >= 0.
        product_budgets: product id -> cap on the expected discount (retailer + supplier).
        supplier_budgets: supplier name -> cap on the supplier's expected share.
        option_caps: option code -> maximum number chosen.
        control_share: share of the customers not in ``control`` drawn into the control group.
    """

    max_offers: int
    budget: float
    product_budgets: Mapping[int, float] = field(default_factory=dict)
    supplier_budgets: Mapping[str, float] = field(default_factory=dict)
    option_caps: Mapping[str, int] = field(default_factory=dict)
    control_share: float = 0.0

    def __post_init__(self) -> None:
        if self.max_offers < 1:
            raise ValueError(f"max_offers must be >= 1, got {self.max_offers}")
        if not self.budget >= 0:
            raise ValueError(f"budget must be >= 0, got {self.budget}")
        if not 0.0 <= self.control_share < 1.0:
            raise ValueError(f"control_share must be in [0, 1), got {self.control_share}")
        for name, limits in (
            ("product budget", self.product_budgets),
            ("supplier budget", self.supplier_budgets),
            ("cap", self.option_caps),
        ):
            for key, limit in limits.items():
                if limit < 0:
                    raise ValueError(f"{name} of {key!r} must be >= 0, got {limit}")


@dataclass(frozen=True, eq=False)
class OfferResult:
    """Output of :func:`offers_allocate`.

    Attributes:
        chosen: one row per chosen option: the input columns plus ``status`` ("allocated" or
            "control") and ``rank`` (int64, 1 = the customer's best by value).
        objective: total value of the allocated options.
        lp_bound: optimum of the LP relaxation (an upper bound on any allocation).
        bound: the tightest proven upper bound: the solver's dual bound after branch and bound
            (HiGHS), never above ``lp_bound``.
        gap: ``(bound - objective) / max(|bound|, 1e-9)``: the proven optimality gap.
        status: optimal / feasible-within-gap / feasible / time_limit.
        method: solver and problem size.
        constraints: per coupling constraint: ``name``, ``limit``, ``used``, ``binding``.
        solve_seconds: wall time of the call.
    """

    chosen: pd.DataFrame
    objective: float
    lp_bound: float
    bound: float
    gap: float
    status: str
    method: str
    constraints: tuple[dict[str, Any], ...]
    solve_seconds: float


def _check(options: pd.DataFrame) -> pd.DataFrame:
    missing = [c for c in OPTION_COLUMNS if c not in options.columns]
    if missing:
        raise EngineInputError(f"options: missing column(s) {', '.join(missing)}")
    frame = options.loc[:, list(OPTION_COLUMNS)].reset_index(drop=True)
    bad_kind = ~frame["kind"].isin([GENERIC, PRODUCT])
    if bad_kind.any():
        row = int(np.flatnonzero(bad_kind.to_numpy())[0])
        raise EngineInputError(f"options row {row}: kind must be generic or product")
    for column in ("value", "retailer_cost", "supplier_cost"):
        values = frame[column].astype("float64")
        bad = ~np.isfinite(values.to_numpy())
        if column != "value":
            bad |= values.to_numpy() < 0
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise EngineInputError(f"options row {row}: {column} must be a finite number >= 0")
    product_rows = frame["kind"] == PRODUCT
    if frame.loc[product_rows, "product_id"].isna().any():
        row = int(np.flatnonzero((product_rows & frame["product_id"].isna()).to_numpy())[0])
        raise EngineInputError(f"options row {row}: a product option needs its product_id")
    dupes = frame.loc[product_rows].duplicated(["customer_id", "product_id"])
    if dupes.any():
        row = int(frame.loc[product_rows].index[dupes.to_numpy()][0])
        raise EngineInputError(f"options row {row}: the customer has this product twice")
    return frame


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


def _add_limits(
    prob: pulp.LpProblem, x: list[Any], frame: pd.DataFrame, limits: OfferConstraints
) -> list[tuple[str, float, np.ndarray, np.ndarray]]:
    """Coupling constraints; returns ``(name, limit, row indices, weights)`` for the report."""
    rows: list[tuple[str, float, np.ndarray, np.ndarray]] = []
    discount = (frame["retailer_cost"] + frame["supplier_cost"]).to_numpy(dtype="float64")
    all_rows = np.arange(len(frame))
    rows.append(("budget", limits.budget, all_rows, frame["retailer_cost"].to_numpy("float64")))
    for product, cap in sorted(limits.product_budgets.items()):
        idx = np.flatnonzero((frame["product_id"] == product).fillna(False).to_numpy())
        rows.append((f"product:{product}", float(cap), idx, discount[idx]))
    for supplier, cap in sorted(limits.supplier_budgets.items()):
        idx = np.flatnonzero((frame["supplier"] == supplier).to_numpy())
        rows.append(
            (f"supplier:{supplier}", float(cap), idx, frame["supplier_cost"].to_numpy()[idx])
        )
    for code, cap in sorted(limits.option_caps.items()):
        idx = np.flatnonzero((frame["option"] == code).to_numpy())
        rows.append((f"cap:{code}", float(cap), idx, np.ones(idx.size)))
    for name, limit, idx, weights in rows:
        if idx.size:
            prob += (
                pulp.lpSum(float(w) * x[i] for i, w in zip(idx, weights, strict=True)) <= limit,
                name,
            )
    return rows


def _build(frame: pd.DataFrame, limits: OfferConstraints, *, integer: bool) -> tuple[Any, ...]:
    prob = pulp.LpProblem("offers", pulp.LpMaximize)
    cat = pulp.LpBinary if integer else pulp.LpContinuous
    x = [pulp.LpVariable(f"x{i}", lowBound=0, upBound=1, cat=cat) for i in range(len(frame))]
    values = frame["value"].to_numpy("float64")
    prob += pulp.lpSum(float(v) * x[i] for i, v in enumerate(values))
    is_generic = (frame["kind"] == GENERIC).to_numpy()
    for n, idx in enumerate(frame.groupby("customer_id", sort=True).indices.values()):
        prob += pulp.lpSum(x[i] for i in idx) <= limits.max_offers, f"n{n}"
        generic = [i for i in idx if is_generic[i]]
        if len(generic) > 1:
            prob += pulp.lpSum(x[i] for i in generic) <= 1, f"g{n}"
    for i in np.flatnonzero(frame["required"].to_numpy(dtype=bool)):
        prob += x[i] >= 1, f"r{i}"
    report = _add_limits(prob, x, frame, limits)
    return prob, x, report


def _check_required(frame: pd.DataFrame, limits: OfferConstraints) -> None:
    required = frame.loc[frame["required"].astype(bool)]
    cost = float(required["retailer_cost"].sum())
    if cost > limits.budget + 1e-9:
        raise InfeasibleAllocation(
            f"The generic bonuses that coverage minima need cost {cost:.2f}, more than the "
            f"budget {limits.budget:.2f}.",
            constraint="budget",
        )


def _greedy(frame: pd.DataFrame, limits: OfferConstraints) -> np.ndarray:
    """A feasible choice without a solver: the required options, then the others by value per
    unit of retailer cost while N, the budgets and the caps still allow. The MILP's fallback
    incumbent when its time limit stops it early (it has no optimality guarantee)."""
    n = len(frame)
    value = frame["value"].to_numpy("float64")
    cost = frame["retailer_cost"].to_numpy("float64")
    supplier_cost = frame["supplier_cost"].to_numpy("float64")
    required = frame["required"].to_numpy(dtype=bool)
    customer = frame["customer_id"].to_numpy()
    generic = (frame["kind"] == GENERIC).to_numpy()
    product = frame["product_id"].astype("float64").fillna(-1).to_numpy().astype(np.int64)
    supplier = frame["supplier"].astype(str).to_numpy()
    option = frame["option"].astype(str).to_numpy()
    left = {"budget": limits.budget}
    product_left = {int(k): float(v) for k, v in limits.product_budgets.items()}
    supplier_left = {str(k): float(v) for k, v in limits.supplier_budgets.items()}
    cap_left = {str(k): int(v) for k, v in limits.option_caps.items()}
    count: dict[Any, int] = {}
    has_generic: set[Any] = set()
    pick = np.zeros(n, dtype=bool)
    ratio = value / np.maximum(cost, 1e-9)
    order = np.concatenate(
        [
            np.flatnonzero(required),
            np.flatnonzero(~required)[np.argsort(-ratio[~required], kind="stable")],
        ]
    )
    for i in order:
        c = customer[i]
        discount = cost[i] + supplier_cost[i]
        if not required[i] and (
            value[i] <= 0
            or count.get(c, 0) >= limits.max_offers
            or (generic[i] and c in has_generic)
            or cost[i] > left["budget"] + 1e-12
            or discount > product_left.get(int(product[i]), np.inf) + 1e-12
            or supplier_cost[i] > supplier_left.get(supplier[i], np.inf) + 1e-12
            or cap_left.get(option[i], 1) < 1
        ):
            continue
        pick[i] = True
        count[c] = count.get(c, 0) + 1
        if generic[i]:
            has_generic.add(c)
        left["budget"] -= cost[i]
        if int(product[i]) in product_left:
            product_left[int(product[i])] -= discount
        if supplier[i] in supplier_left:
            supplier_left[supplier[i]] -= supplier_cost[i]
        if option[i] in cap_left:
            cap_left[option[i]] -= 1
    return pick


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


def _report(name: str, limit: float, used: float) -> dict[str, Any]:
    return {
        "name": name,
        "limit": round(limit, _PLACES),
        "used": round(used, _PLACES),
        "binding": bool(limit - used <= 1e-6 * max(1.0, limit)),
    }


def _status(gap: float, facts: dict[str, Any], gap_tolerance: float) -> str:
    if facts.get("time_limited"):
        return STATUS_TIME_LIMIT
    if gap <= 1e-6:
        return STATUS_OPTIMAL
    return STATUS_FEASIBLE if gap <= gap_tolerance else STATUS_FEASIBLE_ABOVE_GAP


def offers_allocate(
    options: pd.DataFrame,
    limits: OfferConstraints,
    *,
    control: frozenset[int] = frozenset(),
    treated: frozenset[int] = frozenset(),
    random_state: int,
    time_limit: float,
    gap_tolerance: float = 1e-4,
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
        time_limit: solver wall-time limit in seconds.
        gap_tolerance: relative gap accepted as "feasible-within-gap".

    Returns:
        :class:`OfferResult`.

    Raises:
        EngineInputError: a missing column or a bad value (the row is named).
        InfeasibleAllocation: the required options alone exceed the budget.
    """
    t0 = time.perf_counter()
    frame = _check(options)
    customers = frame["customer_id"].unique()
    in_control = _control(customers, control, treated, limits.control_share, random_state)
    is_control = frame["customer_id"].isin(in_control).to_numpy()
    held = _best(frame.loc[is_control], limits.max_offers).assign(status="control")
    treat = frame.loc[~is_control & ((frame["value"] > 0) | frame["required"].astype(bool))]
    treat = treat.reset_index(drop=True)
    _check_required(treat, limits)
    chosen = treat.iloc[0:0]
    objective = lp_bound = bound = 0.0
    facts: dict[str, Any] = {}
    report: list[tuple[str, float, np.ndarray, np.ndarray]] = []
    if len(treat):
        relaxed, _, _ = _build(treat, limits, integer=False)
        relaxed.solve(make_solver(time_limit, mip=False))
        lp_bound = float(pulp.value(relaxed.objective) or 0.0)
        prob, x, report = _build(treat, limits, integer=True)
        prob.solve(make_solver(time_limit, gap_rel=gap_tolerance / 10))
        facts = solver_facts(prob)
        if facts["status"] == "Infeasible":
            raise InfeasibleAllocation(
                "The offer constraints cannot all hold.", constraint="budget"
            )
        pick = np.array([(v.value() or 0.0) > 0.5 for v in x], dtype=bool)
        fallback = _greedy(treat, limits)
        values = treat["value"].to_numpy("float64")
        if float(values[fallback].sum()) > float(values[pick].sum()) + 1e-9:
            # Stopped by its time limit without a better incumbent: keep the greedy one.
            pick = fallback
            facts["incumbent"] = "greedy"
        chosen = treat.loc[pick]
        objective = float(chosen["value"].sum())
        bound = min(_dual_bound(prob, objective, lp_bound), lp_bound)
    gap = max(bound - objective, 0.0) / max(abs(bound), 1e-9) if len(treat) else 0.0
    used = chosen.index.to_numpy()
    constraints = tuple(
        _report(name, limit, float(weights[np.isin(idx, used)].sum()))
        for name, limit, idx, weights in report
    )
    out = pd.concat([chosen.assign(status="allocated"), held], ignore_index=True)
    out = out.sort_values(["customer_id", "value"], ascending=[True, False], kind="stable")
    out["rank"] = out.groupby("customer_id").cumcount().astype("int64") + 1
    return OfferResult(
        chosen=out.reset_index(drop=True),
        objective=round(objective, _PLACES),
        lp_bound=round(lp_bound, _PLACES),
        bound=round(bound, _PLACES),
        gap=round(gap, 9),
        status=_status(gap, facts, gap_tolerance) if len(treat) else STATUS_OPTIMAL,
        method=f"milp over {len(treat)} pairs ({facts.get('status', 'no pair')})"
        + (", greedy incumbent" if facts.get("incumbent") == "greedy" else ""),
        constraints=constraints,
        solve_seconds=time.perf_counter() - t0,
    )
