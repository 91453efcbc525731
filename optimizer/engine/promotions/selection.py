"""Choose next week's promoted products: a small MILP over the forecast.

Objective: maximise the sum over chosen products of
``incremental_margin + overstock_bonus + reach_value * reach``, where the overstock bonus
``overstock_value * unit_cost * min(incremental_units, excess)`` rewards clearing stock above
``target_cover_weeks`` weeks of baseline demand (``excess``), so that at equal margin the
overstocked product wins.

Constraints (``x_p`` binary, one per candidate):
* at most ``k`` products;
* at most ``max_per_category`` per category;
* ``sum(discount_cost_p * x_p) <= discount_budget`` (expected discount money of promoted units);
* stock: only products with ``on_hand >= promoted_units * (1 + stock_safety)`` are candidates
  (unknown stock: see ``missing_inventory``);
* no product promoted in the last ``recent_weeks`` weeks (from the forecast's
  ``last_promoted_week`` and the optional ``recent_promotions`` frame), unless pinned;
* pinned products are forced in (``x_p = 1``), banned ones are never candidates;
* only products worth more than ``min_objective`` are candidates (pins excepted), so fewer
  than ``k`` are chosen when fewer are worthwhile, and the result says why.

Settings that cannot all hold raise :class:`InfeasiblePromotion` before solving, naming the
constraint (more pins than ``k``, pins over a category cap or the budget, a pinned product
that is banned, unknown or short of stock).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pulp

from optimizer.engine.promotions.panel import require
from optimizer.engine.promotions.reasons import reasons
from optimizer.engine.promotions.solver import solve
from optimizer.engine.promotions.types import (
    InfeasiblePromotion,
    SelectionConfig,
    SelectionResult,
)

NEEDED = (
    "product_id",
    "sku",
    "category",
    "unit_cost",
    "baseline_units",
    "promoted_units",
    "incremental_units",
    "incremental_margin",
    "discount_cost",
    "on_hand",
    "last_promoted_week",
)
SELECTED_COLUMNS: tuple[str, ...] = (
    "product_id",
    "sku",
    "category",
    "baseline_units",
    "promoted_units",
    "lift",
    "incremental_units",
    "incremental_revenue",
    "incremental_margin",
    "discount_cost",
    "promo_depth",
    "on_hand",
    "stock_cover",
    "competitor_gap",
    "reach",
    "overstock_bonus",
    "objective_value",
    "pinned",
    "reason",
    "observed_max_units",
    "range_ratio",
    "out_of_range",
    "competitor_effect",
)
#: Forecast columns the selection passes through; a hand-made forecasts frame may omit them.
OPTIONAL_DEFAULTS: dict[str, object] = {
    "observed_max_units": np.nan,
    "range_ratio": np.nan,
    "out_of_range": False,
    "competitor_effect": np.nan,
}


def _objective_values(frame: pd.DataFrame, config: SelectionConfig) -> pd.DataFrame:
    out = frame.copy()
    excess = (out["on_hand"] - config.target_cover_weeks * out["baseline_units"]).clip(lower=0)
    cleared = np.minimum(out["incremental_units"].clip(lower=0), excess.fillna(0.0))
    out["overstock_bonus"] = config.overstock_value * out["unit_cost"] * cleared
    reach = out["reach"].fillna(0.0) if "reach" in out.columns else 0.0
    out["objective_value"] = (
        out["incremental_margin"] + out["overstock_bonus"] + config.reach_value * reach
    )
    return out


def _recent(
    frame: pd.DataFrame, week_start: date, weeks: int, recent: pd.DataFrame | None
) -> pd.Series:
    lo = pd.Timestamp(week_start - timedelta(weeks=weeks))
    hi = pd.Timestamp(week_start)
    last = pd.to_datetime(frame["last_promoted_week"])
    flag = (last >= lo) & (last < hi)
    if recent is not None and len(recent):
        require(recent, ("product_id", "week_start"), "recent promotions")
        when = pd.to_datetime(recent["week_start"])
        ids = recent.loc[(when >= lo) & (when < hi), "product_id"]
        flag |= frame["product_id"].isin(ids)
    return flag & (weeks > 0)


def _fold(names: Iterable[str]) -> set[str]:
    return {str(n).strip().casefold() for n in names if str(n).strip()}


def _in_categories(frame: pd.DataFrame, names: Iterable[str]) -> pd.Series:
    return frame["category"].astype("str").str.strip().str.casefold().isin(_fold(names))


def _exclusions(
    frame: pd.DataFrame, config: SelectionConfig, banned: set[int], recent: pd.Series
) -> pd.Series:
    """Why each product may not be chosen ("" = candidate); the first reason wins."""
    need = frame["promoted_units"] * (1.0 + config.stock_safety)
    unknown_stock = frame["on_hand"].isna()
    conditions = [
        (_in_categories(frame, config.excluded_categories), "excluded_category"),
        (frame["product_id"].isin(banned), "banned"),
        (frame["promoted_units"].isna() | frame["discount_cost"].isna(), "no_forecast"),
        (unknown_stock & (config.missing_inventory == "exclude"), "no_inventory"),
        (~unknown_stock & (frame["on_hand"] < need), "stock_short"),
        (recent, "recently_promoted"),
        (~(frame["objective_value"] > config.min_objective), "not_worthwhile"),
    ]
    out = pd.Series([""] * len(frame), index=frame.index, dtype="str")
    for mask, code in reversed(conditions):
        out = out.mask(mask.to_numpy(bool), code)
    return out


def _check_pins(
    frame: pd.DataFrame, pins: set[int], banned: set[int], config: SelectionConfig
) -> None:
    if len(pins) > config.k:
        raise InfeasiblePromotion("k", f"{len(pins)} pinned products exceed K = {config.k}")
    both = sorted(pins & banned)
    if both:
        raise InfeasiblePromotion("ban", f"products {both} are both pinned and banned")
    excluded = frame[frame["product_id"].isin(pins) & (frame["exclusion"] == "excluded_category")]
    if len(excluded):
        row = excluded.iloc[0]
        raise InfeasiblePromotion(
            "excluded_category",
            f"pinned product {row['sku']} is in the excluded category {row['category']!r}",
        )
    unknown = sorted(pins - set(frame["product_id"].tolist()))
    if unknown:
        raise InfeasiblePromotion("pin", f"pinned products {unknown} have no forecast")
    pinned = frame[frame["product_id"].isin(pins)]
    if pinned["promoted_units"].isna().any():
        raise InfeasiblePromotion("pin", "a pinned product has no forecast")
    short = pinned[pinned["exclusion"].isin(["stock_short", "no_inventory"])]
    if len(short):
        row = short.iloc[0]
        raise InfeasiblePromotion(
            "stock",
            f"pinned product {row['sku']} has {row['on_hand']:g} units on hand for a promoted "
            f"forecast of {row['promoted_units']:.0f} (+{config.stock_safety:.0%} safety): "
            "stock constraint",
        )
    if config.max_per_category is not None:
        counts = pinned["category"].value_counts()
        over = counts[counts > config.max_per_category]
        if len(over):
            raise InfeasiblePromotion(
                "category_cap",
                f"{int(over.iloc[0])} pinned products in category {over.index[0]!r} exceed the "
                f"category cap of {config.max_per_category}",
            )
    cost = float(pinned["discount_cost"].sum())
    if config.discount_budget is not None and cost > config.discount_budget:
        raise InfeasiblePromotion(
            "budget",
            f"pinned products' expected discount cost {cost:,.2f} exceeds the discount budget "
            f"{config.discount_budget:,.2f}",
        )


def _shortfall(
    frame: pd.DataFrame, chosen: pd.Series, config: SelectionConfig, n_candidates: int
) -> str:
    n = int(chosen.sum())
    if n >= config.k:
        return ""
    head = f"chose {n} of K = {config.k}"
    if n_candidates <= config.k and n == n_candidates:
        return f"{head}: only {n_candidates} products are worthwhile and allowed"
    binding: list[str] = []
    left = frame[frame["exclusion"].isin(["", "not_chosen"]) & ~chosen]
    if config.max_per_category is not None:
        full = frame[chosen]["category"].value_counts()
        full = set(full[full >= config.max_per_category].index)
        if left["category"].isin(full).any():
            binding.append(f"the category cap of {config.max_per_category}")
    if config.discount_budget is not None:
        spare = config.discount_budget - float(frame.loc[chosen, "discount_cost"].sum())
        if (left["discount_cost"] > spare).any():
            binding.append(f"the discount budget of {config.discount_budget:,.2f}")
    return f"{head}: limited by {' and '.join(binding) or 'the constraints'}"


def _verify(frame: pd.DataFrame, chosen: pd.Series, config: SelectionConfig) -> None:
    """Re-check the solver's choice (a time-limited stop may be reported as optimal)."""
    picked = frame[chosen]
    broken = []
    if len(picked) > config.k:
        broken.append("k")
    if (
        config.max_per_category is not None
        and (picked["category"].value_counts() > config.max_per_category).any()
    ):
        broken.append("category_cap")
    budget = config.discount_budget
    if budget is not None and picked["discount_cost"].sum() > budget * (1 + 1e-9) + 1e-6:
        broken.append("budget")
    if not frame.loc[frame["pinned"], "product_id"].isin(picked["product_id"]).all():
        broken.append("pin")
    if broken:
        raise InfeasiblePromotion("solver", f"the solver's choice breaks {broken}")


