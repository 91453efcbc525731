"""The offers problem as arrays: coupling rows and the per-customer layout.

Objective: one description of the constraints that couple customers (the retailer budget, one
row per budgeted product, per budgeted supplier, per capped option code), shared by the direct
MILP, the decomposition, the greedy fill and the constraint report. Every option touches at most
four rows (budget, its product, its supplier, its option code), so the rows are stored per
option as four (row, weight) slots, not as a matrix: pricing and usage are O(options).

Constraints: rows with no option are kept (their usage is 0) so the report lists every limit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from optimizer.engine.offers.types import GENERIC, OfferConstraints

#: Row slots per option: budget, product, supplier, option code.
SLOTS = 4


@dataclass(frozen=True, eq=False)
class Rows:
    """Coupling rows of an option frame.

    Attributes:
        names: row names (``budget``, ``product:<id>``, ``supplier:<name>``, ``cap:<code>``).
        limits: right-hand sides, float64.
        index: (options, SLOTS) int64 row index per slot, -1 when the slot is unused.
        weight: (options, SLOTS) float64 weight of the option in that row (0 when unused).
    """

    names: tuple[str, ...]
    limits: np.ndarray
    index: np.ndarray
    weight: np.ndarray

    def usage(self, pick: np.ndarray) -> np.ndarray:
        """Usage of every row by the options where ``pick`` (bool, per option) is set."""
        used = self.index[pick]
        return np.bincount(
            used[used >= 0], weights=self.weight[pick][used >= 0], minlength=len(self.names)
        )

    def reduce(self, y: np.ndarray) -> np.ndarray:
        """Per option: ``sum_k y[k] * a[k, option]`` for multipliers ``y`` (one per row)."""
        # Unused slots (index -1) read the appended 0; einsum avoids a (options, SLOTS) product
        # temporary (0.65 -> about 0.2 s per pass at 1,000,000 customers).
        padded = np.append(np.asarray(y, dtype="float64"), 0.0)
        return np.asarray(np.einsum("ij,ij->i", padded[self.index], self.weight))


def build_rows(frame: pd.DataFrame, limits: OfferConstraints) -> Rows:
    """Rows of ``frame`` (an option frame, see :mod:`optimizer.engine.offers.types`)."""
    n = len(frame)
    retailer = frame["retailer_cost"].to_numpy("float64")
    supplier_cost = frame["supplier_cost"].to_numpy("float64")
    names: list[str] = ["budget"]
    caps: list[float] = [float(limits.budget)]
    index = np.full((n, SLOTS), -1, dtype=np.int64)
    weight = np.zeros((n, SLOTS), dtype="float64")
    index[:, 0] = 0
    weight[:, 0] = retailer
    slots = (
        (1, "product", limits.product_budgets, frame["product_id"], retailer + supplier_cost),
        (2, "supplier", limits.supplier_budgets, frame["supplier"], supplier_cost),
        (3, "cap", limits.option_caps, frame["option"], np.ones(n)),
    )
    for slot, prefix, budgets, keys, weights in slots:
        ordered = sorted(budgets.items())
        lookup = {key: len(names) + k for k, (key, _) in enumerate(ordered)}
        names.extend(f"{prefix}:{key}" for key, _ in ordered)
        caps.extend(float(cap) for _, cap in ordered)
        mapped = keys.map(lookup).astype("float64").fillna(-1).to_numpy().astype(np.int64)
        index[:, slot] = mapped
        weight[:, slot] = np.where(mapped >= 0, weights, 0.0)
    return Rows(
        names=tuple(names), limits=np.asarray(caps, dtype="float64"), index=index, weight=weight
    )


@dataclass(frozen=True, eq=False)
class Layout:
    """Options placed in a (customers, width) grid, one row per customer.

    Attributes:
        code: per option, its customer's index (0..customers-1, in ``customer_id`` order).
        pos: per option, its column in the grid.
        width: most options of one customer.
        generic: (customers, width) bool, a generic option sits there.
        required: (customers, width) bool, a required option sits there.
        slots_left: per customer, N minus its required options (>= 0 when feasible).
        locked_generic: per customer, a required generic bars every other generic.
    """

    code: np.ndarray
    pos: np.ndarray
    width: int
    generic: np.ndarray
    required: np.ndarray
    slots_left: np.ndarray
    locked_generic: np.ndarray

    @property
    def customers(self) -> int:
        return int(self.generic.shape[0])

    def grid(self, per_option: np.ndarray, fill: float) -> np.ndarray:
        """A (customers, width) float64 grid of ``per_option`` values, ``fill`` elsewhere."""
        out = np.full((self.customers, self.width), fill, dtype="float64")
        out[self.code, self.pos] = per_option
        return out


def build_layout(frame: pd.DataFrame, max_offers: int) -> Layout:
    """The grid of ``frame``'s options (any row order)."""
    _, code = np.unique(frame["customer_id"].to_numpy(), return_inverse=True)
    code = code.astype(np.int64)
    customers = int(code.max()) + 1 if code.size else 0
    order = np.argsort(code, kind="stable")
    counts = np.bincount(code, minlength=customers)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
    pos = np.empty_like(code)
    pos[order] = np.arange(code.size) - starts[code[order]]
    width = int(counts.max()) if customers else 0
    generic = np.zeros((customers, width), dtype=bool)
    required = np.zeros((customers, width), dtype=bool)
    is_generic = (frame["kind"] == GENERIC).to_numpy()
    is_required = frame["required"].to_numpy(dtype=bool)
    generic[code, pos] = is_generic
    required[code, pos] = is_required
    return Layout(
        code=code,
        pos=pos,
        width=width,
        generic=generic,
        required=required,
        slots_left=max_offers - required.sum(axis=1),
        locked_generic=np.asarray((generic & required).any(axis=1)),
    )
