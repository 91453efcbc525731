"""Synthetic retailers with known ground truth, in the two shapes the scoring must handle.

Objective: test data for choosing champions on retailers nobody tuned on, where the truth behind
every purchase is known:

* ``grocer``: weekly shoppers (a purchase rate of about one visit a week, Gamma-spread), long
  lives, modest baskets, frequent offers;
* ``mail_order``: customers who buy about twice a year, many of them once only, shorter lives
  relative to their purchase gaps, large orders and rare offers.

Both follow the Pareto/NBD story (Poisson purchases at rate ``lambda ~ Gamma``, an exponential
lifetime at rate ``mu ~ Gamma``), with Gamma-spread order values around a personal mean, so the
probabilistic contenders are well specified and a feature model has to earn its place. Offers
arrive at random; a customer redeems one with a probability that rises with a personal
responsiveness and is 0 once dead.

Constraints: pure numpy/pandas, deterministic given ``seed``; frames match
``history.prepare_history`` (``baskets``, ``customers``, ``offers``); data runs up to
``as_of + horizon_weeks`` so that the truth of the following window is in the frames too (the
engine never reads on or after ``as_of``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Shape:
    """Population parameters of one kind of retailer (rates per week)."""

    r: float
    alpha: float
    s: float
    beta: float
    mean_order: float
    offers_per_year: float


SHAPES: dict[str, Shape] = {
    # E[lambda] = 1.0 visit a week; E[lifetime] about beta / (s - 1) = 150 weeks.
    "grocer": Shape(r=2.0, alpha=2.0, s=2.0, beta=150.0, mean_order=35.0, offers_per_year=12.0),
    # E[lambda] = 2 orders a year; E[lifetime] about 60 weeks: many buy once or twice only.
    "mail_order": Shape(r=0.8, alpha=20.8, s=1.5, beta=30.0, mean_order=90.0, offers_per_year=2.0),
}
BONUS_TYPES = ("points", "voucher")


@dataclass(frozen=True)
class SyntheticRetailer:
    """Input frames plus the truth per customer (``truth``: ``lam``, ``mu``, ``death_day``,
    ``alive`` at ``as_of``, ``future_visits`` and ``future_spend`` in the next horizon)."""

    baskets: pd.DataFrame
    customers: pd.DataFrame
    offers: pd.DataFrame
    truth: pd.DataFrame
    as_of: date


def _days(values: np.ndarray) -> np.ndarray:
    return values.astype("datetime64[D]").astype("datetime64[s]")


def synthetic_retailer(
    shape: str,
    *,
    n_customers: int = 3_000,
    as_of: date = date(2025, 6, 2),
    history_weeks: int = 156,
    horizon_weeks: int = 12,
    seed: int = 0,
) -> SyntheticRetailer:
    """Simulate one retailer of ``shape`` (``"grocer"`` or ``"mail_order"``).

    Customers join uniformly over the history (their first purchase is the joining day);
    purchase days are whole days, several purchases on one day count as one visit day.

    Raises:
        ValueError: unknown ``shape``.
    """
    if shape not in SHAPES:
        raise ValueError(f"unknown shape {shape!r}; expected one of {sorted(SHAPES)}")
    p = SHAPES[shape]
    rng = np.random.default_rng(seed)
    n = n_customers
    as_of_day = int(np.datetime64(as_of, "D").astype(np.int64))
    start = as_of_day - 7 * history_weeks
    end = as_of_day + 7 * horizon_weeks
    first = rng.integers(start, as_of_day - 7, size=n).astype(np.float64)
    lam = rng.gamma(p.r, 1.0 / p.alpha, size=n) / 7.0  # per day
    mu = rng.gamma(p.s, 1.0 / p.beta, size=n) / 7.0
    death = first + rng.exponential(1.0, n) / mu
    stop = np.minimum(death, end)
    counts = rng.poisson(lam * np.maximum(stop - first, 0.0))
    owner = np.repeat(np.arange(n), counts)
    times = first[owner] + rng.random(owner.size) * (stop - first)[owner]
    owner = np.concatenate([np.arange(n), owner])
    day = np.floor(np.concatenate([first, times])).astype(np.int64)
    mean_order = rng.gamma(4.0, p.mean_order / 4.0, size=n)
    amount = np.round(rng.gamma(6.0, mean_order[owner] / 6.0), 2)
    order = np.lexsort((day, owner))
    owner, day, amount = owner[order], day[order], amount[order]
    ids = 5_000_000 + np.arange(n, dtype=np.int64)
    baskets = pd.DataFrame(
        {
            "customer_id": ids[owner],
            "date": _days(day),
            "amount": amount,
            "discount": np.zeros(owner.size),
        }
    )
    customers = pd.DataFrame({"customer_id": ids, "enrolled_on": _days(first.astype(np.int64))})

    responsive = rng.normal(0.0, 1.0, n)
    n_offers = rng.poisson(p.offers_per_year * (end - first) / 365.0)
    o_owner = np.repeat(np.arange(n), n_offers)
    sent = (first[o_owner] + rng.random(o_owner.size) * (end - first[o_owner])).astype(np.int64)
    o_type = rng.integers(0, len(BONUS_TYPES), o_owner.size)
    logit = -1.2 + 0.5 * o_type + 1.3 * responsive[o_owner]
    redeemed = (sent < death[o_owner]) & (rng.random(o_owner.size) < 1.0 / (1.0 + np.exp(-logit)))
    red_day = sent + rng.integers(0, 14, o_owner.size)
    offers = pd.DataFrame(
        {
            "customer_id": ids[o_owner],
            "bonus_type": pd.array(np.asarray(BONUS_TYPES)[o_type], dtype="str"),
            "sent_on": _days(sent),
            "valid_until": _days(sent + 13),
            "redeemed_on": pd.to_datetime(
                np.where(redeemed, red_day.astype("datetime64[D]"), np.datetime64("NaT"))
            ),
        }
    )

    future = (day >= as_of_day) & (day < end)
    pairs = np.unique(owner[future] * (end + 1) + day[future])
    truth = pd.DataFrame(
        {
            "customer_id": ids,
            "lam": lam * 7.0,
            "mu": mu * 7.0,
            "death_day": death,
            "alive": death > as_of_day,
            "future_visits": np.bincount(pairs // (end + 1), minlength=n),
            "future_spend": np.bincount(owner[future], weights=amount[future], minlength=n),
        }
    )
    return SyntheticRetailer(baskets, customers, offers, truth, as_of)


def simulate_pareto_summaries(
    n: int,
    *,
    r: float,
    alpha: float,
    s: float,
    beta: float,
    horizon: float,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(x, t_x, T, future purchases in (T, T+horizon], alive at T)`` from a known Pareto/NBD
    (weeks; calibration lengths ``T ~ U(20, 78)``)."""
    rng = np.random.default_rng(seed)
    lam = rng.gamma(r, 1.0 / alpha, n)
    mu = rng.gamma(s, 1.0 / beta, n)
    big_t = rng.uniform(20.0, 78.0, n)
    death = rng.exponential(1.0, n) / mu
    seen_until = np.minimum(death, big_t)
    x = rng.poisson(lam * seen_until)
    # Given x events in (0, seen_until], their times are uniform: the last is the max of x.
    t_x = np.where(x > 0, seen_until * rng.random(n) ** (1.0 / np.maximum(x, 1)), 0.0)
    later = rng.poisson(lam * np.clip(np.minimum(death, big_t + horizon) - big_t, 0.0, None))
    return x.astype(np.float64), t_x, big_t, later.astype(np.float64), death > big_t
