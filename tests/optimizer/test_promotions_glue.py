"""Weekly promotions glue: frames read from the ORM, runs end to end, schedules."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
from django.core.exceptions import ValidationError
from django_q.models import Schedule

from campaigns.models import AuditEntry, PromotionProposal, ProposalState
from campaigns.services.audit import audit_entries_for
from customers.models import Customer, Transaction, TransactionLine
from optimizer.frames.promotions import (
    inventory_frame,
    promotion_panel_read,
    reach_frame,
    recent_promotions_frame,
)
from optimizer.models import CustomerScore, PromotionRun
from optimizer.services import (
    PromotionRunAlreadyActive,
    promotion_default_week,
    promotion_run_create,
    promotion_run_execute,
    promotion_schedules_sync,
)
from optimizer.services.promotions import promotion_schedule_name
from optimizer.tasks import promotion_schedule_task
from retailers.models import (
    CompetitorPrice,
    InventoryLevel,
    Product,
    PromotionHistory,
    RunStatus,
    Store,
)
from tests.customers.factories import CustomerFactory, TransactionFactory, TransactionLineFactory
from tests.optimizer.factories import ScoringRunFactory
from tests.retailers.factories import ProductFactory, RetailerFactory, StoreFactory

pytestmark = pytest.mark.django_db

#: Monday after the hand-made history (its last day is the Sunday before).
WEEK = dt.date(2025, 6, 2)
FAST = {"max_iter": 30, "holiday_country": None, "backtest_weeks": 4, "retrain_every": 2}


@pytest.fixture
def promo_settings(settings):
    settings.PROMOTION_FORECAST_CONFIG = FAST
    settings.PROMOTION_SOLVER_TIME_LIMIT = 10
    return settings


def promo_tenant(retailer, *, weeks: int = 26, products: int = 12, seed: int = 0) -> list[Product]:
    """A small chain: 4 stores, 15 customers, ``products`` products in 3 categories sold every
    week before :data:`WEEK` (one unit per basket), promoted every sixth week (mailer in every
    store, display in half) with about 2.5 times the units; chain stock of 500 (product 0: 1
    unit), competitor prices; returns the products in SKU order."""
    rng = np.random.default_rng(seed)
    stores = Store.objects.bulk_create(
        Store(retailer=retailer, external_id=f"S{i}") for i in range(4)
    )
    people = Customer.objects.bulk_create(
        Customer(retailer=retailer, external_id=f"C{i:03d}", enrolled_on=dt.date(2024, 1, 1))
        for i in range(15)
    )
    items = Product.objects.bulk_create(
        Product(
            retailer=retailer,
            sku=f"P{p:02d}",
            name=f"Product {p}",
            category=f"cat{p % 3}",
            price=Decimal(f"{2 + p % 5}.00"),
            unit_cost=Decimal(f"{(2 + p % 5) * 0.5:.2f}"),
        )
        for p in range(products)
    )
    first = WEEK - dt.timedelta(weeks=weeks)
    txs, plan, promos = [], [], []
    for w in range(weeks):
        monday = first + dt.timedelta(weeks=w)
        for p, product in enumerate(items):
            promoted = (w + p) % 6 == 0
            if promoted:
                promos.append(
                    PromotionHistory(
                        retailer=retailer,
                        product=product,
                        week_start=monday,
                        display_stores=2,
                        mailer_stores=4,
                    )
                )
            for _ in range(int(rng.poisson((3 + p % 4) * (2.5 if promoted else 1.0)))):
                day = monday + dt.timedelta(days=int(rng.integers(0, 7)))
                when = dt.datetime.combine(day, dt.time(12), tzinfo=retailer.tz)
                txs.append(
                    Transaction(
                        retailer=retailer,
                        external_id=f"T{len(txs)}",
                        customer=people[int(rng.integers(0, len(people)))],
                        store=stores[int(rng.integers(0, len(stores)))],
                        timestamp=when,
                    )
                )
                plan.append((product, promoted))
    txs = Transaction.objects.bulk_create(txs)
    TransactionLine.objects.bulk_create(
        TransactionLine(
            retailer=retailer,
            transaction=tx,
            line_no=1,
            product=product,
            quantity=Decimal("1.000"),
            amount=product.price * (Decimal("0.75") if promoted else 1),
            discount=product.price * (Decimal("0.25") if promoted else 0),
        )
        for tx, (product, promoted) in zip(txs, plan, strict=True)
    )
    PromotionHistory.objects.bulk_create(promos)
    stock_day = WEEK - dt.timedelta(weeks=1)
    InventoryLevel.objects.bulk_create(
        InventoryLevel(retailer=retailer, product=p, date=stock_day, on_hand=1 if i == 0 else 500)
        for i, p in enumerate(items)
    )
    CompetitorPrice.objects.bulk_create(
        CompetitorPrice(
            retailer=retailer, product=p, competitor="Rival", date=stock_day, price=p.price
        )
        for p in items
    )
    return items


@pytest.fixture
def tenant(retailer, promo_settings):
    return promo_tenant(retailer)


# --- Frames ------------------------------------------------------------------------------------
def test_panel_buckets_weeks_in_the_retailer_time_zone_and_divides_shares_by_stores(retailer):
    # Europe/Helsinki is UTC+3 in June: Sunday 22:30 UTC is already Monday there.
    stores = StoreFactory.create_batch(4, retailer=retailer)
    store = stores[0]
    product = ProductFactory(retailer=retailer)
    alice, bob = CustomerFactory(retailer=retailer), CustomerFactory(retailer=retailer)
    sunday_local = dt.datetime(2025, 6, 1, 20, 0, tzinfo=dt.UTC)  # 23:00 Sunday in Helsinki
    monday_local = dt.datetime(2025, 6, 1, 22, 30, tzinfo=dt.UTC)  # 01:30 Monday in Helsinki
    for customer, when, quantity in (
        (alice, sunday_local, "2"),
        (bob, sunday_local, "1"),
        (alice, monday_local, "3"),
    ):
        tx = TransactionFactory(retailer=retailer, customer=customer, store=store, timestamp=when)
        TransactionLineFactory(
            transaction=tx,
            product=product,
            quantity=Decimal(quantity),
            amount=Decimal(quantity) * 2,
            discount=Decimal("0.50"),
        )
    returned = TransactionFactory(
        retailer=retailer, customer=bob, store=store, timestamp=sunday_local
    )
    TransactionLineFactory(
        transaction=returned, product=product, quantity=Decimal("-1"), amount=Decimal("-2")
    )
    PromotionHistory.objects.create(
        retailer=retailer,
        product=product,
        week_start=dt.date(2025, 5, 26),
        display_stores=1,
        mailer_stores=4,
    )
    panel = promotion_panel_read(
        retailer=retailer, since=dt.date(2025, 5, 19), before=dt.date(2025, 6, 9)
    )
    assert panel["week_start"].dt.date.tolist() == [dt.date(2025, 5, 26), dt.date(2025, 6, 2)]
    first, second = panel.iloc[0], panel.iloc[1]
    assert (first["units"], first["revenue"], first["discount"]) == (3.0, 6.0, 1.0)
    assert first["buyers"] == 2.0
    assert (first["display_share"], first["mailer_share"]) == (0.25, 1.0)
    assert (second["units"], second["buyers"], second["mailer_share"]) == (3.0, 1.0, 0.0)
    # Nothing at or after the cutoff (midnight local of ``before``) is read.
    early = promotion_panel_read(
        retailer=retailer, since=dt.date(2025, 5, 19), before=dt.date(2025, 6, 2)
    )
    assert early["units"].tolist() == [3.0]


def test_inventory_prefers_the_chain_row_else_sums_the_stores_latest(retailer):
    a, b = ProductFactory(retailer=retailer), ProductFactory(retailer=retailer)
    s1, s2 = StoreFactory(retailer=retailer), StoreFactory(retailer=retailer)
    rows = [
        (a, None, dt.date(2025, 5, 19), 10),
        (a, None, dt.date(2025, 5, 26), 7),
        (a, s1, dt.date(2025, 5, 26), 99),
        (b, s1, dt.date(2025, 5, 19), 4),
        (b, s1, dt.date(2025, 5, 26), 5),
        (b, s2, dt.date(2025, 5, 19), 6),
        (b, s2, dt.date(2025, 6, 9), 1000),  # after the week start: not counted
    ]
    for product, store, day, on_hand in rows:
        InventoryLevel.objects.create(
            retailer=retailer, product=product, store=store, date=day, on_hand=on_hand
        )
    frame = inventory_frame(retailer=retailer, week_start=dt.date(2025, 6, 2))
    assert dict(zip(frame["product_id"], frame["on_hand"], strict=True)) == {a.pk: 7, b.pk: 11}


def test_reach_counts_recent_buyers_of_the_target_segments(retailer):
    product = ProductFactory(retailer=retailer)
    loyal, lapsed = CustomerFactory(retailer=retailer), CustomerFactory(retailer=retailer)
    for customer in (loyal, lapsed):
        tx = TransactionFactory(
            retailer=retailer,
            customer=customer,
            timestamp=dt.datetime(2025, 5, 20, 12, tzinfo=dt.UTC),
        )
        TransactionLineFactory(transaction=tx, product=product)
    week = dt.date(2025, 6, 2)
    everyone, info = reach_frame(retailer=retailer, week_start=week)
    assert everyone["reach"].tolist() == [2]
    assert info["scoring_run"] is None
    none, _ = reach_frame(retailer=retailer, week_start=week, segments=["Loyal"])
    assert none.empty  # no scoring run: nobody is in a segment
    run = ScoringRunFactory(retailer=retailer, finished_at=dt.datetime(2025, 6, 1, tzinfo=dt.UTC))
    for customer, segment in ((loyal, "Loyal"), (lapsed, "Lapsed")):
        CustomerScore.objects.create(
            retailer=retailer,
            run=run,
            customer=customer,
            churn_probability=0,
            p_alive=1,
            expected_visits=1,
            expected_spend=1,
            clv=1,
            segment=segment,
            recency_days=1,
            frequency=1,
            frequency_52w=1,
            monetary_52w=1,
            avg_basket=1,
            tenure_days=1,
            discount_share=0,
            redemption_rate=0,
        )
    loyal_only, info = reach_frame(retailer=retailer, week_start=week, segments=["Loyal"])
    assert loyal_only["reach"].tolist() == [1]
    assert info["scoring_run"] == run.pk


def test_recent_promotions_are_the_items_of_approved_proposals(retailer, tenant):
    approved = PromotionProposal.objects.create(
        retailer=retailer, week_start=WEEK - dt.timedelta(weeks=1), state=ProposalState.APPROVED
    )
    rejected = PromotionProposal.objects.create(
        retailer=retailer, week_start=WEEK - dt.timedelta(weeks=2), state=ProposalState.REJECTED
    )
    for proposal, product in ((approved, tenant[1]), (rejected, tenant[2])):
        proposal.items.create(
            retailer=retailer,
            product=product,
            rank=1,
            baseline_units=1,
            promoted_units=2,
            lift=2,
            incremental_units=1,
        )
    frame = recent_promotions_frame(retailer=retailer, week_start=WEEK, weeks=4)
    assert frame["product_id"].tolist() == [tenant[1].pk]


# --- Runs --------------------------------------------------------------------------------------
def test_default_week_is_the_monday_after_the_latest_transaction_of_old_data(retailer, tenant):
    # The history ends on Sunday 2025-06-01; "today" is months later.
    later = dt.datetime(2025, 11, 5, 12, tzinfo=dt.UTC)
    assert promotion_default_week(retailer=retailer, now=later) == WEEK
    # With fresh data it is the Monday after today (Wednesday 2025-06-04 -> 2025-06-09).
    soon = dt.datetime(2025, 6, 4, 12, tzinfo=dt.UTC)
    assert promotion_default_week(retailer=retailer, now=soon) == dt.date(2025, 6, 9)


def test_proposal_run_end_to_end(retailer, tenant, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        run = promotion_run_create(retailer=retailer, week_start=WEEK, options={"k": 5})
    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED, run.error
    proposal = run.proposal
    assert proposal.state == ProposalState.PROPOSED
    assert proposal.week_start == WEEK
    items = list(proposal.items.select_related("product"))
    assert 1 <= len(items) <= 5
    assert [i.rank for i in items] == list(range(1, len(items) + 1))
    assert tenant[0].pk not in {i.product_id for i in items}  # 1 unit on hand: never promoted
    assert all(i.promoted_units >= i.baseline_units and i.reason for i in items)
    assert proposal.totals["items"] == len(items)
    assert Decimal(proposal.totals["incremental_margin"]) == sum(
        i.incremental_margin for i in items
    )
    assert proposal.solver["status"]
    assert proposal.solver["k"] == 5
    assert [e.action for e in audit_entries_for(proposal)] == ["propose"]
    assert run.result["proposal"] == proposal.pk
    assert set(run.timings) >= {"read", "forecast_select", "write", "total"}


def test_infeasible_settings_fail_the_run_with_the_constraint(retailer, tenant):
    run = promotion_run_create(
        retailer=retailer,
        week_start=WEEK,
        options={"k": 2, "pinned": ["P01", "P02", "P03"]},
        enqueue=False,
    )
    run = promotion_run_execute(run_id=run.pk)
    assert run.status == RunStatus.FAILED
    assert run.error.startswith("Infeasible settings (k constraint)")
    assert run.result == {"constraint": "k"}
    assert not PromotionProposal.objects.exists()


def test_pinned_product_short_of_stock_names_the_stock_constraint(retailer, tenant):
    run = promotion_run_create(
        retailer=retailer, week_start=WEEK, options={"pinned": ["P00"]}, enqueue=False
    )
    run = promotion_run_execute(run_id=run.pk)
    assert run.status == RunStatus.FAILED
    assert "stock constraint" in run.error


def test_unknown_skus_and_bad_options_are_refused_before_queueing(retailer, tenant):
    with pytest.raises(ValidationError) as info:
        promotion_run_create(
            retailer=retailer, week_start=WEEK, options={"k": 0, "banned": ["NOPE"]}
        )
    assert set(info.value.message_dict) == {"k", "banned"}
    with pytest.raises(ValidationError):
        promotion_run_create(retailer=retailer, week_start=WEEK + dt.timedelta(days=1))


def test_rerun_supersedes_the_proposal_only_when_it_succeeds(retailer, tenant):
    first = promotion_run_execute(
        run_id=promotion_run_create(retailer=retailer, week_start=WEEK, enqueue=False).pk
    )
    old = first.proposal
    failed = promotion_run_create(
        retailer=retailer,
        week_start=WEEK,
        options={"k": 1, "pinned": ["P01", "P02"]},
        enqueue=False,
    )
    failed = promotion_run_execute(run_id=failed.pk)
    assert failed.status == RunStatus.FAILED
    old.refresh_from_db()
    assert old.state == ProposalState.PROPOSED  # a failed re-run replaces nothing
    second = promotion_run_execute(
        run_id=promotion_run_create(
            retailer=retailer, week_start=WEEK, options={"k": 3}, enqueue=False
        ).pk
    )
    old.refresh_from_db()
    assert old.state == ProposalState.SUPERSEDED
    assert second.proposal.state == ProposalState.PROPOSED
    entry = audit_entries_for(old).get(action="supersede")
    assert (entry.from_state, entry.to_state) == ("proposed", "superseded")


def test_a_second_run_for_the_same_week_is_refused_while_one_is_active(retailer, tenant):
    run = promotion_run_create(retailer=retailer, week_start=WEEK, enqueue=False)
    with pytest.raises(PromotionRunAlreadyActive) as info:
        promotion_run_create(retailer=retailer, week_start=WEEK, enqueue=False)
    assert info.value.run_id == run.pk
    assert promotion_run_create(retailer=retailer, week_start=WEEK, trigger="schedule") is None


def test_backtest_run_stores_wape_and_later_proposals_show_it(retailer, tenant):
    run = promotion_run_create(
        retailer=retailer,
        week_start=WEEK,
        kind=PromotionRun.Kind.BACKTEST,
        options={"backtest_weeks": 4},
        enqueue=False,
    )
    run = promotion_run_execute(run_id=run.pk)
    assert run.status == RunStatus.SUCCEEDED, run.error
    for key in ("model_wape", "model_bias", "naive_wape", "naive_bias"):
        assert isinstance(run.result[key], float)
    assert run.result["n_weeks"] == 4
    assert len(run.result["weeks"]) == 4
    proposal = promotion_run_execute(
        run_id=promotion_run_create(retailer=retailer, week_start=WEEK, enqueue=False).pk
    ).proposal
    assert proposal.backtest["run_id"] == run.pk
    assert proposal.backtest["model_wape"] == run.result["model_wape"]


# --- Schedules ---------------------------------------------------------------------------------
def test_schedule_sync_creates_one_schedule_per_retailer_once(retailer):
    other = RetailerFactory(slug="tokyo", time_zone="Asia/Tokyo")
    retailer.promotion_weekday, retailer.promotion_hour = 3, 6  # Thursday 06:00 Helsinki
    retailer.save()
    now = dt.datetime(2025, 6, 2, 12, tzinfo=dt.UTC)  # Monday
    first = promotion_schedules_sync(now=now)
    assert first["created"] == 2
    again = promotion_schedules_sync(now=now)
    assert again == {"created": 0, "updated": 0, "unchanged": 2, "deleted": 0}
    assert Schedule.objects.filter(name__startswith="weekly-promotions:").count() == 2
    schedule = Schedule.objects.get(name=promotion_schedule_name(retailer))
    assert schedule.schedule_type == Schedule.WEEKLY
    assert schedule.func == "optimizer.tasks.promotion_schedule_task"
    local = schedule.next_run.astimezone(retailer.tz)
    assert (local.date(), local.hour) == (dt.date(2025, 6, 5), 6)
    assert schedule.next_run == dt.datetime(2025, 6, 5, 3, tzinfo=dt.UTC)
    tokyo = Schedule.objects.get(name="weekly-promotions:tokyo").next_run
    assert tokyo == dt.datetime(2025, 6, 4, 21, tzinfo=dt.UTC)  # Thursday 06:00 in Tokyo
    other.delete()
    assert promotion_schedules_sync(now=now)["deleted"] == 1


def test_schedule_firing_twice_for_a_week_makes_one_proposal(
    retailer, tenant, django_capture_on_commit_callbacks
):
    for _ in range(2):
        with django_capture_on_commit_callbacks(execute=True):
            promotion_schedule_task(retailer.pk)
    proposals = PromotionProposal.objects.for_retailer(retailer)
    assert proposals.count() == 1
    assert proposals.get().promotion_run.trigger == "schedule"
    assert PromotionRun.objects.count() == 1
    entry = AuditEntry.objects.get(action="propose")
    assert entry.actor_label == "schedule"
    assert Schedule.objects.filter(name=promotion_schedule_name(retailer)).count() == 1


def test_frames_keep_pandas_dtypes(retailer, tenant):
    panel = promotion_panel_read(retailer=retailer, since=WEEK - dt.timedelta(weeks=4), before=WEEK)
    assert panel["product_id"].dtype == np.int64
    assert pd.api.types.is_datetime64_any_dtype(panel["week_start"])
    assert (panel["week_start"].dt.day_of_week == 0).all()
