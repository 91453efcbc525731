"""Writers shared by ``load_demo`` and ``generate_retailer``.

Frames arrive in the import contract's shape (natural keys: ``store_id``, ``sku``,
``customer_id``, ``transaction_id``, bonus type ``code``) and go to the database through
:func:`loyalty_site.bulk.insert_frame` (COPY on PostgreSQL), natural keys resolved with one query
per batch. No row-by-row ORM saves, except for the handful of demo users.

Callers wrap each phase in ``transaction.atomic``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.db import models, transaction
from django.db.models import Max
from django.utils import timezone

from campaigns.models import BonusType, PastOffer
from customers.models import Customer, Transaction, TransactionLine
from loyalty_site.bulk import id_map, insert_frame
from loyalty_site.site.demo.purge import retailer_purge
from retailers.exceptions import DemoRetailerConflict
from retailers.models import (
    CompetitorPrice,
    InventoryLevel,
    Membership,
    Product,
    PromotionHistory,
    Retailer,
    Role,
    Store,
)

DEMO_PASSWORD = "demo-loyalty-2026"  # noqa: S105 - documented demo credential, overridable


@dataclass
class PhaseTimer:
    """Times named phases and reports each as it ends (``report`` gets one line)."""

    report: Callable[[str], None] = lambda line: None
    timings: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        """Time the ``with`` block as phase ``name`` (repeated names add up)."""
        start = time.perf_counter()
        yield
        elapsed = time.perf_counter() - start
        self.timings[name] = self.timings.get(name, 0.0) + elapsed
        self.report(f"  {name:<28} {elapsed:7.1f} s")

    @property
    def total(self) -> float:
        """Seconds over all phases."""
        return sum(self.timings.values())

    @contextmanager
    def writing(self, name: str) -> Iterator[None]:
        """A timed write phase: one transaction."""
        with self.phase(name), transaction.atomic():
            yield


def retailer_check_replaceable(slug: str) -> None:
    """Raise :class:`DemoRetailerConflict` when ``slug`` belongs to a retailer that is not a
    demo (checked before any slow work, and again when replacing)."""
    if Retailer.objects.filter(slug=slug, is_demo=False).exists():
        raise DemoRetailerConflict(f"retailer {slug!r} exists and is not a demo: not replacing")


def retailer_replace(*, slug: str, name: str, currency: str, time_zone: str) -> Retailer:
    """A new, empty demo retailer ``slug``, after purging the old one of that slug.

    Raises:
        DemoRetailerConflict: ``slug`` belongs to a retailer that is not a demo.
    """
    old = Retailer.objects.filter(slug=slug).first()
    if old is not None:
        if not old.is_demo:
            raise DemoRetailerConflict(f"retailer {slug!r} exists and is not a demo: not replacing")
        retailer_purge(old)
    retailer = Retailer(slug=slug, name=name, currency=currency, time_zone=time_zone, is_demo=True)
    retailer.full_clean()
    retailer.save()
    return retailer


def _max_pk(model: type[models.Model]) -> int:
    return model._default_manager.aggregate(m=Max("pk"))["m"] or 0


def _insert(model: type[models.Model], frame: pd.DataFrame) -> int:
    """``insert_frame`` of ``frame`` into ``model``."""
    return insert_frame(model, frame)


def _insert_mapped(
    model: type[models.Model], retailer: Retailer, frame: pd.DataFrame, key: str
) -> dict[str, int]:
    """Insert ``frame`` and return ``{key: pk}`` of the rows just inserted (one range query)."""
    before = _max_pk(model)
    _insert(model, frame)
    return id_map(model._default_manager.filter(retailer=retailer, pk__gt=before), key)


def _resolve(values: pd.Series, ids: dict[str, int], what: str) -> pd.Series:
    """Natural keys -> primary keys; a key not in ``ids`` is a bug in the caller's frames."""
    out = values.map(ids)
    if out.isna().any():
        missing = values[out.isna()].iloc[0]
        raise ValueError(f"unknown {what} {missing!r}")
    return out.astype("int64")


