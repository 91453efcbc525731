"""Bonus allocation engine: who gets which bonus, and when, within budget (pure; no Django).

Public API: :func:`allocate`, the frozen types of :mod:`.types` and :class:`InfeasibleAllocation`.
See ``docs/allocation.md`` for the estimator, the model, the decomposition and the result fields.
"""

from optimizer.engine.allocation.api import allocate
from optimizer.engine.allocation.types import (
    ALLOCATED,
    CONTROL,
    INELIGIBLE,
    NOT_SELECTED,
    STATUS_FEASIBLE,
    STATUS_INFEASIBLE,
    STATUS_OPTIMAL,
    STATUS_TIME_LIMIT,
    AllocationConfig,
    AllocationConstraints,
    AllocationResult,
    ConstraintReport,
    CouplingConstraint,
    InfeasibleAllocation,
)

__all__ = [
    "ALLOCATED",
    "CONTROL",
    "INELIGIBLE",
    "NOT_SELECTED",
    "STATUS_FEASIBLE",
    "STATUS_INFEASIBLE",
    "STATUS_OPTIMAL",
    "STATUS_TIME_LIMIT",
    "AllocationConfig",
    "AllocationConstraints",
    "AllocationResult",
    "ConstraintReport",
    "CouplingConstraint",
    "InfeasibleAllocation",
    "allocate",
]
