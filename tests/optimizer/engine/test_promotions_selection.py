"""The weekly selection honours every constraint: checked by brute force on small cases."""

from __future__ import annotations

import itertools
from datetime import date

import numpy as np
import pandas as pd
import pulp
import pytest

from optimizer.engine.promotions import (
    SELECTED_COLUMNS,
    InfeasiblePromotion,
    SelectionConfig,
    select_promotions,
)

WEEK = date(2024, 3, 4)


def forecasts(n: int = 9, seed: int = 0) -> pd.DataFrame:
    """A random forecast frame of ``n`` products in 3 categories (some short of stock,
    some promoted recently, some unprofitable)."""
    rng = np.random.default_rng(seed)
    baseline = rng.uniform(5, 50, n)
    promoted = baseline * rng.uniform(1.1, 4.0, n)
    last = rng.choice([None, "2024-02-26", "2024-01-01"], n, p=[0.6, 0.2, 0.2])
    return pd.DataFrame(
        {
            "product_id": np.arange(1, n + 1),
            "sku": [f"P{i}" for i in range(1, n + 1)],
            "category": [["a", "b", "c"][i % 3] for i in range(n)],
            "unit_cost": rng.uniform(1, 5, n),
            "baseline_units": baseline,
            "promoted_units": promoted,
            "lift": promoted / baseline,
            "incremental_units": promoted - baseline,
            "incremental_revenue": rng.uniform(0, 300, n),
            "incremental_margin": rng.uniform(-40, 120, n),
            "discount_cost": rng.uniform(10, 80, n),
            "promo_depth": 0.2,
            "on_hand": np.where(
                rng.random(n) < 0.2, promoted * 0.9, promoted * rng.uniform(1.3, 6, n)
            ),
            "stock_cover": np.nan,
            "competitor_gap": rng.uniform(-0.1, 0.1, n),
            "reach": rng.integers(0, 300, n).astype(float),
            "last_promoted_week": pd.to_datetime(pd.Series(last)),
        }
    )


def brute_force(frame: pd.DataFrame, config: SelectionConfig, pins=(), bans=()) -> float:
    """Best objective over every subset that satisfies every rule (independent re-statement)."""
    excess = (frame["on_hand"] - config.target_cover_weeks * frame["baseline_units"]).clip(lower=0)
    bonus = (
        config.overstock_value * frame["unit_cost"] * np.minimum(frame["incremental_units"], excess)
    )
    value = frame["incremental_margin"] + bonus + config.reach_value * frame["reach"]
    recent = frame["last_promoted_week"] >= pd.Timestamp(WEEK) - pd.Timedelta(
        weeks=config.recent_weeks
    )
    stock_ok = frame["on_hand"] >= frame["promoted_units"] * (1 + config.stock_safety)
    ok = []
    for i in frame.index:
        pid = int(frame.at[i, "product_id"])
        if pid in bans or not stock_ok[i]:
            continue
        if pid in pins or (not recent[i] and value[i] > config.min_objective):
            ok.append(i)
    best = -np.inf
    for size in range(config.k + 1):
        for combo in itertools.combinations(ok, size):
            chosen = frame.loc[list(combo)]
            if not set(pins) <= set(chosen["product_id"]):
                continue
            if (
                config.max_per_category is not None
                and (chosen["category"].value_counts() > config.max_per_category).any()
            ):
                continue
            if (
                config.discount_budget is not None
                and chosen["discount_cost"].sum() > config.discount_budget
            ):
                continue
            best = max(best, float(value[list(combo)].sum()))
    return best


def check(result, frame: pd.DataFrame, config: SelectionConfig, pins=(), bans=()) -> None:
    chosen = frame[frame["product_id"].isin(result.selected["product_id"])]
    assert len(chosen) == result.n_selected <= config.k
    assert (chosen["on_hand"] >= chosen["promoted_units"] * (1 + config.stock_safety)).all()
    if config.max_per_category is not None:
        assert (chosen["category"].value_counts() <= config.max_per_category).all()
    if config.discount_budget is not None:
        assert chosen["discount_cost"].sum() <= config.discount_budget + 1e-6
    assert set(pins) <= set(chosen["product_id"])
    assert not set(bans) & set(chosen["product_id"])
    recent = chosen["last_promoted_week"] >= pd.Timestamp(WEEK) - pd.Timedelta(
        weeks=config.recent_weeks
    )
    assert set(chosen.loc[recent, "product_id"]) <= set(pins)
    assert result.objective == pytest.approx(brute_force(frame, config, pins, bans), abs=1e-4)


