"""Input validation and the dense optimisation problem built from the caller's frames.

Objective: turn the three input frames into numpy arrays: per customer the segment, eligibility
and contact capacity; per (customer, bonus type) the response probability, expected value and
expected cost; then the *core* the solvers see: only treatable customers (eligible, with contact
capacity, not in the control group) and only candidate pairs (positive value, or any eligible pair
in a segment with a coverage minimum, since coverage may force a non-positive pair).

Constraints: vectorised (1M x 6 in about a second); missing columns or bad values raise
:class:`~optimizer.engine.types.EngineInputError`; nothing is solved here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from optimizer.engine.allocation.coupling import NO_GROUP, Row
from optimizer.engine.allocation.types import AllocationConstraints
from optimizer.engine.types import EngineInputError

#: The customers frame's float columns; a missing value is 0 except for ``usual_gap_days``,
#: where NaN means "no usual gap yet" (``timing.next_visit_offset``).
CUSTOMER_REALS = (
    "churn_probability",
    "expected_visits",
    "expected_spend",
    "clv",
    "days_since_last_visit",
    "usual_gap_days",
)
CUSTOMER_COLUMNS = ("customer_id", "segment", *CUSTOMER_REALS, "marketing_consent")
TYPE_COLUMNS = ("bonus_type", "cost_when_redeemed", "validity_days")
RESPONSE_PREFIX = "response_"


@dataclass(frozen=True, eq=False)
class Core:
    """What the solvers optimise: ``rows`` indexes the treatable customers with a candidate.

    ``value`` is -inf where a pair is not a candidate; ``coverage`` lists ``(segment code,
    required count)`` (a float only in the scaled sample of the decomposition's warm start);
    ``caps`` is +inf for uncapped types; ``extra`` are the caller's coupling rows and
    ``groups`` the per-core-customer codes of the customer attributes they use.
    """

    rows: np.ndarray
    value: np.ndarray
    cost: np.ndarray
    seg: np.ndarray
    budget: float
    caps: np.ndarray
    coverage: tuple[tuple[int, float], ...]
    types: tuple[str, ...]
    segments: tuple[str, ...]
    extra: tuple[Row, ...] = ()
    groups: tuple[np.ndarray, ...] = ()

    def subset(
        self,
        idx: np.ndarray,
        *,
        budget: float,
        caps: np.ndarray,
        coverage: tuple[tuple[int, float], ...],
        limits: np.ndarray,
    ) -> Core:
        """The customers ``idx`` of this core with other right-hand sides (residual or sample)."""
        return Core(
            rows=self.rows[idx],
            value=self.value[idx],
            cost=self.cost[idx],
            seg=self.seg[idx],
            budget=budget,
            caps=caps,
            coverage=coverage,
            types=self.types,
            segments=self.segments,
            extra=tuple(r.with_limit(float(v)) for r, v in zip(self.extra, limits, strict=True)),
            groups=tuple(g[idx] for g in self.groups),
        )

    def extra_limits(self) -> np.ndarray:
        """Right-hand sides of the coupling rows."""
        return np.array([r.limit for r in self.extra], dtype=np.float64)


def _require(frame: pd.DataFrame, columns: tuple[str, ...], name: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise EngineInputError(f"{name} is missing column(s) {missing}")


def _allowed(value: object) -> set[str] | None:
    """``allowed_segments`` cell -> set of names, or None for all segments."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return None
    if isinstance(value, str):
        names = {s.strip() for s in value.split("|") if s.strip()}
        return names or None
    names = {str(s) for s in value}  # type: ignore[attr-defined]
    return names or None


def customer_arrays(customers: pd.DataFrame) -> dict[str, np.ndarray]:
    """Validated per-customer arrays (see ``allocate`` for the columns)."""
    _require(customers, CUSTOMER_COLUMNS, "customers")
    ids = customers["customer_id"].to_numpy(dtype=np.int64)
    ordered = np.sort(ids)
    if ordered.shape[0] > 1 and not (ordered[1:] != ordered[:-1]).all():
        raise EngineInputError("customers.customer_id must be unique")
    out = {"customer_id": ids}
    for col in CUSTOMER_REALS:
        out[col] = customers[col].to_numpy(dtype=np.float64, na_value=np.nan)
        # a copy only where there is a NaN to replace; usual_gap_days keeps its NaN
        if col != "usual_gap_days" and np.isnan(out[col]).any():
            out[col] = np.nan_to_num(out[col], nan=0.0)
    out["marketing_consent"] = customers["marketing_consent"].fillna(False).to_numpy(dtype=bool)
    if "recent_bonuses" in customers.columns:
        recent = customers["recent_bonuses"].fillna(0).to_numpy(dtype=np.int64)
    else:
        recent = np.zeros(ids.shape[0], dtype=np.int64)
    out["recent_bonuses"] = recent
    return out


def segment_codes(customers: pd.DataFrame) -> tuple[np.ndarray, tuple[str, ...]]:
    """Integer codes per customer and the sorted segment names."""
    column = customers["segment"]
    if isinstance(column.dtype, pd.CategoricalDtype) and not column.isna().any():
        # the codes as they are, renumbered to the sorted names: no string per customer
        names = [str(c) for c in column.cat.categories]
        order = np.argsort(np.array(names, dtype=object), kind="stable")
        rank = np.empty(len(names), dtype=np.int64)
        rank[order] = np.arange(len(names))
        used = np.zeros(len(names), dtype=bool)
        used[column.cat.codes.to_numpy()] = True
        renumber = np.cumsum(used[order]) - 1  # sorted position among the used categories
        codes = renumber[rank[column.cat.codes.to_numpy()]]
        return codes.astype(np.int64), tuple(names[i] for i in order if used[i])
    codes, names = pd.factorize(column.astype("str"), sort=True)
    return codes.astype(np.int64), tuple(str(s) for s in names)


def type_table(bonus_types: pd.DataFrame) -> pd.DataFrame:
    """Validated bonus types sorted by code, with defaults for the optional columns."""
    _require(bonus_types, TYPE_COLUMNS, "bonus_types")
    table = bonus_types.copy()
    table["bonus_type"] = table["bonus_type"].astype("str")
    if table["bonus_type"].duplicated().any():
        raise EngineInputError("bonus_types.bonus_type must be unique")
    if "label" not in table.columns:
        table["label"] = table["bonus_type"]
    for col, default in (
        ("min_clv", 0.0),
        ("requires_consent", False),
        ("reference_visit_probability", 1.0),
        ("charged_on_issue", False),
    ):
        if col not in table.columns:
            table[col] = default
    if "allowed_segments" not in table.columns:
        table["allowed_segments"] = None
    if (table["cost_when_redeemed"].astype(float) < 0).any():
        raise EngineInputError("bonus_types.cost_when_redeemed must be >= 0")
    if (table["validity_days"].astype(int) < 1).any():
        raise EngineInputError("bonus_types.validity_days must be >= 1")
    table["reference_visit_probability"] = (
        table["reference_visit_probability"].astype(float).fillna(1.0)
    )
    ref = table["reference_visit_probability"]
    if ((ref <= 0) | (ref > 1)).any():
        raise EngineInputError("bonus_types.reference_visit_probability must be in (0, 1]")
    table["charged_on_issue"] = table["charged_on_issue"].fillna(False).astype(bool)
    return table.sort_values("bonus_type").reset_index(drop=True)


def response_matrix(
    response: pd.DataFrame, customer_ids: np.ndarray, types: tuple[str, ...]
) -> np.ndarray:
    """(n, K) float64 redemption probabilities; NaN where the frame has no value.

    ``response`` is long (``customer_id``, ``bonus_type``, ``response_probability``) or wide
    (``customer_id`` and one ``response_<code>`` column per type, as scoring outputs it).
    """
    n, k = customer_ids.shape[0], len(types)
    out = np.full((n, k), np.nan)
    _require(response, ("customer_id",), "response")
    index = pd.Index(customer_ids)

    def locate(ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if np.array_equal(ids, customer_ids):  # the glue's wide frame: same rows, same order
            return np.arange(n), np.ones(n, dtype=bool)
        # a hash lookup: binary search of 1M unordered ids cost 4x more (cache misses)
        pos = index.get_indexer(ids)
        found = pos >= 0
        return pos[found], found

    if "bonus_type" in response.columns:
        _require(response, ("response_probability",), "response")
        ids = response["customer_id"].to_numpy(dtype=np.int64)
        # -1 for a type not in the catalogue (pd.Categorical warns about those since pandas 3)
        codes = pd.Index(list(types)).get_indexer(response["bonus_type"])
        rows, found = locate(ids)
        codes = codes[found]
        probs = response["response_probability"].to_numpy(dtype=np.float64)[found]
        known = codes >= 0
        out[rows[known], codes[known]] = probs[known]
    else:
        rows, found = locate(response["customer_id"].to_numpy(dtype=np.int64))
        for j, code in enumerate(types):
            col = RESPONSE_PREFIX + code
            if col in response.columns:
                out[rows, j] = response[col].to_numpy(dtype=np.float64)[found]
    if np.nanmin(out, initial=0.0) < 0 or np.nanmax(out, initial=0.0) > 1:
        raise EngineInputError("response probabilities must lie in [0, 1]")
    return out


def pair_eligibility(
    table: pd.DataFrame,
    cust: dict[str, np.ndarray],
    seg: np.ndarray,
    segments: tuple[str, ...],
    response: np.ndarray,
) -> np.ndarray:
    """(n, K) bool: segment allowed, CLV >= minimum, consent when required, response known."""
    ok: np.ndarray = np.isfinite(response)
    for j, row in enumerate(table.itertuples(index=False)):
        allowed = _allowed(row.allowed_segments)
        if allowed is not None:
            seg_ok = np.array([s in allowed for s in segments], dtype=bool)
            ok[:, j] &= seg_ok[seg] if len(segments) else False
        min_clv = float(row.min_clv) if pd.notna(row.min_clv) else 0.0
        if min_clv > 0:
            ok[:, j] &= cust["clv"] >= min_clv
        if bool(row.requires_consent):
            ok[:, j] &= cust["marketing_consent"]
    return ok


def build_core(
    value: np.ndarray,
    cost: np.ndarray,
    pair_ok: np.ndarray,
    treatable: np.ndarray,
    seg: np.ndarray,
    segments: tuple[str, ...],
    types: tuple[str, ...],
    constraints: AllocationConstraints,
    extra: tuple[Row, ...] = (),
    groups: tuple[np.ndarray, ...] = (),
    *,
    in_place: bool = False,
) -> Core:
    """The solver's core (module docstring); coverage counts use the treatable customers.

    ``value`` is NaN (or -inf) where a pair is ineligible. A pair counted by a minimum
    (coverage or a ``>=`` coupling row) is a candidate even at a non-positive value, since the
    minimum may force it. With ``in_place`` the core's value and cost are the first rows of
    ``value`` and ``cost`` themselves, moved up over the non-candidate rows (two (n, K) copies
    fewer: 0.9 GB at 10M x 6); the caller must not read ``value`` or ``cost`` afterwards.
    """
    n_seg = len(segments)
    treat_count = np.bincount(seg[treatable], minlength=n_seg)
    coverage: list[tuple[int, int]] = []
    for name, share in sorted(constraints.segment_coverage.items()):
        if name not in segments or share <= 0:
            continue
        s = segments.index(name)
        need = math.ceil(share * int(treat_count[s]) - 1e-9)
        if need > 0:  # a minimum of zero customers always holds
            coverage.append((s, need))
    covered = np.zeros(n_seg, dtype=bool)
    for s, _ in coverage:
        covered[s] = True
    forced = covered[seg][:, None] | np.zeros((1, len(types)), dtype=bool)
    # the minimums' pairs, one (groups, K) table per customer attribute gathered once (20
    # segment minimums: one gather, not 20 (n, K) masks)
    by_attr: dict[int, np.ndarray] = {}
    for row in extra:
        if row.sense != ">=" or row.limit <= 0 or row.group == NO_GROUP:
            continue
        if row.attr < 0:
            forced |= row.types[None, :]
            continue
        if row.attr not in by_attr:
            n_groups = int(groups[row.attr].max(initial=0)) + 1
            by_attr[row.attr] = np.zeros((n_groups, len(types)), dtype=bool)
        by_attr[row.attr][row.group] |= row.types
    for attr, table in by_attr.items():
        forced |= table[groups[attr]]
    candidate = value > 0  # NaN (ineligible) compares False
    candidate |= forced
    candidate &= pair_ok
    candidate &= treatable[:, None]
    rows = np.flatnonzero(candidate.any(axis=1))
    # one copy of the candidate rows each, then masked in place (no full-size temporaries)
    off = ~candidate[rows]
    del candidate
    v = _take_rows(value, rows) if in_place else value[rows]
    v[off] = -np.inf
    c = _take_rows(cost, rows) if in_place else cost[rows]
    c[off] = 0.0
    caps = np.array([float(constraints.type_caps.get(t, np.inf)) for t in types])
    return Core(
        rows=rows,
        value=v,
        cost=c,
        seg=seg[rows],
        budget=float(constraints.budget),
        caps=caps,
        coverage=tuple(coverage),
        types=types,
        segments=segments,
        extra=extra,
        groups=tuple(g[rows] for g in groups),
    )


def _take_rows(matrix: np.ndarray, rows: np.ndarray, chunk: int = 1_000_000) -> np.ndarray:
    """``matrix[rows]`` computed in ``matrix`` itself: row ``rows[i]`` moves to row ``i``.

    Safe because ``rows`` is increasing, so ``rows[i] >= i``: a slice writes only rows that
    later slices no longer read (each slice's source rows are gathered before it is written).
    Returns the view of the first ``rows.size`` rows.
    """
    for a in range(0, rows.shape[0], chunk):
        b = min(a + chunk, rows.shape[0])
        matrix[a:b] = matrix[rows[a:b]]
    return matrix[: rows.shape[0]]
