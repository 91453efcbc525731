"""A synthetic retailer of any size, with the ground truth a scoring model should recover.

Pure numpy / pandas (no Django import). The model, its parameters (:class:`ModelParams`) and
every truth column are documented in docs/synthetic-data.md. In short, per customer: enrolment
at a purchase; visits at a gamma-distributed weekly rate while alive; after each purchase a
beta-distributed dropout chance (BG/NBD); basket lines from a gamma spend level and household
size; categories from a Dirichlet taste; products by popularity; per bonus type a logistic
redemption propensity; redeeming raises the basket-lines mean for ``uplift_days``.

Memory and reproducibility: customers are simulated in fixed blocks of :data:`BLOCK`, each from
its own stream ``default_rng([seed, 1, block])`` (the catalogue from ``[seed, 0]``). A chunk is
a run of whole blocks, so the data never depends on the chunk size and memory is bounded by one
chunk. Day numbers are relative to ``as_of`` (day 0): days ``< 0`` are history, written to the
database; days ``0 .. 7 * FUTURE_WEEKS - 1`` are the future window, only summarised in truth.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from loyalty_site.site.demo import synthetic_frames as frames
from loyalty_site.site.demo.synthetic_catalog import (
    BLOCK,
    BONUS_TYPES,
    FUTURE_WEEKS,
    Catalog,
    ModelParams,
    build_catalog,
)

__all__ = [
    "BLOCK",
    "DEFAULT_AS_OF",
    "FUTURE_WEEKS",
    "ModelParams",
    "SyntheticChunk",
    "SyntheticRetailer",
    "build_catalog",
    "expected_visits",
    "generate",
    "generate_chunk",
    "iter_chunks",
]

DEFAULT_AS_OF = date(2026, 1, 5)
_SPAN = 1e5  # more days than any history: (customer, day) -> one sortable float key


@dataclass(frozen=True)
class SyntheticChunk:
    """Contract frames and truth of a range of customers.

    customers: customer_id, enrolled_on, age_band, income_band, household_size, email,
    marketing_consent. transactions: transaction_id, customer_id, store_id, timestamp.
    lines: transaction_id, line_no, sku, quantity, amount, discount. offers: offer_id,
    customer_id, bonus_type, sent_on, valid_until, redeemed_on. truth: see docs.
    """

    customers: pd.DataFrame
    transactions: pd.DataFrame
    lines: pd.DataFrame
    offers: pd.DataFrame
    truth: pd.DataFrame


@dataclass(frozen=True)
class SyntheticRetailer:
    """A whole generated retailer (for small sizes: big ones are written chunk by chunk)."""

    stores: pd.DataFrame
    products: pd.DataFrame
    bonus_types: pd.DataFrame
    customers: pd.DataFrame
    transactions: pd.DataFrame
    lines: pd.DataFrame
    offers: pd.DataFrame
    truth: pd.DataFrame
    catalog: Catalog = field(repr=False)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _offsets(counts: np.ndarray) -> np.ndarray:
    """Position of each element within its group, for groups of ``counts`` laid end to end."""
    return np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)


def expected_visits(mu: np.ndarray, dropout: np.ndarray) -> np.ndarray:
    """E[min(N, R)] with N ~ Poisson(mu) and R ~ Geometric(dropout) on 1, 2, ...: the expected
    visits of a customer alive now, over a window with ``mu`` expected visits if none dropped
    out. Equals ``sum_{k >= 1} P(N >= k) * (1 - dropout) ** (k - 1)``."""
    top = float(np.max(mu, initial=0.0))
    pmf = np.exp(-mu)
    cdf, survive, total = pmf.copy(), np.ones_like(mu), np.zeros_like(mu)
    for k in range(1, int(top + 10 * np.sqrt(top) + 30) + 1):
        total += np.clip(1.0 - cdf, 0.0, 1.0) * survive
        pmf = pmf * mu / k
        cdf += pmf
        survive *= 1.0 - dropout
    return total


def _purchases(rng: np.random.Generator, t: dict[str, np.ndarray], weeks: int) -> dict:
    """Visit days of every customer from the history window start to the future horizon.

    One purchase at enrolment; then a Poisson process at ``rate`` until the customer drops out
    right after purchase number ``lifetime`` (~ Geometric(dropout)). Before the window only the
    count matters (Poisson), inside it the times (uniform given the count).
    """
    n, start_window, horizon = len(t["enrol"]), -7.0 * weeks, 7.0 * FUTURE_WEEKS
    rate_day = t["rate_week"] / 7.0
    before = t["enrol"] < start_window
    pre = rng.poisson(rate_day * np.where(before, start_window - t["enrol"], 0.0))
    start = np.where(before, start_window, t["enrol"])
    remaining = t["lifetime"] - np.where(before, 1 + pre, 1)
    events = rng.poisson(rate_day * (horizon - start) * (remaining > 0))
    owner = np.repeat(np.arange(n), events)
    times = rng.uniform(np.repeat(start, events), horizon)
    order = np.lexsort((times, owner))
    times = times[order]
    taken = np.minimum(events, np.maximum(remaining, 0))
    kept = _offsets(events) < taken[owner]
    owner, times = owner[kept], times[kept]
    dead_at = np.full(n, np.inf)  # day of the purchase after which the customer dropped out
    done = (remaining > 0) & (events >= remaining)
    dead_at[done] = times[(np.cumsum(taken) - 1)[done]]
    dead_at[remaining <= 0] = np.where(before, -np.inf, t["enrol"])[remaining <= 0]
    joined = ~before
    owner = np.concatenate([owner, np.flatnonzero(joined)])
    times = np.concatenate([times, t["enrol"][joined]])
    order = np.lexsort((times, owner))
    return {"owner": owner[order], "time": times[order], "dead_at": dead_at}


def _offers(rng: np.random.Generator, catalog: Catalog, t: dict, v: dict) -> dict:
    """Who got which campaign, and who redeemed it: at their first visit in the validity
    window, with probability ``response[customer, bonus type]``."""
    sent, valid, kind, reach = catalog.campaign_arrays()
    got = rng.random((len(t["enrol"]), len(sent))) < reach[None, :]
    got &= np.floor(t["enrol"])[:, None] <= sent[None, :]
    owner, campaign = np.nonzero(got)
    key = v["owner"] * _SPAN + v["time"]
    at = np.searchsorted(key, owner * _SPAN + sent[campaign], side="left")
    at_c = np.minimum(at, max(len(key) - 1, 0))
    visited = (at < len(key)) & (v["owner"][at_c] == owner) & (v["day"][at_c] <= valid[campaign])
    u = rng.random(len(owner))
    redeemed = visited & (u < t["response"][owner, kind[campaign]])
    return {
        "owner": owner,
        "campaign": campaign,
        "kind": kind[campaign],
        "redeemed": redeemed,
        "visit": np.where(redeemed, at_c, -1),
    }


def _uplift(catalog: Catalog, v: dict, o: dict) -> np.ndarray:
    """Basket-lines multiplier per visit: 1 + uplift of the latest redemption of the same
    customer within ``uplift_days`` before (or at) the visit."""
    factor = np.ones(len(v["owner"]))
    visits, kinds = o["visit"][o["redeemed"]], o["kind"][o["redeemed"]]
    if len(visits) == 0:
        return factor
    order = np.lexsort((kinds, visits))
    visits, kinds = visits[order], kinds[order]
    latest = np.searchsorted(visits, np.arange(len(factor)), side="right") - 1
    ok = latest >= 0
    red = visits[np.maximum(latest, 0)]
    ok &= v["owner"][red] == v["owner"]
    ok &= v["time"] - v["time"][red] < catalog.params.uplift_days
    factor[ok] += catalog.bonus_uplifts[kinds[latest[ok]]]
    return factor


def _lines(
    rng: np.random.Generator, catalog: Catalog, t: dict, v: dict, factor: np.ndarray
) -> dict[str, np.ndarray]:
    """Basket lines: count 1 + Poisson(mean - 1), category by taste, product by popularity,
    quantity 1 + Poisson, some lines on promotion."""
    p = catalog.params
    count = 1 + rng.poisson(np.maximum(t["lines_mean"][v["owner"]] * factor - 1.0, 0.0))
    visit = np.repeat(np.arange(len(count)), count)
    cum = np.cumsum(t["prefs"], axis=1)
    category = (rng.random(len(visit))[:, None] > cum[v["owner"][visit]]).sum(axis=1)
    category = np.minimum(category, len(catalog.category_shares) - 1)
    product = catalog.pick_products(category, rng.random(len(visit)))
    quantity = 1 + rng.poisson(p.extra_units_mean, len(visit))
    promo = rng.random(len(visit)) < p.promo_line_share
    depth = np.where(promo, rng.choice(np.asarray(p.promo_depths), len(visit)), 0.0)
    regular = np.round(catalog.prices[product] * quantity, 2)
    discount = np.round(regular * depth, 2)
    return {
        "visit": visit,
        "line_no": _offsets(count) + 1,
        "product": product,
        "quantity": quantity,
        "amount": np.round(regular - discount, 2),
        "discount": discount,
    }


def _traits(rng: np.random.Generator, catalog: Catalog, n: int) -> dict[str, np.ndarray]:
    """Latent and reported traits of ``n`` customers (drawn in a fixed order)."""
    p = catalog.params
    t = {
        "enrol": -rng.uniform(0.0, p.enrol_years * 365.0, n),
        "rate_week": rng.gamma(p.rate_shape, p.rate_scale, n),
        "dropout": rng.beta(p.dropout_a, p.dropout_b, n),
        "spend_level": rng.gamma(p.spend_shape, 1.0 / p.spend_shape, n),
        "size": rng.choice(np.arange(1, 6), n, p=np.asarray(p.household_size_p)),
        "prefs": rng.dirichlet(catalog.category_shares * p.category_concentration, n),
        "responsiveness": rng.normal(0.0, p.responsiveness_sd, n),
        "type_noise": rng.normal(0.0, p.response_type_sd, (n, len(BONUS_TYPES))),
        "home": rng.integers(0, catalog.n_stores, n),
        "age": rng.choice(len(p.age_bands), n, p=np.asarray(p.age_p)),
        "income": rng.choice(len(p.income_bands), n, p=np.asarray(p.income_p)),
        "reported": rng.random(n) >= p.demographics_missing,
        "consent": rng.random(n) < p.consent_share,
    }
    t["lifetime"] = rng.geometric(np.clip(t["dropout"], 1e-9, 1.0))
    t["lines_mean"] = 1.0 + (p.lines_mean - 1.0) * t["spend_level"] * (0.8 + 0.1 * t["size"])
    logits = catalog.bonus_base_logits[None, :] + t["responsiveness"][:, None] + t["type_noise"]
    t["response"] = _sigmoid(logits)
    t["spend_mean"] = t["lines_mean"] * (t["prefs"] @ catalog.category_line_values)
    # if alive at as_of: E[visits] over the future window (memoryless dropout and process)
    t["expected_visits"] = expected_visits(t["rate_week"] * FUTURE_WEEKS, t["dropout"])
    return t


def _simulate_block(catalog: Catalog, block: int) -> dict[str, Any]:
    """All random draws for customers ``block * BLOCK ...``, as arrays."""
    first = block * BLOCK
    n = min(first + BLOCK, catalog.customers) - first
    rng = np.random.default_rng([catalog.seed, 1, block])
    t = _traits(rng, catalog, n)
    v = _purchases(rng, t, catalog.weeks)
    v["day"] = np.floor(v["time"])
    o = _offers(rng, catalog, t, v)
    factor = _uplift(catalog, v, o)
    lines = _lines(rng, catalog, t, v, factor)
    v["store"] = np.where(
        rng.random(len(v["owner"])) < catalog.params.home_store_share,
        t["home"][v["owner"]],
        rng.integers(0, catalog.n_stores, len(v["owner"])),
    )
    v["seq"] = _offsets(np.bincount(v["owner"], minlength=n)) + 1
    v["spend"] = np.bincount(lines["visit"], weights=lines["amount"], minlength=len(v["owner"]))
    return {"first": first, "n": n, "traits": t, "visits": v, "offers": o, "lines": lines}


def generate_chunk(catalog: Catalog, start: int, stop: int) -> SyntheticChunk:
    """Customers ``start`` (inclusive) to ``stop`` (exclusive), 0-based; both must fall on
    block boundaries (multiples of :data:`BLOCK`, or ``stop == catalog.customers``)."""
    stop = min(stop, catalog.customers)
    if start % BLOCK or (stop % BLOCK and stop != catalog.customers) or start >= stop:
        raise ValueError(f"chunk [{start}, {stop}) does not fall on blocks of {BLOCK}")
    blocks = [_simulate_block(catalog, b) for b in range(start // BLOCK, -(-stop // BLOCK))]
    transactions, lines = frames.history_frames(catalog, blocks)
    return SyntheticChunk(
        customers=frames.customers_frame(catalog, blocks),
        transactions=transactions,
        lines=lines,
        offers=frames.offers_frame(catalog, blocks),
        truth=frames.truth_frame(catalog, blocks),
    )


def iter_chunks(catalog: Catalog, chunk_customers: int = 50_000) -> Iterator[SyntheticChunk]:
    """Every customer, ``chunk_customers`` (rounded up to whole blocks) at a time."""
    size = max(BLOCK, -(-chunk_customers // BLOCK) * BLOCK)
    for start in range(0, catalog.customers, size):
        yield generate_chunk(catalog, start, start + size)


def generate(
    customers: int,
    seed: int,
    weeks: int = 52,
    as_of: date = DEFAULT_AS_OF,
    *,
    chunk_customers: int = 50_000,
    time_zone: str = "Europe/Helsinki",
    params: ModelParams | None = None,
) -> SyntheticRetailer:
    """The whole synthetic retailer in memory (use :func:`iter_chunks` for big sizes).

    ``weeks`` of history end the day before ``as_of``; the same arguments always give the same
    frames, whatever ``chunk_customers``.
    """
    catalog = build_catalog(customers, seed, weeks, as_of, time_zone=time_zone, params=params)
    chunks = list(iter_chunks(catalog, chunk_customers))

    def cat(name: str) -> pd.DataFrame:
        frame = pd.concat([getattr(c, name) for c in chunks], ignore_index=True)
        for column in frame.columns:
            if (
                isinstance(frame[column].dtype, pd.CategoricalDtype)
                or frame[column].dtype == object
            ):
                frame[column] = frame[column].astype(str)
        return frame

    return SyntheticRetailer(
        stores=catalog.stores,
        products=catalog.products,
        bonus_types=catalog.bonus_types,
        customers=cat("customers"),
        transactions=cat("transactions"),
        lines=cat("lines"),
        offers=cat("offers"),
        truth=cat("truth"),
        catalog=catalog,
    )
