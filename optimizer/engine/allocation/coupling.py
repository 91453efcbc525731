"""Linear coupling constraints over (customer, bonus) pairs, as the solvers see them.

Objective: turn each :class:`~optimizer.engine.allocation.types.CouplingConstraint` into a
:class:`Row`: an attribute index (which customer attribute selects the customers, -1 for all),
the group code, a mask over the bonus types and the weight (1 or the pair's expected cost). The
customer attributes are stored once per attribute as an int code per customer, so 50 store caps
cost one int array, not 50 masks.

Everything the solvers need is here and vectorised: the usage of every row by a choice vector
(one ``bincount`` per attribute), the dual penalty ``sum_r pi_r w_r(i, b)`` subtracted from the
reduced values (one (groups, K) table per attribute, gathered per customer), and the weight of a
batch of pairs in every row (greedy repair).

Constraints: numpy only; O(n*K) per attribute per call, independent of the number of rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from optimizer.engine.allocation.types import WEIGHT_COST, CouplingConstraint
from optimizer.engine.types import EngineInputError

#: Group code of a constraint whose customer value no customer has (the row selects nobody).
NO_GROUP = -2


@dataclass(frozen=True, eq=False)
class Row:
    """One coupling row: ``sum w(i, b) x[i, b]`` over ``attr``/``group`` customers and ``types``.

    ``attr`` indexes ``Core.groups`` (-1: every customer); ``limit`` may be a float (scaled).
    """

    name: str
    sense: str
    limit: float
    attr: int
    group: int
    types: np.ndarray
    cost_weighted: bool

    def with_limit(self, limit: float) -> Row:
        """The same row with another right-hand side (residual or scaled problems)."""
        return Row(
            self.name, self.sense, limit, self.attr, self.group, self.types, self.cost_weighted
        )


def build_rows(
    constraints: tuple[CouplingConstraint, ...],
    customers: pd.DataFrame,
    table: pd.DataFrame,
) -> tuple[tuple[Row, ...], tuple[np.ndarray, ...]]:
    """Rows and the per-customer group codes of each customer attribute they use.

    ``table`` is the validated bonus-type table in the solver's type order.

    Raises:
        EngineInputError: a constraint names a column the frames do not have.
    """
    attrs: list[str] = []
    codes: list[np.ndarray] = []
    names: list[dict[str, int]] = []
    rows: list[Row] = []
    k = len(table)
    for con in constraints:
        attr, group = -1, -1
        if con.customer_attribute is not None:
            if con.customer_attribute not in customers.columns:
                raise EngineInputError(
                    f"coupling constraint {con.name!r}: customers have no column "
                    f"{con.customer_attribute!r}"
                )
            if con.customer_attribute not in attrs:
                code, by_name = _factorize(customers[con.customer_attribute])
                attrs.append(con.customer_attribute)
                codes.append(code)
                names.append(by_name)
            attr = attrs.index(con.customer_attribute)
            group = names[attr].get(str(con.customer_value), NO_GROUP)
        types = np.ones(k, dtype=bool)
        if con.bonus_attribute is not None:
            if con.bonus_attribute not in table.columns:
                raise EngineInputError(
                    f"coupling constraint {con.name!r}: bonus types have no column "
                    f"{con.bonus_attribute!r}"
                )
            values = {str(v) for v in con.bonus_values}
            types = table[con.bonus_attribute].astype("str").isin(values).to_numpy(dtype=bool)
        rows.append(
            Row(
                con.name, con.sense, float(con.limit), attr, group, types, con.weight == WEIGHT_COST
            )
        )
    return tuple(rows), tuple(codes)


def _factorize(column: pd.Series) -> tuple[np.ndarray, dict[str, int]]:
    """Group code per customer (numbered in order of first appearance) and the code of each
    value's string. A categorical column is read by its codes (a store per customer as a
    category: no string per customer, 0.2 s fewer at 1M), numbered as the strings would be."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        code, first = pd.factorize(column.cat.codes.to_numpy())
        labels = column.cat.categories.astype("str")
        text = [str(labels[c]) for c in first.tolist() if c >= 0]
        # missing values, or two categories with one string: the general path below
        if len(text) == first.size and len(set(text)) == len(text):
            return code.astype(np.int64), {t: i for i, t in enumerate(text)}
    code, uniques = pd.factorize(column.astype("str"))
    return code.astype(np.int64), {str(u): i for i, u in enumerate(uniques)}


def member_mask(rows: tuple[Row, ...], groups: tuple[np.ndarray, ...], r: int) -> np.ndarray | None:
    """Bool per customer of row ``r`` (None: every customer)."""
    row = rows[r]
    if row.attr < 0:
        return None
    mask: np.ndarray = groups[row.attr] == row.group
    return mask


def usage(
    rows: tuple[Row, ...],
    groups: tuple[np.ndarray, ...],
    cost: np.ndarray,
    choice: np.ndarray,
) -> np.ndarray:
    """Left-hand side of every row at ``choice`` (type index per customer, -1: none)."""
    out = np.zeros(len(rows))
    if not rows:
        return out
    picked = np.flatnonzero(choice >= 0)
    pick = choice[picked]
    k = cost.shape[1]
    w_cost = cost[picked, pick]
    tables: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    for r, row in enumerate(rows):
        if row.attr not in tables:
            g = np.zeros(picked.size, dtype=np.int64) if row.attr < 0 else groups[row.attr][picked]
            size = (int(g.max(initial=0)) + 1) * k
            key = g * k + pick
            tables[row.attr] = (
                np.bincount(key, minlength=size).reshape(-1, k).astype(np.float64),
                np.bincount(key, weights=w_cost, minlength=size).reshape(-1, k),
            )
        counts, costs = tables[row.attr]
        group = 0 if row.attr < 0 else row.group
        if group < 0 or group >= counts.shape[0]:
            continue
        table = costs if row.cost_weighted else counts
        out[r] = float(table[group, row.types].sum())
    return out


