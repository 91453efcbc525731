"""``demo_load``: the Complete Journey demo retailer, written phase by phase.

Reads the parquet files (only the columns used), turns them into contract frames with the pure
functions of :mod:`loyalty_site.site.demo.completejourney` and
:mod:`loyalty_site.site.demo.derived`, and writes them
through the bulk path, one ``transaction.atomic`` per phase. The mapping is documented in
docs/demo-data.md.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from campaigns.models import BonusKind, BonusType, PastOffer, SupplierBudget
from customers.models import Customer, PointsEntry, Transaction, TransactionLine
from loyalty_site.site.demo import completejourney as cj
from loyalty_site.site.demo import completejourney_files as files
from loyalty_site.site.demo import derived, timeshift
from loyalty_site.site.demo.dbtuning import analyze
from loyalty_site.site.demo.ledger import write_points_ledger
from loyalty_site.site.demo.writing import (
    DEMO_PASSWORD,
    PhaseTimer,
    demo_users_ensure,
    retailer_check_replaceable,
    retailer_replace,
    write_bonus_types,
    write_competitor_prices,
    write_customers,
    write_inventory,
    write_past_offers,
    write_products,
    write_promotion_history,
    write_stores,
    write_transactions,
)
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

DEMO_SLUG = "demo"
DEMO_NAME = "Complete Journey demo"
DEMO_CURRENCY = "USD"
#: The demo's personalised product offer (``_product_offer_catalogue``).
DEMO_PRODUCT_OFFER = "product-20"
LOADED_MODELS = (
    Store,
    Product,
    Customer,
    Transaction,
    TransactionLine,
    BonusType,
    PastOffer,
    PromotionHistory,
    InventoryLevel,
    CompetitorPrice,
    PointsEntry,
)


@dataclass(frozen=True)
class DemoLoadResult:
    """What ``demo_load`` did: rows written (and dropped) by kind, seconds per phase."""

    slug: str
    counts: dict[str, int] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    usernames: list[str] = field(default_factory=list)
    skipped: bool = False
    #: Weeks every date was moved by, and the original data's last day (``None`` when skipped).
    shift_weeks: int = 0
    source_end: dt.date | None = None
    end: dt.date | None = None


def demo_is_loaded(slug: str = DEMO_SLUG) -> bool:
    """True when demo retailer ``slug`` exists and its last phase (staff users) has run."""
    retailer = Retailer.objects.filter(slug=slug, is_demo=True).first()
    if retailer is None:
        return False
    return Membership.objects.filter(retailer=retailer).count() >= len(Role.values)


def demo_load(
    *,
    slug: str = DEMO_SLUG,
    households: int | None = None,
    promotions: bool = True,
    password: str = DEMO_PASSWORD,
    if_missing: bool = False,
    shift_dates: bool = True,
    today: dt.date | None = None,
    report: Callable[[str], None] | None = None,
) -> DemoLoadResult:
    """Create (or replace) the Complete Journey demo retailer ``slug``.

    Args:
        households: only the ``households`` smallest household ids (a deterministic slice for
            tests and quick tries); all 2,469 households with transactions when ``None``.
        promotions: aggregate the 20.9-million-row display/mailer table into
            ``PromotionHistory`` (the slowest phase).
        password: of the four demo staff users (``demo-viewer`` ... ``demo-admin``).
        if_missing: do nothing when the demo retailer is already fully loaded.
        shift_dates: move every date by whole weeks so that the data's last day falls in the
            latest complete week before ``today`` (``loyalty_site.site.demo.timeshift``); ``False``
            keeps the original 2017 calendar.
        today: the retailer's local date the shift aims at (default: now in its time zone).
        report: called with one line per finished phase.

    Raises:
        DemoRetailerConflict: ``slug`` belongs to a retailer that is not a demo.
    """
    if if_missing and demo_is_loaded(slug):
        return DemoLoadResult(slug=slug, skipped=True)
    retailer_check_replaceable(slug)
    if shift_dates and today is None:
        today = timezone.now().astimezone(zoneinfo.ZoneInfo(cj.RETAILER_TIME_ZONE)).date()
    return _load(
        slug=slug,
        households=households,
        promotions=promotions,
        password=password,
        today=today if shift_dates else None,
        timer=PhaseTimer(report or (lambda line: None)),
    )


def _product_offer_catalogue(retailer: Retailer) -> None:
    """A personalised product offer for the demo (docs/personalised-offers.md): 20 % off any
    recommended product, half funded by its brand ("National" brands, capped at 250.00 a
    campaign; the retailer's "Private" label funds nothing beyond its share)."""
    BonusType.objects.create(
        retailer=retailer,
        code=DEMO_PRODUCT_OFFER,
        name="20 % off a product picked for you",
        kind=BonusKind.PRODUCT_OFFER,
        is_active=True,
        face_value=Decimal("20.00"),
        validity_days=7,
        supplier_share=Decimal("0.500"),
        description="Personalised product offer; the supplier is the product's brand.",
    )
    SupplierBudget.objects.create(retailer=retailer, supplier="National", budget=Decimal("250.00"))


def _load(
    *,
    slug: str,
    households: int | None,
    promotions: bool,
    password: str,
    today: dt.date | None,
    timer: PhaseTimer,
) -> DemoLoadResult:
    """The phases of :func:`demo_load`; ``today`` ``None`` keeps the original dates."""
    with timer.phase("read source"):
        raw = files.read_tables(households)
    with timer.phase("transform"):
        source_end = timeshift.source_last_day(raw)
        # The demo retailer keeps the default week start (Monday), the data's own weeks.
        weeks = timeshift.shift_weeks_for(source_end, today) if today else 0
        raw = timeshift.shift_raw_tables(raw, weeks)
        transactions, lines, counts = cj.build_transactions(raw.transactions)
        week_one = cj.week_one_monday(raw.transactions)
        stores = cj.build_stores(transactions)
        products = cj.build_products(raw.products, lines)
        customers = cj.build_customers(
            raw.transactions, raw.demographics, raw.campaigns, raw.campaign_descriptions
        )
        bonus_types = cj.build_bonus_types(raw.campaign_descriptions)
        offers, offer_counts = cj.build_past_offers(
            raw.campaigns,
            raw.campaign_descriptions,
            raw.coupon_redemptions,
            customers["customer_id"],
        )
        counts.update(offer_counts)
        del raw
    with timer.phase("replace retailer"), transaction.atomic():
        retailer = retailer_replace(
            slug=slug, name=DEMO_NAME, currency=DEMO_CURRENCY, time_zone=cj.RETAILER_TIME_ZONE
        )
        retailer.demo_shift_weeks, retailer.demo_source_end = weeks, source_end
        retailer.excluded_categories = "\n".join(cj.NON_MERCHANDISE_CATEGORIES)
        retailer.save(update_fields=["demo_shift_weeks", "demo_source_end", "excluded_categories"])
    with timer.writing("stores, products"):
        store_ids = write_stores(retailer, stores)
        product_ids = write_products(retailer, products)
    with timer.writing("customers"):
        customer_ids = write_customers(retailer, customers)
    with timer.writing("transactions"):
        write_transactions(
            retailer,
            transactions,
            lines,
            customer_ids=customer_ids,
            store_ids=store_ids,
            product_ids=product_ids,
        )
    with timer.writing("points ledger"):
        # Valid on the day the demo is loaded, not only on its data's last day: the data end up to
        # a fortnight before today, and points earned in those days would expire at once.
        data_end = source_end + dt.timedelta(weeks=weeks)
        counts["points_entries"] = write_points_ledger(
            retailer, as_of=max(data_end, today) if today else data_end
        )
    with timer.writing("offers"):
        bonus_ids = write_bonus_types(retailer, bonus_types)
        write_past_offers(retailer, offers, customer_ids=customer_ids, bonus_type_ids=bonus_ids)
        _product_offer_catalogue(retailer)
    counts.update(
        stores=len(store_ids),
        products=len(product_ids),
        customers=len(customer_ids),
        bonus_types=len(bonus_ids),
    )
    if promotions:
        with timer.phase("promotions: read, aggregate"):
            history, promo_counts = cj.aggregate_promotions(
                files.read_promotions(), week_one_monday=week_one, skus=products["sku"]
            )
        with timer.writing("promotions: write"):
            write_promotion_history(retailer, history, product_ids=product_ids)
        counts.update(promo_counts)
        del history
    with timer.phase("inventory, prices: derive"):
        inventory, inventory_counts = derived.derive_inventory(transactions, lines)
        prices = derived.derive_competitor_prices(transactions, lines, products)
    with timer.writing("inventory, prices: write"):
        write_inventory(
            retailer, inventory, product_ids=product_ids, store_ids=store_ids, is_synthetic=True
        )
        write_competitor_prices(retailer, prices, product_ids=product_ids, is_synthetic=True)
    counts.update(inventory_counts, competitor_prices=len(prices))
    with timer.writing("staff users"):
        usernames = demo_users_ensure(retailer=retailer, password=password)
    with timer.phase("statistics (ANALYZE)"):
        analyze(LOADED_MODELS)
    return DemoLoadResult(
        slug=slug,
        counts=counts,
        timings=dict(timer.timings),
        usernames=usernames,
        shift_weeks=weeks,
        source_end=source_end,
        end=source_end + dt.timedelta(weeks=weeks),
    )
