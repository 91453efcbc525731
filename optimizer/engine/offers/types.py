"""Inputs and outputs of the personalised-offers choice: the option frame's columns, the limits
(:class:`OfferConstraints`), the result (:class:`OfferResult`) and the input check.

Constraints: the checks name the first bad row; the frame is never modified in place.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

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
PLACES = 6


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
    """Output of :func:`optimizer.engine.offers.offers_allocate`.

    Attributes:
        chosen: one row per chosen option: the input columns plus ``status`` ("allocated" or
            "control") and ``rank`` (int64, 1 = the customer's best by value).
        objective: total value of the allocated options.
        lp_bound: optimum of the LP relaxation (an upper bound on any allocation); with the
            decomposition, the best Lagrangian bound (the LP optimum within the column
            generation's tolerance, never below it).
        bound: the tightest proven upper bound: the MILP's dual bound after branch and bound
            (HiGHS) or, for the decomposition, the Lagrangian bound; never above ``lp_bound``.
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


def check_options(options: pd.DataFrame) -> pd.DataFrame:
    """The option frame's columns in order, index reset; raises :class:`EngineInputError`."""
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