def select_promotions(
    *,
    forecasts: pd.DataFrame,
    week_start: date,
    config: SelectionConfig | None = None,
    pinned: Iterable[int] = (),
    banned: Iterable[int] = (),
    recent_promotions: pd.DataFrame | None = None,
    time_limit: float = 20.0,
) -> SelectionResult:
    """Choose up to ``config.k`` products to promote in the week of ``week_start``.

    Args:
        forecasts: :attr:`ForecastResult.forecasts` (columns in ``forecast.FORECAST_COLUMNS``;
            at least :data:`NEEDED`, plus ``reach``, ``lift``, ... for the output).
        week_start: Monday of the promoted week (for the recent-promotion window).
        config: :class:`SelectionConfig` (defaults if ``None``).
        pinned: product ids staff require (forced in, even if recently promoted or
            unprofitable; never if short of stock).
        banned: product ids staff exclude.
        recent_promotions: past loyalty promotions, ``product_id`` int64 and ``week_start``
            date, added to the panel's promotion weeks for the recency rule; optional.
        time_limit: solver wall-clock limit in seconds.

    Returns:
        :class:`SelectionResult`: ``selected`` (:data:`SELECTED_COLUMNS`, best first),
        ``excluded`` (``product_id``, ``sku``, ``category``, ``objective_value``,
        ``exclusion``: excluded_category | banned | no_forecast | no_inventory | stock_short |
        recently_promoted | not_worthwhile | not_chosen), the objective, solver and status,
        ``message`` (why fewer than K were chosen; empty otherwise) and ``counts`` per
        exclusion.

    Raises:
        InfeasiblePromotion: the pins cannot hold (``constraint`` names which) or the solver
            found no solution.
        EngineInputError: a required column is missing.
    """
    config = config or SelectionConfig()
    require(forecasts, NEEDED, "forecasts")
    pins = {int(p) for p in pinned}
    bans = {int(p) for p in banned}
    frame = _objective_values(forecasts.reset_index(drop=True), config)
    for column, default in OPTIONAL_DEFAULTS.items():
        if column not in frame.columns:
            frame[column] = default
    recent = _recent(frame, week_start, config.recent_weeks, recent_promotions)
    frame["exclusion"] = _exclusions(frame, config, bans, recent)
    _check_pins(frame, pins, bans, config)
    frame["pinned"] = frame["product_id"].isin(pins)
    relaxable = frame["exclusion"].isin(["recently_promoted", "not_worthwhile"])
    frame.loc[frame["pinned"] & relaxable, "exclusion"] = ""
    for name in sorted(_fold(config.pinned_categories)):
        # a pinned category with no regular candidate gets its best relaxable product, as a
        # pinned SKU would (recently promoted or not worthwhile), and only that one
        members = _in_categories(frame, [name])
        if not (members & (frame["exclusion"] == "")).any():
            fallback = frame[members & relaxable].sort_values("objective_value", ascending=False)
            frame.loc[fallback.index[:1], "exclusion"] = ""
    cand = frame[frame["exclusion"] == ""]
    problem = pulp.LpProblem("weekly_promotions", pulp.LpMaximize)
    x = {i: pulp.LpVariable(f"x_{i}", cat="Binary") for i in cand.index}
    values = cand["objective_value"].round(6)
    problem += pulp.lpSum(float(values[i]) * x[i] for i in x)
    problem += pulp.lpSum(x.values()) <= config.k, "k"
    for i in cand.index[cand["pinned"].to_numpy(bool)]:
        # an explicit row: PuLP resets the bounds of a Binary variable to 0-1
        problem += x[i] == 1, f"pin_{i}"
    if config.max_per_category is not None:
        for n, (_, rows) in enumerate(cand.groupby("category", sort=True)):
            problem += pulp.lpSum(x[i] for i in rows.index) <= config.max_per_category, f"cat_{n}"
    for n, name in enumerate(sorted(_fold(config.pinned_categories))):
        rows = cand.index[_in_categories(cand, [name]).to_numpy(bool)]
        if len(rows) == 0:
            raise InfeasiblePromotion(
                "pin", f"pinned category {name!r} has no product that may be promoted this week"
            )
        problem += pulp.lpSum(x[i] for i in rows) >= 1, f"pin_cat_{n}"
    if config.discount_budget is not None:
        cost = cand["discount_cost"]
        problem += pulp.lpSum(float(cost[i]) * x[i] for i in x) <= config.discount_budget, "b"
    if x:
        outcome = solve(problem, time_limit=time_limit, mip_gap=config.mip_gap)
        if not outcome.has_solution:
            raise InfeasiblePromotion("solver", f"no feasible selection ({outcome.status})")
        solver, status, objective = outcome.solver, outcome.status, outcome.objective
    else:
        solver, status, objective = "none", "no candidates", 0.0
    chosen = pd.Series(False, index=frame.index)
    for i, var in x.items():
        chosen[i] = (var.value() or 0.0) > 0.5
    _verify(frame, chosen, config)
    frame.loc[(frame["exclusion"] == "") & ~chosen, "exclusion"] = "not_chosen"
    selected = frame[chosen].sort_values(["objective_value", "product_id"], ascending=[False, True])
    selected = selected.assign(reason=reasons(selected, config.currency_symbol))
    columns = [c for c in SELECTED_COLUMNS if c in selected.columns]
    excluded = frame.loc[~chosen, ["product_id", "sku", "category", "objective_value", "exclusion"]]
    return SelectionResult(
        week_start=week_start,
        selected=selected[columns].reset_index(drop=True),
        excluded=excluded.sort_values("product_id", ignore_index=True),
        k=config.k,
        n_selected=int(chosen.sum()),
        objective=round(float(selected["objective_value"].sum()), 6) if x else objective,
        solver=solver,
        solver_status=status,
        message=_shortfall(frame, chosen, config, len(cand)),
        counts={str(k): int(v) for k, v in excluded["exclusion"].value_counts().items()},
    )
