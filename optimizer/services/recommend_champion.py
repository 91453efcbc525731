"""The list a recommendation run serves: read the validation and holdout windows, let the engine
choose (``optimizer.engine.recommend.champion``) and date its report."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from optimizer.engine.recommend.champion import Choice, Window, evaluate_and_choose
from optimizer.engine.recommend.model import RecommendConfig
from optimizer.frames.recommend import product_history_frame
from optimizer.models import RecommendationRun

EPOCH = dt.date(1970, 1, 1)


def day_number(value: dt.date) -> int:
    """Days since 1970-01-01 (the engine's day numbers)."""
    return (value - EPOCH).days


def recommendation_choose(
    *,
    run: RecommendationRun,
    products: pd.DataFrame,
    members: pd.DataFrame,
    excluded: tuple[str, ...],
    config: RecommendConfig,
) -> Choice:
    """Validation window ``[as_of - 2H, as_of - H)`` chooses the list and fits the calibration;
    the holdout ``[as_of - H, as_of)`` reports all three lists (engine: champion.py)."""
    retailer, weeks = run.retailer, dt.timedelta(weeks=run.holdout_weeks)
    split, check = run.as_of - weeks, run.as_of - 2 * weeks

    def window(start: dt.date, end: dt.date) -> Window:
        return Window(
            history=product_history_frame(retailer=retailer, start=None, end=start),
            purchases=product_history_frame(retailer=retailer, start=start, end=end),
            split_day=day_number(start),
        )

    choice = evaluate_and_choose(
        window(check, split),
        window(split, run.as_of),
        products,
        members,
        excluded_categories=excluded,
        config=config,
    )
    choice.report["holdout"]["split"] = split.isoformat()
    choice.report["champion"]["validation_window"] = [check.isoformat(), split.isoformat()]
    return choice