CONFIGS = [
    SelectionConfig(k=3, max_per_category=1),
    SelectionConfig(k=4, max_per_category=2, discount_budget=90.0),
    SelectionConfig(k=5, max_per_category=None, discount_budget=120.0, recent_weeks=10),
    SelectionConfig(k=4, max_per_category=2, overstock_value=0.5, reach_value=0.2),
]


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("config", CONFIGS, ids=["cap1", "budget", "recent10", "bonus"])
def test_select_promotions_matches_brute_force(seed, config):
    frame = forecasts(seed=seed)
    result = select_promotions(forecasts=frame, week_start=WEEK, config=config, time_limit=5)
    check(result, frame, config)


@pytest.mark.parametrize("seed", range(4))
def test_select_promotions_forces_pins_and_honours_bans(seed):
    frame = forecasts(seed=seed)
    config = SelectionConfig(k=4, max_per_category=2, discount_budget=200.0, recent_weeks=10)
    stock_ok = frame["on_hand"] >= frame["promoted_units"] * 1.2
    pins = [int(frame.loc[stock_ok, "product_id"].iloc[0])]
    bans = [int(p) for p in frame["product_id"] if p not in pins][:2]
    result = select_promotions(
        forecasts=frame, week_start=WEEK, config=config, pinned=pins, banned=bans, time_limit=5
    )
    check(result, frame, config, pins, bans)
    assert result.selected.loc[result.selected["product_id"] == pins[0], "pinned"].item()
    excluded = result.excluded.set_index("product_id")["exclusion"]
    assert (excluded[bans] == "banned").all()


def test_select_promotions_output_has_reasons_and_documented_columns():
    frame = forecasts(seed=1)
    frame["stock_cover"] = frame["on_hand"] / frame["promoted_units"]
    result = select_promotions(forecasts=frame, week_start=WEEK, config=SelectionConfig(k=3))
    assert list(result.selected.columns) == list(SELECTED_COLUMNS)
    assert result.selected["objective_value"].is_monotonic_decreasing
    for line in result.selected["reason"]:
        assert "x stock cover" in line
        assert line.endswith(" margin")
    assert result.solver in ("HiGHS", "PULP_CBC_CMD")
    assert set(result.counts) <= {
        "banned",
        "no_forecast",
        "no_inventory",
        "stock_short",
        "recently_promoted",
        "not_worthwhile",
        "not_chosen",
    }


def test_select_promotions_prefers_overstock_at_equal_margin():
    frame = forecasts(n=2, seed=0)
    frame["category"] = "a"
    frame["incremental_margin"] = 50.0
    frame["baseline_units"] = 10.0
    frame["promoted_units"] = 20.0
    frame["incremental_units"] = 10.0
    frame["on_hand"] = [40.0, 400.0]
    frame["last_promoted_week"] = pd.NaT
    result = select_promotions(forecasts=frame, week_start=WEEK, config=SelectionConfig(k=1))
    assert result.selected["product_id"].tolist() == [2]


def test_select_promotions_chooses_fewer_when_few_are_worthwhile():
    frame = forecasts(n=6, seed=2)
    frame["incremental_margin"] = [50.0, 40.0, -5.0, -1.0, -30.0, 10.0]
    frame["on_hand"] = frame["promoted_units"] * 3
    frame["last_promoted_week"] = pd.NaT
    config = SelectionConfig(k=5, max_per_category=None, overstock_value=0.0)
    result = select_promotions(forecasts=frame, week_start=WEEK, config=config)
    assert sorted(result.selected["product_id"]) == [1, 2, 6]
    assert "chose 3 of K = 5" in result.message
    assert "only 3 products are worthwhile" in result.message
    assert result.counts["not_worthwhile"] == 3


