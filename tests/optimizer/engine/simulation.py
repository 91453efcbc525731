"""Vectorised simulator of a loyalty population with known ground truth (tests and bench).

Each customer enrols on a random day and buys at a personal Poisson rate ``lambda ~ Gamma``;
after each repeat visit they drop out with a personal probability ``p ~ Beta`` (BG/NBD-like), but
a share of customers *decline* before they leave: their last few gaps lengthen, a signal that the
BG/NBD baseline cannot see and a feature model can. Basket values are Gamma around a personal
mean; some customers are bargain hunters (high discount share); a few transactions are returned.
Offers of several bonus types arrive at random; the redemption probability depends on the type,
a personal responsiveness and whether the customer is still alive and active.

Ground truth per customer (``Population.truth``): the rates, the dropout day, whether alive at
``as_of`` and the actual visits and spend in ``[as_of, as_of + horizon)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

BONUS_TYPES = ("double_points", "pct_off", "free_item")
_TYPE_BASE = np.array([-1.0, -1.6, -0.6])


@dataclass(frozen=True)
class Population:
    """Simulated input frames plus the truth behind them."""

    baskets: pd.DataFrame
    customers: pd.DataFrame
    offers: pd.DataFrame
    category_days: pd.DataFrame
    truth: pd.DataFrame
    as_of: date


def _segment_starts(counts: np.ndarray) -> np.ndarray:
    ends = np.cumsum(counts)
    return np.asarray(ends - counts)


def simulate(
    n_customers: int = 5_000,
    *,
    as_of: date = date(2025, 6, 2),
    history_days: int = 730,
    horizon_weeks: int = 8,
    seed: int = 0,
    mean_gap_days: float = 14.0,
    offers_per_year: float = 8.0,
    with_categories: bool = True,
    shuffle: bool = False,
) -> Population:
    """Simulate ``n_customers`` with data up to ``as_of + horizon_weeks`` (for the truth)."""
    rng = np.random.default_rng(seed)
    n = n_customers
    as_of_day = int(np.datetime64(as_of, "D").astype(np.int64))
    start = as_of_day - history_days
    end = as_of_day + 7 * horizon_weeks
    enrol = rng.integers(start - 365, as_of_day - 7, size=n)
    late_start = rng.random(n) < 0.05
    first = enrol + np.where(late_start, rng.integers(0, 400, n), rng.integers(0, 10, n))
    lam = rng.gamma(2.0, 1.0 / (2.0 * mean_gap_days), size=n)
    p_drop = rng.beta(1.2, 18.0, size=n)
    decliner = rng.random(n) < 0.5
    k = rng.geometric(p_drop)
    cap = np.ceil(lam * np.maximum(end - first, 1) * 1.5 + 10).astype(np.int64)
    n_events = np.minimum(k + 1, cap)
    died = k + 1 <= cap

    owner = np.repeat(np.arange(n), n_events)
    starts = _segment_starts(n_events)
    pos = np.arange(owner.size) - starts[owner]
    from_end = n_events[owner] - 1 - pos
    slow = np.where(decliner[owner] & died[owner], 1.0 + 0.6 * np.maximum(4 - from_end, 0), 1.0)
    gaps = rng.exponential(1.0, owner.size) / lam[owner] * slow
    gaps[starts] = 0.0
    cum = np.cumsum(gaps)
    times = first[owner] + (cum - cum[starts][owner])
    death = np.full(n, np.inf)
    last_idx = starts + n_events - 1
    death[died] = times[last_idx[died]]
    day = np.floor(times).astype(np.int64)
    keep = day < end
    owner, day = owner[keep], day[keep]

    mean_basket = rng.gamma(4.0, 10.0, size=n)
    bargain = rng.beta(0.6, 5.0, size=n)
    extra = rng.random(owner.size) < 0.12
    t_owner = np.concatenate([owner, owner[extra]])
    t_day = np.concatenate([day, day[extra]])
    list_price = rng.gamma(3.0, mean_basket[t_owner] / 3.0)
    discount = np.round(
        list_price * np.clip(bargain[t_owner] * rng.uniform(0.3, 1.2, t_owner.size), 0, 0.8), 2
    )
    amount = np.round(list_price - discount, 2)
    returned = rng.random(t_owner.size) < 0.03
    r_owner, r_day = t_owner[returned], t_day[returned] + rng.integers(0, 10, returned.sum())
    r_amount = -np.round(amount[returned] * rng.uniform(0.2, 1.0, returned.sum()), 2)
    b_owner = np.concatenate([t_owner, r_owner])
    b_day = np.concatenate([t_day, r_day])
    b_amount = np.concatenate([amount, r_amount])
    b_disc = np.concatenate([discount, np.zeros(r_owner.size)])
    order = np.lexsort((b_day, b_owner)) if not shuffle else rng.permutation(b_owner.size)
    ids = 1_000_000 + np.arange(n, dtype=np.int64) * 7
    baskets = pd.DataFrame(
        {
            "customer_id": ids[b_owner[order]],
            "date": (b_day[order]).astype("datetime64[D]").astype("datetime64[s]"),
            "amount": b_amount[order],
            "discount": b_disc[order],
        }
    )
    customers = pd.DataFrame(
        {"customer_id": ids, "enrolled_on": enrol.astype("datetime64[D]").astype("datetime64[s]")}
    )

    responsive = rng.normal(0.0, 1.0, n)
    n_offers = rng.poisson(offers_per_year * np.maximum(end - enrol, 0) / 365.0)
    o_owner = np.repeat(np.arange(n), n_offers)
    sent = (enrol[o_owner] + rng.random(o_owner.size) * (end - enrol[o_owner])).astype(np.int64)
    o_type = rng.integers(0, len(BONUS_TYPES), o_owner.size)
    valid = sent + 14
    alive_then = sent < death[o_owner]
    activity = np.log(lam[o_owner] * 14.0)
    logit = _TYPE_BASE[o_type] + 1.2 * responsive[o_owner] + 0.5 * activity
    p_redeem = alive_then / (1.0 + np.exp(-logit))
    redeemed = rng.random(o_owner.size) < p_redeem
    red_day = np.where(redeemed, sent + rng.integers(0, 15, o_owner.size), 0)
    offers = pd.DataFrame(
        {
            "customer_id": ids[o_owner],
            "bonus_type": pd.array(np.asarray(BONUS_TYPES)[o_type], dtype="str"),
            "sent_on": sent.astype("datetime64[D]").astype("datetime64[s]"),
            "valid_until": valid.astype("datetime64[D]").astype("datetime64[s]"),
            "redeemed_on": pd.to_datetime(
                np.where(redeemed, red_day.astype("datetime64[D]"), np.datetime64("NaT"))
            ),
        }
    )

    if with_categories:
        breadth = 1 + rng.poisson(1.0 + 2.0 * rng.random(n))
        per_visit = np.minimum(1 + rng.poisson(breadth[owner] / 2.0), 5)
        c_owner = np.repeat(owner, per_visit)
        c_day = np.repeat(day, per_visit)
        c_first = np.repeat(rng.integers(0, 40, owner.size), per_visit)
        c_rank = np.arange(c_owner.size) - np.repeat(_segment_starts(per_visit), per_visit)
        category_days = pd.DataFrame(
            {
                "customer_id": ids[c_owner],
                "date": c_day.astype("datetime64[D]").astype("datetime64[s]"),
                "category": ((c_first + 7 * c_rank) % 40).astype(np.int32),
            }
        )
    else:
        category_days = pd.DataFrame(
            {
                "customer_id": np.zeros(0, np.int64),
                "date": np.zeros(0, "datetime64[s]"),
                "category": np.zeros(0, np.int32),
            }
        )

    future = (day >= as_of_day) & (day < end)
    pairs = np.unique(owner[future].astype(np.int64) * (end + 1) + day[future])
    fut_visits = np.bincount(pairs // (end + 1), minlength=n)
    in_future = (b_day >= as_of_day) & (b_day < end)
    fut_spend = np.bincount(b_owner[in_future], weights=b_amount[in_future], minlength=n)
    truth = pd.DataFrame(
        {
            "customer_id": ids,
            "lam": lam,
            "p_drop": p_drop,
            "decliner": decliner,
            "death_day": death,
            "alive": death > as_of_day,
            "future_visits": fut_visits,
            "future_spend": fut_spend,
            "responsive": responsive,
            "bargain": bargain,
            "mean_basket": mean_basket,
        }
    )
    return Population(baskets, customers, offers, category_days, truth, as_of)


@dataclass(frozen=True)
class BGNBDSample:
    """Summaries of customers drawn from a known BG/NBD, plus what happened next."""

    x: np.ndarray
    t_x: np.ndarray
    big_t: np.ndarray
    future: np.ndarray
    alive: np.ndarray


def simulate_bgnbd(
    n: int,
    *,
    r: float,
    alpha: float,
    a: float,
    b: float,
    horizon: float,
    seed: int = 0,
    max_events: int = 300,
) -> BGNBDSample:
    """Customers from the BG/NBD story (weeks): calibration lengths T ~ U(20, 78)."""
    rng = np.random.default_rng(seed)
    lam = rng.gamma(r, 1.0 / alpha, n)
    p = rng.beta(a, b, n)
    big_t = rng.uniform(20.0, 78.0, n)
    times = np.cumsum(rng.exponential(1.0, (n, max_events)) / lam[:, None], axis=1)
    repeats_before_death = rng.geometric(p)  # drops out right after this repeat purchase
    allowed = np.arange(1, max_events + 1)[None, :] <= repeats_before_death[:, None]
    seen = allowed & (times <= big_t[:, None])
    x = seen.sum(axis=1).astype(np.float64)
    t_x = np.where(x > 0, np.where(seen, times, 0.0).max(axis=1), 0.0)
    later = allowed & (times > big_t[:, None]) & (times <= big_t[:, None] + horizon)
    return BGNBDSample(x, t_x, big_t, later.sum(axis=1), repeats_before_death > x)


def simulate_gamma_gamma(
    n: int, *, p: float, q: float, gamma: float, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """(visits, mean visit value) per customer from a known Gamma-Gamma model."""
    rng = np.random.default_rng(seed)
    visits = 1 + rng.poisson(3.0, n)
    nu = rng.gamma(q, 1.0 / gamma, n)
    mean_value = rng.gamma(p * visits, 1.0 / nu) / visits
    return visits.astype(np.float64), mean_value
