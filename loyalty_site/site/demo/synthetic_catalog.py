"""Parameters, catalogue and campaign schedule of the synthetic retailer (pure numpy / pandas).

Everything here depends only on ``(customers, seed, weeks, as_of)`` and comes from the random
stream ``default_rng([seed, 0])``; the customers themselves are simulated in ``synthetic.py``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class BonusSpec:
    """A bonus type offered in past campaigns, with its true effect.

    ``base_logit``: log-odds of redeeming at the first visit in the validity window for an
    average customer; ``uplift``: relative increase of the basket-lines mean during
    ``ModelParams.uplift_days`` after a redemption.
    """

    code: str
    name: str
    kind: str
    base_logit: float
    uplift: float


BONUS_TYPES: tuple[BonusSpec, ...] = (
    BonusSpec("pct-10", "10 % off the basket", "percent_discount", -1.0, 0.10),
    BonusSpec("amount-5", "5 off a basket of 40", "amount_discount", -1.5, 0.15),
    BonusSpec("points-x3", "Triple loyalty points", "points_multiplier", -2.0, 0.05),
    BonusSpec("free-coffee", "Free coffee", "free_product", -0.5, 0.08),
)

#: (category, share of line choices for an average customer, median shelf price)
CATEGORIES: tuple[tuple[str, float, float], ...] = (
    ("Fruit & vegetables", 0.14, 2.2),
    ("Dairy", 0.12, 1.8),
    ("Bakery", 0.08, 2.5),
    ("Meat", 0.08, 6.5),
    ("Fish", 0.03, 8.0),
    ("Frozen", 0.06, 3.5),
    ("Drinks", 0.08, 2.0),
    ("Snacks", 0.07, 2.3),
    ("Confectionery", 0.05, 1.9),
    ("Pantry", 0.09, 2.1),
    ("Breakfast", 0.04, 3.2),
    ("Ready meals", 0.04, 4.5),
    ("Household", 0.04, 3.9),
    ("Personal care", 0.03, 4.2),
    ("Baby", 0.01, 6.0),
    ("Pet", 0.02, 4.8),
    ("Alcohol", 0.02, 9.0),
    ("Health", 0.01, 7.5),
)

#: Customers per random stream. Changing it changes the data of every seed.
BLOCK = 1000
#: Length of the future window summarised in the truth (weeks after as_of, never written).
FUTURE_WEEKS = 8
OPEN_HOUR, OPEN_HOURS = 8, 14  # visits fall between 08:00 and 22:00 local time

BRANDS = ("Own label", "Nordic Farms", "Greenfield", "Bright", "Aurora", "Baltic", "Golden Mill")
REGIONS = ("North", "South", "East", "West", "Central")


@dataclass(frozen=True)
class ModelParams:
    """Knobs of the generative model (docs/synthetic-data.md explains each)."""

    rate_shape: float = 0.9  # visits per week while alive ~ Gamma(shape, scale): mean 0.27
    rate_scale: float = 0.3
    dropout_a: float = 1.0  # dropout chance after each purchase ~ Beta(a, b): mean 0.036
    dropout_b: float = 27.0
    enrol_years: float = 3.0  # enrolment uniform over this many years before as_of
    lines_mean: float = 3.0  # basket lines of a spend-level-1, 2-person household
    spend_shape: float = 3.0  # spend level ~ Gamma(shape, 1 / shape): mean 1
    category_concentration: float = 4.0  # Dirichlet(concentration * category shares)
    extra_units_mean: float = 0.3  # quantity = 1 + Poisson(extra_units_mean)
    promo_line_share: float = 0.12
    promo_depths: tuple[float, ...] = (0.1, 0.2, 0.3)
    home_store_share: float = 0.85
    responsiveness_sd: float = 1.0  # shared log-odds shift of a customer for every bonus type
    response_type_sd: float = 0.5  # extra log-odds per customer and bonus type
    uplift_days: float = 28.0
    campaign_every_days: int = 28
    offer_valid_days: int = 14
    campaign_reach: tuple[float, float] = (0.15, 0.35)
    household_size_p: tuple[float, ...] = (0.28, 0.34, 0.15, 0.14, 0.09)
    age_bands: tuple[str, ...] = ("18-24", "25-34", "35-44", "45-54", "55-64", "65+")
    age_p: tuple[float, ...] = (0.08, 0.18, 0.20, 0.20, 0.17, 0.17)
    income_bands: tuple[str, ...] = ("Under 25K", "25-49K", "50-74K", "75-99K", "100-149K", "150K+")
    income_p: tuple[float, ...] = (0.15, 0.25, 0.24, 0.16, 0.13, 0.07)
    demographics_missing: float = 0.35
    consent_share: float = 0.8
    products: int = 3000
    stores: int | None = None  # default: customers // 5000, between 3 and 300


@dataclass(frozen=True, eq=False)
class Catalog:
    """Stores, products, bonus types and the campaign schedule, plus lookup arrays."""

    customers: int
    seed: int
    weeks: int
    as_of: date
    time_zone: str
    params: ModelParams
    stores: pd.DataFrame
    products: pd.DataFrame
    bonus_types: pd.DataFrame
    campaigns: pd.DataFrame
    category_shares: np.ndarray = field(repr=False)
    prices: np.ndarray = field(repr=False)
    category_line_values: np.ndarray = field(repr=False)
    bonus_base_logits: np.ndarray = field(repr=False)
    bonus_uplifts: np.ndarray = field(repr=False)
    _pick_keys: np.ndarray = field(repr=False)
    _category_last: np.ndarray = field(repr=False)

    @property
    def category_names(self) -> tuple[str, ...]:
        """Category names, in category-index order."""
        return tuple(name for name, _, _ in CATEGORIES)

    @property
    def n_stores(self) -> int:
        """Number of stores."""
        return len(self.stores)

    def pick_products(self, category: np.ndarray, u: np.ndarray) -> np.ndarray:
        """Product index for each line of ``category`` drawn by popularity, from uniforms ``u``."""
        index = np.searchsorted(self._pick_keys, category + u, side="right")
        return np.minimum(index, self._category_last[category])

    def campaign_arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(send day, last valid day, bonus type index, reach) per campaign."""
        c = self.campaigns
        return (
            c["sent_day"].to_numpy(dtype=float),
            c["valid_day"].to_numpy(dtype=float),
            c["bonus_type_index"].to_numpy(),
            c["reach"].to_numpy(),
        )