def subtract_duals(
    rows: tuple[Row, ...],
    groups: tuple[np.ndarray, ...],
    cost: np.ndarray,
    pi: np.ndarray,
    out: np.ndarray,
) -> None:
    """``out -= sum_r pi_r * w_r(i, b)`` in place, with ``pi_r`` signed (>= 0 for caps,
    <= 0 for minimums): one gather per customer attribute."""
    by_attr: dict[int, list[int]] = {}
    for r, row in enumerate(rows):
        if pi[r] != 0.0 and row.group != NO_GROUP:
            by_attr.setdefault(row.attr, []).append(r)
    k = cost.shape[1]
    # count rows over every type (store caps, segment minimums) shift a customer's options
    # alike: one value per customer, summed over the attributes and subtracted once
    flat: np.ndarray | None = None
    for attr, members in by_attr.items():
        n_groups = 1 if attr < 0 else int(groups[attr].max(initial=0)) + 1
        count_t = np.zeros((n_groups, k))
        cost_t = np.zeros((n_groups, k))
        for r in members:
            row = rows[r]
            target = cost_t if row.cost_weighted else count_t
            target[0 if attr < 0 else row.group, row.types] += pi[r]
        code = np.zeros(1, dtype=np.int64) if attr < 0 else groups[attr]
        if count_t.any() and (count_t == count_t[:, :1]).all():
            per = count_t[code, 0]
            flat = per if flat is None else flat + per
        elif count_t.any():
            out -= count_t[code]
        if cost_t.any():
            out -= cost * cost_t[code]
    if flat is not None:
        out -= flat[:, None]


def pair_weights(
    rows: tuple[Row, ...],
    groups: tuple[np.ndarray, ...],
    cost: np.ndarray,
    idx: np.ndarray,
    pick: np.ndarray,
) -> np.ndarray:
    """(len(idx), R): the weight of pair ``(idx[m], pick[m])`` in every row."""
    out = np.zeros((idx.shape[0], len(rows)))
    for r, row in enumerate(rows):
        hit = row.types[pick]
        if row.attr >= 0:
            hit &= groups[row.attr][idx] == row.group
        out[:, r] = np.where(hit, cost[idx, pick] if row.cost_weighted else 1.0, 0.0)
    return out


#: A layer of rows: (attribute index, table[group, type] -> row index or -1). Within one layer
#: every pair counts in at most one row, so a batch of pairs maps to one row id each.
Layer = tuple[int, np.ndarray]


def layers(
    rows: tuple[Row, ...], groups: tuple[np.ndarray, ...], k: int, keep: np.ndarray
) -> list[Layer]:
    """The rows selected by ``keep`` (bool per row), packed into layers (usually one per
    customer attribute: 50 store caps are one layer, 20 segment minimums another)."""
    out: list[Layer] = []
    for r, row in enumerate(rows):
        if not keep[r] or row.group == NO_GROUP:
            continue
        g = 0 if row.attr < 0 else row.group
        for attr, table in out:
            if attr == row.attr and (table[g, row.types] < 0).all():
                table[g, row.types] = r
                break
        else:
            n_groups = 1 if row.attr < 0 else int(groups[row.attr].max(initial=0)) + 1
            table = np.full((n_groups, k), -1, dtype=np.int64)
            table[g, row.types] = r
            out.append((row.attr, table))
    return out


def layer_pairs(
    layer: Layer,
    rows: tuple[Row, ...],
    groups: tuple[np.ndarray, ...],
    cost: np.ndarray,
    idx: np.ndarray,
    pick: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Row id (-1: none) and weight of the pairs ``(idx[m], pick[m])`` in one layer."""
    attr, table = layer
    g = np.zeros(idx.size, dtype=np.int64) if attr < 0 else groups[attr][idx]
    rid: np.ndarray = table[g, pick]
    weighted = np.array([row.cost_weighted for row in rows], dtype=bool)
    hit = rid >= 0
    w: np.ndarray = np.where(
        hit, np.where(weighted[np.where(hit, rid, 0)], cost[idx, pick], 1.0), 0.0
    )
    return rid, w


def first_overflow(rid: np.ndarray, w: np.ndarray, left: np.ndarray) -> int:
    """Position of the first pair at which its row's running total (pairs taken in order)
    exceeds what is ``left`` of that row; ``rid.size`` when every prefix fits."""
    on = np.flatnonzero(rid >= 0)
    if on.size == 0:
        return int(rid.size)
    order = np.argsort(rid[on], kind="stable")
    rs, ws, pos = rid[on][order], w[on][order], on[order]
    total = np.cumsum(ws)
    starts = np.flatnonzero(np.r_[True, rs[1:] != rs[:-1]])
    base = np.repeat(total[starts] - ws[starts], np.diff(np.r_[starts, rs.size]))
    bad = (total - base) > left[rs] + 1e-9
    return int(pos[bad].min()) if bad.any() else int(rid.size)
