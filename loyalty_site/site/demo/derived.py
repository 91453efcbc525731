"""Plausible inventory and competitor prices for the demo retailer, which the source data lacks.

Pure numpy / pandas, seeded: the same input and seed give the same rows. Everything made here is
written with ``is_synthetic=True`` (see docs/demo-data.md, "Synthetic additions").

Inventory: chain-level (no store) on-hand units on each of the last ``weeks`` Mondays of the
data, from the SKU's recent sales velocity (units per week over the last ``velocity_weeks``
weeks) times a random weeks-of-cover, plus a small presentation stock. A share of SKUs is
deliberately under-stocked (cover below half a week, no presentation stock), so that the
promotion selector has something to avoid.

Competitor prices: the top SKUs by revenue, at a few fictitious competitors, weekly on the same
Mondays, around our regular price: a competitor-wide price level, a per-SKU deviation and
occasional promotion weeks.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

DEMO_SEED = 8451

#: name -> (price level relative to ours, per-SKU spread (sd of log ratio), promo-week share)
COMPETITORS: dict[str, tuple[float, float, float]] = {
    "ValueMart": (0.95, 0.06, 0.08),
    "FreshCo": (1.04, 0.05, 0.12),
    "CornerMarket": (1.09, 0.07, 0.05),
}


@dataclass(frozen=True)
class SyntheticOptions:
    """Knobs of the demo's synthetic additions (defaults are the documented ones)."""

    seed: int = DEMO_SEED
    weeks: int = 8
    velocity_weeks: int = 13
    understocked_share: float = 0.08
    presentation_units: int = 2
    top_products: int = 3000
    top_share: float = 0.25  # ... but at most this share of the priced catalogue (small slices)


def weekly_dates(transactions: pd.DataFrame, weeks: int) -> pd.DatetimeIndex:
    """The last ``weeks`` Mondays up to the week of the latest ``timestamp`` (local dates)."""
    last = transactions["timestamp"].max().tz_localize(None).normalize()
    last_monday = last - pd.Timedelta(days=last.weekday())
    return pd.DatetimeIndex([last_monday - pd.Timedelta(weeks=k) for k in range(weeks - 1, -1, -1)])


def _line_dates(transactions: pd.DataFrame, lines: pd.DataFrame) -> pd.Series:
    """Local date of every line's basket."""
    day = transactions.set_index("transaction_id")["timestamp"].dt.tz_localize(None).dt.normalize()
    return lines["transaction_id"].map(day)


def derive_inventory(
    transactions: pd.DataFrame, lines: pd.DataFrame, options: SyntheticOptions | None = None
) -> tuple[pd.DataFrame, dict[str, int]]:
    """Chain-level weekly on-hand units of every SKU sold in the last ``velocity_weeks`` weeks.

    ``transactions``: transaction_id, timestamp (aware). ``lines``: transaction_id, sku,
    quantity. On each date: ``on_hand = round(velocity * cover * noise) + presentation`` where
    ``cover ~ Gamma(4, 0.75)`` weeks (mean 3) per SKU, ``noise ~ LogNormal(0, 0.25)`` per week;
    under-stocked SKUs get ``cover ~ U(0, 0.5)`` and no presentation stock.
    Returns (sku, store_id (None = chain), date, on_hand; counts).
    """
    options = options or SyntheticOptions()
    rng = np.random.default_rng([options.seed, 1])
    dates = weekly_dates(transactions, options.weeks)
    since = dates[-1] + pd.Timedelta(weeks=1) - pd.Timedelta(weeks=options.velocity_weeks)
    recent = lines[(_line_dates(transactions, lines) >= since).to_numpy()]
    units = recent.groupby("sku")["quantity"].sum()
    units = units[units > 0].sort_index()
    velocity = units.to_numpy(dtype=float) / options.velocity_weeks
    n = len(units)
    under = rng.random(n) < options.understocked_share
    cover = np.where(under, rng.uniform(0.0, 0.5, n), rng.gamma(4.0, 0.75, n))
    noise = rng.lognormal(0.0, 0.25, (n, len(dates)))
    base = np.where(under, 0, options.presentation_units)[:, None]
    on_hand = np.round(velocity[:, None] * cover[:, None] * noise) + base
    on_hand = np.clip(on_hand, 0, 2**31 - 1).astype(np.int64)
    frame = pd.DataFrame(
        {
            "sku": np.repeat(units.index.to_numpy(), len(dates)),
            "store_id": None,
            "date": np.tile(dates.to_numpy(), n),
            "on_hand": on_hand.ravel(),
        }
    )
    counts = {
        "inventory_products": n,
        "inventory_understocked_products": int(under.sum()),
        "inventory_levels": len(frame),
    }
    return frame, counts


def derive_competitor_prices(
    transactions: pd.DataFrame,
    lines: pd.DataFrame,
    products: pd.DataFrame,
    options: SyntheticOptions | None = None,
) -> pd.DataFrame:
    """Weekly prices of :data:`COMPETITORS` for the ``top_products`` SKUs by revenue (at most
    ``top_share`` of the SKUs with a price).

    ``lines``: sku, amount. ``products``: sku, price (only SKUs with a positive price take
    part). ``price = our price * level * exp(N(0, spread)) * (0.7..0.85 in promo weeks)``,
    rounded to cents (at least 0.01). Returns sku, competitor, date, price.
    """
    options = options or SyntheticOptions()
    rng = np.random.default_rng([options.seed, 2])
    dates = weekly_dates(transactions, options.weeks)
    priced = products.loc[products["price"] > 0, ["sku", "price"]].set_index("sku")["price"]
    revenue = lines.groupby("sku")["amount"].sum().reindex(priced.index).fillna(0.0)
    n_top = min(options.top_products, max(1, int(len(priced) * options.top_share)))
    top = revenue.sort_values(ascending=False, kind="stable").index[:n_top]
    top = top.sort_values()
    ours = priced.reindex(top).to_numpy(dtype=float)
    frames = []
    for name, (level, spread, promo_share) in COMPETITORS.items():
        ratio = level * np.exp(rng.normal(0.0, spread, len(top)))
        promo = rng.random((len(top), len(dates))) < promo_share
        depth = np.where(promo, rng.uniform(0.70, 0.85, promo.shape), 1.0)
        price = np.maximum(np.round(ours[:, None] * ratio[:, None] * depth, 2), 0.01)
        frames.append(
            pd.DataFrame(
                {
                    "sku": np.repeat(top.to_numpy(), len(dates)),
                    "competitor": name,
                    "date": np.tile(dates.to_numpy(), len(top)),
                    "price": price.ravel(),
                }
            )
        )
    return pd.concat(frames, ignore_index=True)