def test_select_promotions_reports_a_binding_budget():
    frame = forecasts(n=6, seed=3)
    frame["incremental_margin"] = 100.0
    frame["discount_cost"] = 50.0
    frame["on_hand"] = frame["promoted_units"] * 3
    frame["last_promoted_week"] = pd.NaT
    config = SelectionConfig(k=5, max_per_category=None, discount_budget=120.0)
    result = select_promotions(forecasts=frame, week_start=WEEK, config=config)
    assert result.n_selected == 2
    assert "discount budget" in result.message


def test_select_promotions_missing_inventory_is_excluded_or_allowed():
    frame = forecasts(n=3, seed=4)
    frame["incremental_margin"] = 100.0
    frame["on_hand"] = np.nan
    frame["last_promoted_week"] = pd.NaT
    strict = select_promotions(forecasts=frame, week_start=WEEK, config=SelectionConfig(k=3))
    assert strict.n_selected == 0
    assert strict.counts == {"no_inventory": 3}
    assert "only 0 products" in strict.message
    loose = select_promotions(
        forecasts=frame, week_start=WEEK, config=SelectionConfig(k=3, missing_inventory="allow")
    )
    assert loose.n_selected == 3
    assert loose.selected["reason"].str.contains("stock not known").all()


def test_select_promotions_recent_promotions_frame_excludes_unless_pinned():
    frame = forecasts(n=3, seed=5)
    frame["incremental_margin"] = 100.0
    frame["on_hand"] = frame["promoted_units"] * 3
    frame["last_promoted_week"] = pd.NaT
    recent = pd.DataFrame(
        {"product_id": [1, 2], "week_start": [date(2024, 2, 19), date(2023, 1, 2)]}
    )
    result = select_promotions(
        forecasts=frame, week_start=WEEK, config=SelectionConfig(k=3), recent_promotions=recent
    )
    assert sorted(result.selected["product_id"]) == [2, 3]
    pinned = select_promotions(
        forecasts=frame,
        week_start=WEEK,
        config=SelectionConfig(k=3),
        recent_promotions=recent,
        pinned=[1],
    )
    assert sorted(pinned.selected["product_id"]) == [1, 2, 3]


def _clean(n: int = 6) -> pd.DataFrame:
    frame = forecasts(n=n, seed=6)
    frame["on_hand"] = frame["promoted_units"] * 3
    frame["discount_cost"] = 40.0
    return frame


@pytest.mark.parametrize(
    ("config", "pins", "bans", "constraint", "text"),
    [
        (SelectionConfig(k=2), [1, 2, 3], [], "k", "exceed K = 2"),
        (SelectionConfig(k=3, max_per_category=1), [1, 4], [], "category_cap", "category 'a'"),
        (SelectionConfig(k=3, discount_budget=70.0), [1, 2], [], "budget", "discount budget"),
        (SelectionConfig(k=3), [1], [1], "ban", "pinned and banned"),
        (SelectionConfig(k=3), [99], [], "pin", "no forecast"),
    ],
)
def test_select_promotions_infeasible_settings_name_the_constraint(
    config, pins, bans, constraint, text
):
    with pytest.raises(InfeasiblePromotion, match=text) as info:
        select_promotions(
            forecasts=_clean(), week_start=WEEK, config=config, pinned=pins, banned=bans
        )
    assert info.value.constraint == constraint


def test_select_promotions_pinned_product_short_of_stock_is_infeasible():
    frame = _clean()
    frame.loc[0, "on_hand"] = 1.0
    with pytest.raises(InfeasiblePromotion, match="stock constraint") as info:
        select_promotions(forecasts=frame, week_start=WEEK, pinned=[1])
    assert info.value.constraint == "stock"


def test_select_promotions_falls_back_to_cbc_without_highs(monkeypatch):
    frame = forecasts(seed=3)
    config = SelectionConfig(k=4, max_per_category=2, discount_budget=150.0)
    real = pulp.getSolver

    def no_highs(name, **kwargs):
        if name == "HiGHS":
            raise pulp.PulpSolverError("HiGHS missing")
        return real(name, **kwargs)

    monkeypatch.setattr(pulp, "getSolver", no_highs)
    result = select_promotions(forecasts=frame, week_start=WEEK, config=config, time_limit=5)
    assert result.solver == "PULP_CBC_CMD"
    check(result, frame, config)
