"""Frozen value types of the bonus-allocation engine: constraints, knobs, reports and the result.

Objective: one place for the plain structures that cross the boundary between the Django glue and
:func:`optimizer.engine.allocation.allocate`, so that the glue builds an
:class:`AllocationConstraints` from a campaign row and writes an :class:`AllocationResult` back
without knowing the solver modules.

Constraints: stdlib, numpy and pandas only; no behaviour beyond validation in ``__post_init__``.
Money is float in the engine's currency unit (the glue converts Decimal on the way in and out).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

#: Result statuses. ``time_limit`` never claims optimality, whatever the solver said.
STATUS_OPTIMAL = "optimal"
STATUS_FEASIBLE = "feasible-within-gap"
STATUS_TIME_LIMIT = "time_limit"
STATUS_INFEASIBLE = "infeasible"
#: Feasible and converged, but the certified gap is above ``gap_tolerance`` (dual method only).
STATUS_FEASIBLE_ABOVE_GAP = "feasible"

#: Per-customer decision of :attr:`AllocationResult.decisions` ``status``.
ALLOCATED = "allocated"
CONTROL = "control"
INELIGIBLE = "ineligible"
NOT_SELECTED = "not_selected"


class InfeasibleAllocation(Exception):
    """The constraints cannot all hold; ``constraints`` names every one in the conflict.

    Attributes:
        constraint: machine-readable name of the first (``"budget"``, ``"coverage:at risk"``,
            ``"cap:coupon10"``, ``"eligibility"``, or a coupling constraint's own name).
        constraints: every constraint of the conflict (the minimum that cannot be met and the
            limits that stop it), ``(constraint,)`` when one alone cannot hold.
    """

    def __init__(self, message: str, *, constraint: str, constraints: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.constraint = constraint
        self.constraints = constraints or (constraint,)


#: ``CouplingConstraint.weight``: each chosen pair counts 1, or its expected cost (money).
WEIGHT_COUNT = "count"
WEIGHT_COST = "cost"


@dataclass(frozen=True)
class CouplingConstraint:
    """A linear limit over the (customer, bonus) pairs that customer/bonus attributes select.

    ``sum over chosen pairs (i, b) with customers[customer_attribute][i] == customer_value and
    bonus_types[bonus_attribute][b] in bonus_values of w(i, b)  <=  limit``  (or ``>=``), where
    ``w`` is 1 (``weight="count"``: bonuses handed out) or the pair's expected cost
    (``weight="cost"``: money). Examples: a store's cap on free products (customer attribute
    ``store``, bonus attribute ``bonus_type`` in the free-product codes), an SMS credit limit
    (``channel == "sms"``), a supplier's funding (bonus attribute ``supplier``, cost-weighted), a
    region's minimum reach (``>=``).

    Attributes:
        name: unique name, used in reports, shadow prices and infeasibility messages.
        sense: ``"<="`` (cap) or ``">="`` (minimum).
        limit: right-hand side, >= 0.
        customer_attribute: a column of the customers frame (None: every customer).
        customer_value: the value of that column selecting the customers (str-compared).
        bonus_attribute: a column of the bonus-types frame, ``"bonus_type"`` included (None:
            every type).
        bonus_values: the values of that column selecting the types (str-compared).
        weight: ``"count"`` or ``"cost"``.
    """

    name: str
    sense: str
    limit: float
    customer_attribute: str | None = None
    customer_value: str | None = None
    bonus_attribute: str | None = None
    bonus_values: tuple[str, ...] = ()
    weight: str = WEIGHT_COUNT

    def __post_init__(self) -> None:
        if self.sense not in ("<=", ">="):
            raise ValueError(
                f"constraint {self.name!r}: sense must be '<=' or '>=', got {self.sense!r}"
            )
        if not self.limit >= 0:
            raise ValueError(f"constraint {self.name!r}: limit must be >= 0, got {self.limit}")
        if self.weight not in (WEIGHT_COUNT, WEIGHT_COST):
            raise ValueError(f"constraint {self.name!r}: weight must be 'count' or 'cost'")
        if (self.customer_attribute is None) != (self.customer_value is None):
            raise ValueError(
                f"constraint {self.name!r}: customer_attribute and customer_value go together"
            )
        if self.bonus_attribute is not None and not self.bonus_values:
            raise ValueError(f"constraint {self.name!r}: bonus_attribute needs bonus_values")


@dataclass(frozen=True)
class AllocationConstraints:
    """The business constraints of one campaign week.

    Attributes:
        budget: maximum total expected cost (sum of redemption probability x cost when redeemed),
            in money units, >= 0.
        type_caps: bonus type code -> maximum number of customers who receive it (types absent:
            no cap).
        segment_coverage: segment name -> minimum share (0..1) of that segment's *treatable*
            customers (eligible for at least one bonus and not in the control group) who must
            receive a bonus; the count required is ``ceil(share * treatable)``.
        contact_limit: N: a customer with ``recent_bonuses >= N`` (bonuses received in the last
            ``contact_window_weeks``; counted by the caller) receives nothing. ``None``: no limit.
        contact_window_weeks: M, the window the caller counted ``recent_bonuses`` over (reported
            in reasons only).
        control_share: share of eligible customers held out as the control group (per segment).
        coupling: any number of further linear caps and minimums over (customer, bonus) pairs
            (:class:`CouplingConstraint`), solved with the same gap guarantee.
    """

    budget: float
    type_caps: Mapping[str, int] = field(default_factory=dict)
    segment_coverage: Mapping[str, float] = field(default_factory=dict)
    contact_limit: int | None = None
    contact_window_weeks: int = 4
    control_share: float = 0.10
    coupling: tuple[CouplingConstraint, ...] = ()

    def __post_init__(self) -> None:
        names = [c.name for c in self.coupling]
        reserved = [n for n in names if n == "budget" or n.startswith(("cap:", "coverage:"))]
        if len(set(names)) != len(names) or reserved:
            raise ValueError(
                "coupling constraint names must be unique and not 'budget', 'cap:*' or "
                f"'coverage:*': {names}"
            )
        if not self.budget >= 0:
            raise ValueError(f"budget must be >= 0, got {self.budget}")
        if not 0.0 <= self.control_share < 1.0:
            raise ValueError(f"control_share must be in [0, 1), got {self.control_share}")
        for code, cap in self.type_caps.items():
            if cap < 0:
                raise ValueError(f"type cap of {code!r} must be >= 0, got {cap}")
        for segment, share in self.segment_coverage.items():
            if not 0.0 <= share <= 1.0:
                raise ValueError(f"coverage of {segment!r} must be in [0, 1], got {share}")
        if self.contact_limit is not None and self.contact_limit < 0:
            raise ValueError(f"contact_limit must be >= 0, got {self.contact_limit}")


@dataclass(frozen=True)
class AllocationConfig:
    """Tuning knobs of the estimator, the solver and the timing rule; defaults are documented.

    Estimator (see :mod:`optimizer.engine.allocation.value`):
        gross_margin_rate: the retailer's gross margin on incremental spend (0..1).
        retention_weight: share of the customer's churn-exposed CLV that one bonus-caused visit
            saves (0 disables the long-term term; calibrate with control groups).
        uplift_prior_strength: pseudo-customers of the model estimate in the empirical-Bayes
            shrinkage of control-group uplift (effective n equal to this gives weight 0.5).
    Solver (see ``milp.py`` and ``dual.py``):
        exact_max_pairs: instances with at most this many candidate (customer, type) pairs are
            solved as one MILP; larger ones by Dantzig-Wolfe decomposition.
        gap_tolerance: relative gap to the LP bound accepted as "feasible-within-gap".
        optimal_tolerance: relative gap under which a solution is reported "optimal" (only when
            the solver also proved it and no time limit was hit).
        free_customers: size of the sub-MILP that repairs the decomposition's primal solution.
    Timing (see :mod:`optimizer.engine.allocation.timing`):
        urgent_churn: churn probability from which a customer is "at risk" (urgent timing).
        urgent_validity_days: validity of an at-risk customer's bonus (short, time-limited).
        lead_days: a regular customer's bonus arrives this many days before the predicted visit.
        window_adjustment: turn the response model's probability into ``P(redeem)`` for the
            bonus's real validity window and the customer's next visit (``window.py``); False
            takes the response probability as it is (the behaviour before the adjustment).
    """

    gross_margin_rate: float = 0.30
    retention_weight: float = 0.25
    uplift_prior_strength: float = 200.0
    exact_max_pairs: int = 5_000
    gap_tolerance: float = 1e-4
    optimal_tolerance: float = 1e-6
    free_customers: int = 500
    urgent_churn: float = 0.5
    urgent_validity_days: int = 3
    lead_days: int = 2
    window_adjustment: bool = True

    def __post_init__(self) -> None:
        if not 0.0 < self.gross_margin_rate <= 1.0:
            raise ValueError(f"gross_margin_rate must be in (0, 1], got {self.gross_margin_rate}")
        if self.urgent_validity_days < 1 or self.lead_days < 0:
            raise ValueError("urgent_validity_days must be >= 1 and lead_days >= 0")


@dataclass(frozen=True)
class ConstraintReport:
    """One coupling constraint at the returned solution.

    Attributes:
        name: ``"budget"``, ``"cap:<type>"`` or ``"coverage:<segment>"``.
        sense: ``"<="`` or ``">="``.
        limit: right-hand side (money for the budget, customers otherwise).
        used: left-hand side at the returned solution.
        slack: ``limit - used`` for ``<=``, ``used - limit`` for ``>=`` (>= 0 when feasible).
        binding: slack numerically zero, or positive shadow price with < 1% of the limit unused
            (see ``report.py``): tightening the limit would cost value.
        shadow_price: LP dual: objective change per unit of limit (>= 0 for ``<=``: value of one
            more unit; for ``>=``: value lost per extra customer required, reported >= 0).
    """

    name: str
    sense: str
    limit: float
    used: float
    slack: float
    binding: bool
    shadow_price: float


@dataclass(frozen=True, eq=False)
class AllocationResult:
    """Output of :func:`optimizer.engine.allocation.allocate`.

    Attributes:
        decisions: one row per input customer, in input order. Columns: ``customer_id`` (int64),
            ``segment`` (category of str), ``status`` (category: allocated / control /
            ineligible / not_selected), ``bonus_type`` (category, NaN unless allocated),
            ``expected_value`` (float64: expected incremental value net of expected cost; 0
            unless allocated), ``expected_cost`` (float64), ``response_probability`` (float64),
            ``estimator`` (category: "model" or "control-group uplift (n=..., weight=...)"; ""
            unless allocated), ``send_on`` and ``expires_on`` (datetime64[s], NaT unless
            allocated; ``expires_on`` is the last valid day),
            ``reason`` (str; a single "" category when ``with_reasons=False``).
        objective: total expected incremental value of the allocation.
        lp_bound: optimum of the LP relaxation (a proven upper bound on any allocation).
        gap: ``(bound - objective) / max(|bound|, 1e-9)``, ``bound`` the tighter of the LP
            bound and a bound the MILP proved (a proven-optimal MILP: HiGHS's own gap, however
            far the LP relaxation is; a small instance's integer optimum can sit well below it).
        status: optimal / feasible-within-gap / time_limit (see module constants).
        method: ``"milp"`` or ``"dantzig-wolfe"`` plus solver detail.
        constraints: the coupling constraints with slack, binding flag and shadow price.
        budget_shadow_price: LP dual of the budget: value of one more money unit of budget.
        value_of_10pct_more_budget: LP-bound increase when the budget grows by 10%.
        total_expected_cost: sum of ``expected_cost`` of the allocated bonuses.
        by_segment: per segment (index): ``customers``, ``eligible``, ``control``, ``allocated``,
            ``coverage`` (allocated / treatable), ``expected_value``, ``expected_cost``.
        by_bonus_type: per type (index): ``allocated``, ``cap``, ``expected_value``,
            ``expected_cost``, ``expected_redemptions``.
        estimators: per (segment, bonus_type): ``estimator``, ``weight``, ``treated_n``,
            ``control_n``, ``model_margin``, ``observed_margin``.
        solve_seconds: wall time of the whole call.
        timings: wall seconds per stage.
        details: solver facts (iterations, columns, free customers, solver status strings).
        gap_tolerance: the tolerance the gap was held to (``AllocationConfig.gap_tolerance``).
        gap_exceeds_tolerance: the returned allocation is further from that bound than the
            tolerance: a proposal built from it must say so to its approver.
    """

    decisions: pd.DataFrame
    objective: float
    lp_bound: float
    gap: float
    status: str
    method: str
    constraints: tuple[ConstraintReport, ...]
    budget_shadow_price: float
    value_of_10pct_more_budget: float
    total_expected_cost: float
    by_segment: pd.DataFrame
    by_bonus_type: pd.DataFrame
    estimators: pd.DataFrame
    solve_seconds: float
    timings: dict[str, float]
    details: dict[str, Any]
    gap_tolerance: float = 1e-4
    gap_exceeds_tolerance: bool = False

    def binding_constraints(self) -> tuple[ConstraintReport, ...]:
        """The constraints that bind at the returned solution."""
        return tuple(c for c in self.constraints if c.binding)
