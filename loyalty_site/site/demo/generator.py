"""``synthetic_retailer_generate``: write a synthetic retailer chunk by chunk.

The data comes from the pure model in :mod:`loyalty_site.site.demo.synthetic`; this module only
writes it (one ``transaction.atomic`` per phase and per chunk of customers) and streams the truth to
CSV. Memory stays bounded by one chunk whatever the number of customers.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from django.db import connection, transaction

from campaigns.models import BonusType, PastOffer
from customers.models import Customer, Transaction, TransactionLine
from loyalty_site import safe_csv
from loyalty_site.site.demo import synthetic
from loyalty_site.site.demo.dbtuning import analyze
from loyalty_site.site.demo.writing import (
    PhaseTimer,
    retailer_check_replaceable,
    retailer_replace,
    write_bonus_types,
    write_customers,
    write_past_offers,
    write_products,
    write_stores,
    write_transactions,
)
from retailers.models import Product, Retailer, Store

SYNTHETIC_SLUG = "synthetic"
SYNTHETIC_CURRENCY = "EUR"
SYNTHETIC_TIME_ZONE = "Europe/Helsinki"


@dataclass(frozen=True)
class GenerateResult:
    """Rows written by kind and seconds per phase (generation and writing summed over chunks)."""

    slug: str
    counts: dict[str, int] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)


def synthetic_retailer_generate(
    *,
    customers: int,
    seed: int,
    weeks: int = 52,
    as_of: date = synthetic.DEFAULT_AS_OF,
    slug: str = SYNTHETIC_SLUG,
    chunk_customers: int = 50_000,
    truth_out: Path | None = None,
    workers: int = 2,
    report: Callable[[str], None] | None = None,
) -> GenerateResult:
    """Create (or replace) demo retailer ``slug`` with ``customers`` synthetic customers.

    ``weeks`` of history before ``as_of`` are written; the truth (latent parameters and the
    8-week future after ``as_of``, see docs/synthetic-data.md) goes to ``truth_out`` as CSV
    when given. The same ``seed`` (and sizes) always writes the same data. ``workers`` chunks
    are written concurrently, each in its own transaction and connection (the database does
    most of the work, so two writers use both cores); a caller's open transaction means one
    writer.

    Raises:
        DemoRetailerConflict: ``slug`` belongs to a retailer that is not a demo.
        ValueError: ``customers`` or ``weeks`` below 1.
    """
    say = report or (lambda line: None)
    retailer_check_replaceable(slug)
    catalog = synthetic.build_catalog(customers, seed, weeks, as_of, time_zone=SYNTHETIC_TIME_ZONE)
    timer = PhaseTimer(say)
    counts = {"customers": 0, "transactions": 0, "lines": 0, "offers": 0, "offers_redeemed": 0}
    with timer.phase("replace retailer"), transaction.atomic():
        retailer = retailer_replace(
            slug=slug,
            name=f"Synthetic retailer (seed {seed})",
            currency=SYNTHETIC_CURRENCY,
            time_zone=SYNTHETIC_TIME_ZONE,
        )
    with timer.writing("stores, products, bonus types"):
        store_ids = write_stores(retailer, catalog.stores)
        product_ids = write_products(retailer, catalog.products)
        bonus_ids = write_bonus_types(retailer, catalog.bonus_types)
    counts.update(stores=len(store_ids), products=len(product_ids), bonus_types=len(bonus_ids))
    with timer.phase("customers, baskets, offers"):
        counts.update(
            _write_chunks(
                retailer,
                synthetic.iter_chunks(catalog, chunk_customers),
                ids=(store_ids, product_ids, bonus_ids),
                workers=workers if _threads_can_write() else 1,
                truth_out=truth_out,
                progress=lambda n, lines, s: say(
                    f"  customers {n:>9,} / {customers:,}: lines {lines:,} ({s:.0f} s)"
                ),
            )
        )
    with timer.phase("statistics (ANALYZE)"):
        analyze([Store, Product, BonusType, Customer, Transaction, TransactionLine, PastOffer])
    return GenerateResult(slug=slug, counts=counts, timings=dict(timer.timings))


def _threads_can_write() -> bool:
    """Worker threads must see the retailer and catalogue: not when the caller runs us inside
    its own transaction (e.g. a test)."""
    return not connection.in_atomic_block


def _write_chunk(
    retailer: Retailer, chunk: synthetic.SyntheticChunk, ids: tuple[dict, dict, dict]
) -> dict[str, int]:
    """One chunk in one transaction (run in a worker thread: its own connection)."""
    store_ids, product_ids, bonus_ids = ids
    try:
        with transaction.atomic():
            customer_ids = write_customers(retailer, chunk.customers)
            n_tx, n_lines = write_transactions(
                retailer,
                chunk.transactions,
                chunk.lines,
                customer_ids=customer_ids,
                store_ids=store_ids,
                product_ids=product_ids,
            )
            n_offers = write_past_offers(
                retailer, chunk.offers, customer_ids=customer_ids, bonus_type_ids=bonus_ids
            )
    finally:
        if threading.current_thread() is not threading.main_thread():
            connection.close()
    return {
        "customers": len(customer_ids),
        "transactions": n_tx,
        "lines": n_lines,
        "offers": n_offers,
        "offers_redeemed": int(chunk.offers["redeemed_on"].notna().sum()),
    }


def _write_chunks(
    retailer: Retailer,
    chunks: Iterator[synthetic.SyntheticChunk],
    *,
    ids: tuple[dict, dict, dict],
    workers: int,
    truth_out: Path | None,
    progress: Callable[[int, int, float], None],
) -> dict[str, int]:
    """Write every chunk, ``workers`` transactions at a time (each chunk commits on its own);
    the truth is appended in customer order. At most ``workers + 1`` chunks are in memory."""
    start = time.perf_counter()
    totals = dict.fromkeys(("customers", "transactions", "lines", "offers", "offers_redeemed"), 0)
    if truth_out is not None:
        truth_out.parent.mkdir(parents=True, exist_ok=True)
        truth_out.unlink(missing_ok=True)

    def finish(chunk: synthetic.SyntheticChunk, written: dict[str, int]) -> None:
        if truth_out is not None:
            safe_csv.write_frame(
                chunk.truth, truth_out, mode="a", header=totals["customers"] == 0, index=False
            )
        for key, value in written.items():
            totals[key] += value
        progress(totals["customers"], totals["lines"], time.perf_counter() - start)

    if workers <= 1:
        for chunk in chunks:
            finish(chunk, _write_chunk(retailer, chunk, ids))
        return totals
    pending: deque[tuple[synthetic.SyntheticChunk, Future]] = deque()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for chunk in chunks:
            pending.append((chunk, pool.submit(_write_chunk, retailer, chunk, ids)))
            if len(pending) >= workers:
                done, future = pending.popleft()
                finish(done, future.result())
        while pending:
            done, future = pending.popleft()
            finish(done, future.result())
    return totals