def _in_key_order(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Rows sorted by ``keys`` (foreign key ids first): index inserts then append instead of
    landing at random pages (B-tree pages stay hot in the cache for millions of rows)."""
    return frame.sort_values(keys, kind="stable", ignore_index=True)


def _timestamps_text(stamps: pd.Series) -> np.ndarray:
    """Aware timestamps -> UTC text as PostgreSQL takes it (``...+00:00``), vectorised: pandas
    formats aware timestamps one zoneinfo lookup at a time (about 90 µs per row here)."""
    utc = stamps.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy("datetime64[us]")
    return np.char.add(np.datetime_as_string(utc, unit="us"), "+00:00")


def _iso(dates: pd.Series) -> pd.Series:
    """datetime64 dates -> 'YYYY-MM-DD' text (NaT stays missing -> NULL)."""
    return pd.to_datetime(dates).dt.strftime("%Y-%m-%d")


def write_stores(retailer: Retailer, stores: pd.DataFrame) -> dict[str, int]:
    """``stores``: store_id, name, region. Returns {store_id: pk}."""
    frame = pd.DataFrame(
        {
            "retailer_id": retailer.pk,
            "external_id": stores["store_id"].to_numpy(),
            "name": stores["name"].to_numpy(),
            "region": stores["region"].to_numpy(),
        }
    )
    return _insert_mapped(Store, retailer, frame, "external_id")


def write_products(retailer: Retailer, products: pd.DataFrame) -> dict[str, int]:
    """``products``: sku, name, category, brand, unit_cost, price. Returns {sku: pk}."""
    frame = products[["sku", "name", "category", "brand", "unit_cost", "price"]].copy()
    frame.insert(0, "retailer_id", retailer.pk)
    return _insert_mapped(Product, retailer, frame, "sku")


def write_customers(retailer: Retailer, customers: pd.DataFrame) -> dict[str, int]:
    """``customers``: customer_id, enrolled_on, age_band, income_band, household_size, email,
    marketing_consent. Returns {customer_id: pk}."""
    frame = pd.DataFrame(
        {
            "retailer_id": retailer.pk,
            "external_id": customers["customer_id"].to_numpy(),
            "enrolled_on": _iso(customers["enrolled_on"]).to_numpy(),
            "age_band": customers["age_band"].to_numpy(),
            "income_band": customers["income_band"].to_numpy(),
            "household_size": pd.array(customers["household_size"], dtype="Int64"),
            "email": customers["email"].to_numpy(),
            "marketing_consent": customers["marketing_consent"].to_numpy(),
            "created_at": timezone.now(),
        }
    )
    return _insert_mapped(Customer, retailer, frame, "external_id")


def write_transactions(
    retailer: Retailer,
    transactions: pd.DataFrame,
    lines: pd.DataFrame,
    *,
    customer_ids: dict[str, int],
    store_ids: dict[str, int],
    product_ids: dict[str, int],
) -> tuple[int, int]:
    """Baskets then their lines; returns (transactions written, lines written).

    ``transactions``: transaction_id, customer_id, store_id, timestamp (aware).
    ``lines``: transaction_id, line_no, sku, quantity, amount, discount.
    """
    baskets = pd.DataFrame(
        {
            "retailer_id": retailer.pk,
            "external_id": transactions["transaction_id"].to_numpy(),
            "customer_id": _resolve(
                transactions["customer_id"], customer_ids, "customer"
            ).to_numpy(),
            "store_id": _resolve(transactions["store_id"], store_ids, "store").to_numpy(),
            "timestamp": _timestamps_text(transactions["timestamp"]),
        }
    )
    basket_ids = _insert_mapped(Transaction, retailer, baskets, "external_id")
    frame = pd.DataFrame(
        {
            "retailer_id": retailer.pk,
            "transaction_id": _resolve(
                lines["transaction_id"], basket_ids, "transaction"
            ).to_numpy(),
            "line_no": lines["line_no"].to_numpy(),
            "product_id": _resolve(lines["sku"], product_ids, "sku").to_numpy(),
            "quantity": lines["quantity"].to_numpy(),
            "amount": lines["amount"].to_numpy(),
            "discount": lines["discount"].to_numpy(),
        }
    )
    frame = _in_key_order(frame, ["transaction_id", "line_no"])
    return len(baskets), _insert(TransactionLine, frame)


def _with_field_defaults(model: type[models.Model], frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` plus a column for every concrete field it lacks, filled with the field's default.

    COPY and executemany bypass Django's defaults, and the database has none of its own.
    """
    out = frame.copy()
    for model_field in model._meta.concrete_fields:
        if model_field.primary_key or model_field.column in out.columns:
            continue
        # get_default() is also "" for text fields without a default.
        default = model_field.get_default()
        if isinstance(model_field, models.JSONField):
            default = json.dumps(default)
        out[model_field.column] = default
    return out


def write_bonus_types(retailer: Retailer, bonus_types: pd.DataFrame) -> dict[str, int]:
    """``bonus_types``: code, name, kind, is_active, description and optionally any other
    :class:`BonusType` column (face_value, validity_days, ...). Returns {code: pk}."""
    frame = bonus_types.copy()
    frame.insert(0, "retailer_id", retailer.pk)
    return _insert_mapped(BonusType, retailer, _with_field_defaults(BonusType, frame), "code")


def write_past_offers(
    retailer: Retailer,
    offers: pd.DataFrame,
    *,
    customer_ids: dict[str, int],
    bonus_type_ids: dict[str, int],
) -> int:
    """``offers``: offer_id, customer_id, bonus_type (code), sent_on, valid_until, redeemed_on."""
    frame = pd.DataFrame(
        {
            "retailer_id": retailer.pk,
            "external_id": offers["offer_id"].to_numpy(),
            "customer_id": _resolve(offers["customer_id"], customer_ids, "customer").to_numpy(),
            "bonus_type_id": _resolve(
                offers["bonus_type"], bonus_type_ids, "bonus type"
            ).to_numpy(),
            "sent_on": _iso(offers["sent_on"]).to_numpy(),
            "valid_until": _iso(offers["valid_until"]).to_numpy(),
            "redeemed_on": _iso(offers["redeemed_on"]).to_numpy(),
        }
    )
    return _insert(PastOffer, frame)


def write_promotion_history(
    retailer: Retailer, history: pd.DataFrame, *, product_ids: dict[str, int]
) -> int:
    """``history``: sku, week_start, display_stores, mailer_stores."""
    frame = pd.DataFrame(
        {
            "retailer_id": retailer.pk,
            "product_id": _resolve(history["sku"], product_ids, "sku").to_numpy(),
            "week_start": _iso(history["week_start"]).to_numpy(),
            "display_stores": history["display_stores"].to_numpy(),
            "mailer_stores": history["mailer_stores"].to_numpy(),
        }
    )
    return _insert(PromotionHistory, _in_key_order(frame, ["product_id", "week_start"]))


def write_inventory(
    retailer: Retailer,
    inventory: pd.DataFrame,
    *,
    product_ids: dict[str, int],
    store_ids: dict[str, int],
    is_synthetic: bool,
) -> int:
    """``inventory``: sku, store_id (missing = whole chain), date, on_hand."""
    store = inventory["store_id"].map(store_ids)
    unknown = inventory["store_id"].notna() & store.isna()
    if unknown.any():
        raise ValueError(f"unknown store {inventory['store_id'][unknown].iloc[0]!r}")
    frame = pd.DataFrame(
        {
            "retailer_id": retailer.pk,
            "product_id": _resolve(inventory["sku"], product_ids, "sku").to_numpy(),
            "store_id": pd.array(store, dtype="Int64"),
            "date": _iso(inventory["date"]).to_numpy(),
            "on_hand": inventory["on_hand"].to_numpy(),
            "is_synthetic": is_synthetic,
        }
    )
    return _insert(InventoryLevel, _in_key_order(frame, ["product_id", "store_id", "date"]))


def write_competitor_prices(
    retailer: Retailer, prices: pd.DataFrame, *, product_ids: dict[str, int], is_synthetic: bool
) -> int:
    """``prices``: sku, competitor, date, price."""
    frame = pd.DataFrame(
        {
            "retailer_id": retailer.pk,
            "product_id": _resolve(prices["sku"], product_ids, "sku").to_numpy(),
            "competitor": prices["competitor"].to_numpy(),
            "date": _iso(prices["date"]).to_numpy(),
            "price": prices["price"].to_numpy(),
            "is_synthetic": is_synthetic,
        }
    )
    frame = _in_key_order(frame, ["product_id", "competitor", "date"])
    return _insert(CompetitorPrice, frame)


def demo_users_ensure(*, retailer: Retailer, password: str, prefix: str = "demo") -> list[str]:
    """One staff user per role (``<prefix>-viewer`` ... ``<prefix>-admin``), each a member of
    ``retailer`` with that role and ``password``. Existing users of these names are updated
    (staff, active, password). Returns the usernames, least powerful first."""
    user_model = get_user_model()
    hashed = make_password(password)  # hashed once: the slow part, same password for all four
    names = []
    for role in Role.values:
        username = f"{prefix}-{role}"
        user = user_model.objects.filter(username=username).first() or user_model(username=username)
        user.is_staff = True
        user.is_active = True
        user.password = hashed
        user.save()
        Membership.objects.update_or_create(user=user, retailer=retailer, defaults={"role": role})
        names.append(username)
    return names