def _products(rng: np.random.Generator, params: ModelParams) -> tuple[pd.DataFrame, np.ndarray]:
    """Products grouped by category, and their popularity within the category (sums to 1)."""
    frames, popularity = [], []
    for c, (name, share, median) in enumerate(CATEGORIES):
        k = max(5, round(params.products * share))
        weight = 1.0 / rng.permutation(np.arange(1, k + 1)) ** 1.1
        price = np.maximum(np.round(median * rng.lognormal(0.0, 0.4, k), 2), 0.25)
        margin = rng.uniform(0.18, 0.45, k)
        brand = rng.choice(len(BRANDS), k)
        frames.append(
            pd.DataFrame(
                {
                    "category_index": c,
                    "name": [f"{name} {i + 1}" for i in range(k)],
                    "category": name,
                    "brand": [BRANDS[b] for b in brand],
                    "unit_cost": np.round(price * (1 - margin), 2),
                    "price": price,
                }
            )
        )
        popularity.append(weight / weight.sum())
    products = pd.concat(frames, ignore_index=True)
    products.insert(0, "sku", [f"P{i + 1:05d}" for i in range(len(products))])
    return products, np.concatenate(popularity)


def _campaigns(rng: np.random.Generator, params: ModelParams, weeks: int) -> pd.DataFrame:
    """Campaigns every ``campaign_every_days`` from a week into the history, all ending before
    ``as_of``; bonus types in shuffled rounds so each is offered about equally often."""
    sent = np.arange(-7 * weeks + 7, -params.offer_valid_days + 1, params.campaign_every_days)
    rounds = -(-len(sent) // len(BONUS_TYPES))
    kinds = np.concatenate([rng.permutation(len(BONUS_TYPES)) for _ in range(max(rounds, 1))])
    return pd.DataFrame(
        {
            "campaign": [f"K{i + 1:02d}" for i in range(len(sent))],
            "bonus_type_index": kinds[: len(sent)],
            "bonus_type": [BONUS_TYPES[k].code for k in kinds[: len(sent)]],
            "sent_day": sent,
            "valid_day": sent + params.offer_valid_days - 1,
            "reach": rng.uniform(*params.campaign_reach, len(sent)),
        }
    )


def build_catalog(
    customers: int,
    seed: int,
    weeks: int,
    as_of: date,
    *,
    time_zone: str = "Europe/Helsinki",
    params: ModelParams | None = None,
) -> Catalog:
    """The retailer-level part of the synthetic data (see module docstring)."""
    if customers < 1 or weeks < 1:
        raise ValueError("customers and weeks must be positive")
    params = params or ModelParams()
    rng = np.random.default_rng([seed, 0])
    n_stores = params.stores or int(np.clip(customers // 5000, 3, 300))
    stores = pd.DataFrame(
        {
            "store_id": [f"S{i + 1:03d}" for i in range(n_stores)],
            "name": [f"Store {i + 1:03d}" for i in range(n_stores)],
            "region": [REGIONS[r] for r in rng.choice(len(REGIONS), n_stores)],
        }
    )
    products, popularity = _products(rng, params)
    campaigns = _campaigns(rng, params, weeks)
    category = products["category_index"].to_numpy()
    prices = products["price"].to_numpy(dtype=float)
    per_line = prices * (1 + params.extra_units_mean)
    per_line *= 1 - params.promo_line_share * float(np.mean(params.promo_depths))
    line_values = np.bincount(category, weights=popularity * per_line, minlength=len(CATEGORIES))
    within = np.concatenate([np.cumsum(popularity[category == c]) for c in range(len(CATEGORIES))])
    bonus_types = pd.DataFrame(
        {
            "code": [b.code for b in BONUS_TYPES],
            "name": [b.name for b in BONUS_TYPES],
            "kind": [b.kind for b in BONUS_TYPES],
            "is_active": True,
            "description": "Synthetic bonus type (generate_retailer).",
            # Terms for allocation: 10 %, 5.00 off, 3x points, a coffee costing 1.20.
            "face_value": [10.0, 5.0, 3.0, 0.0],
            "redemption_cost": [None, None, None, 1.20],
        }
    )
    shares = np.array([share for _, share, _ in CATEGORIES])
    return Catalog(
        customers=customers,
        seed=seed,
        weeks=weeks,
        as_of=as_of,
        time_zone=time_zone,
        params=params,
        stores=stores,
        products=products.drop(columns="category_index"),
        bonus_types=bonus_types,
        campaigns=campaigns,
        category_shares=shares / shares.sum(),
        prices=prices,
        category_line_values=line_values,
        bonus_base_logits=np.array([b.base_logit for b in BONUS_TYPES]),
        bonus_uplifts=np.array([b.uplift for b in BONUS_TYPES]),
        _pick_keys=category + within,
        _category_last=np.cumsum(np.bincount(category, minlength=len(CATEGORIES))) - 1,
    )
