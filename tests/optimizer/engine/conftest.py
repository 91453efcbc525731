"""Shared engine fixtures: hand-made frames and one simulated, scored population per session."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from optimizer.engine.scoring import run_scoring
from optimizer.engine.types import ScoringConfig, ScoringResult
from tests.optimizer.engine.simulation import Population, simulate

#: Small but realistic settings so that the whole engine folder runs in seconds.
FAST = ScoringConfig(max_iter=60, segment_fit_sample=5_000, silhouette_sample=1_500)


def frame(**columns: list) -> pd.DataFrame:
    """A DataFrame with date-like string columns parsed (names ending in _on, or ``date``)."""
    out = pd.DataFrame(columns)
    for name in out.columns:
        if name == "date" or name.endswith(("_on", "_until")):
            out[name] = pd.to_datetime(out[name])
    return out


@pytest.fixture
def hand_made() -> dict[str, pd.DataFrame]:
    """Four customers with histories small enough to compute every feature by hand.

    1: visits 2024-01-01, 01-11 (+ a return that day), 02-01; offers of two types.
    2: one visit 2024-01-05, one unredeemed offer.  3: buys only after the cutoff.
    4: never buys.  Cutoff (as_of) 2024-02-15.
    """
    baskets = frame(
        customer_id=[1, 1, 1, 2, 1, 3],
        date=["2024-01-01", "2024-01-11", "2024-01-11", "2024-01-05", "2024-02-01", "2024-03-01"],
        amount=[10.0, 20.0, -5.0, 7.0, 30.0, 9.0],
        discount=[0.0, 2.0, 0.0, 0.0, 1.0, 0.0],
    )
    customers = frame(
        customer_id=[3, 1, 2, 4],
        enrolled_on=["2023-12-01", "2023-12-01", "2024-01-05", "2024-01-20"],
    )
    offers = frame(
        customer_id=[1, 1, 2],
        bonus_type=["dbl", "pct", "dbl"],
        sent_on=["2024-01-02", "2024-01-20", "2024-01-06"],
        valid_until=["2024-01-15", "2024-02-10", "2024-01-20"],
        redeemed_on=["2024-01-11", None, None],
    )
    return {"baskets": baskets, "customers": customers, "offers": offers}


HAND_AS_OF = date(2024, 2, 15)


@pytest.fixture(scope="session")
def population() -> Population:
    """A simulated tenant of 4,000 customers with offers and categories."""
    return simulate(4_000, seed=3)


@pytest.fixture(scope="session")
def scored(population: Population) -> ScoringResult:
    """``run_scoring`` of the simulated tenant (fitted once per session)."""
    return run_scoring(
        baskets=population.baskets,
        customers=population.customers,
        offers=population.offers,
        category_days=population.category_days,
        as_of=population.as_of,
        random_state=0,
        config=FAST,
    )
