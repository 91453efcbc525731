"""The hot bulk reads are set-based on the real PostgreSQL, and give the rows they gave before.

Issue 18: the history chunk query's per-transaction ``LATERAL`` was planned as a re-scan of the
materialised ``codes`` CTE for every basket (a Nested Loop over a CTE Scan), and the issued-bonus
offer source ran a sub-select per bonus (a SubPlan). The plans are read with ``EXPLAIN (FORMAT
JSON)`` on a tenant of realistic shape (``bench/sql_retailer.py``: 3,030 products in 18
categories, 2,000 customers, about 13,000 baskets and 40,000 lines), analysed after inserting
(autovacuum may be off), so the planner sees the statistics it would see in production.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pandas as pd
import pytest
from django.db import connection

from bench import sql_retailer
from campaigns.models import BonusState, Redemption
from customers.models import Customer
from loyalty_site.sql import RetailerSQL
from optimizer import queries
from optimizer.frames.common import CustomerFilter, base_params, query_frame
from retailers.models import Retailer
from tests.campaigns.factories import BonusFactory, CampaignMemberFactory
from tests.optimizer.reference_queries import history_lateral, issued_bonuses_subselect

AS_OF = sql_retailer.AS_OF
WORDS = 1  # 18 categories: one bigint word


@pytest.fixture
def tenant(db) -> Retailer:
    """2,000 customers of the bench's SQL generator, plus issued bonuses with redemptions
    (some before the cutoff, some after, one bonus used twice, one cancelled), analysed."""
    retailer = sql_retailer.generate(
        customers=2_000, seed=3, slug="plans", vacuum=False, log=lambda _: None
    )
    customers = list(Customer.objects.filter(retailer=retailer).order_by("id")[:40])
    cutoff = dt.datetime.combine(AS_OF, dt.time.min, tzinfo=retailer.tz)
    for n, customer in enumerate(customers):
        state = BonusState.CANCELLED if n == 7 else BonusState.ISSUED
        bonus = BonusFactory(
            retailer=retailer,
            member=CampaignMemberFactory(retailer=retailer, customer=customer),
            valid_from=AS_OF - dt.timedelta(days=20 + n),
            valid_to=AS_OF - dt.timedelta(days=6 + n),
            state=state,
            max_uses=2,
        )
        for use in range(n % 3):  # 0, 1 or 2 uses; after the cutoff (only) when n % 5 == 0
            days = (1 if n % 5 == 0 else -10) + use * (12 if n % 4 else 1)
            shift = dt.timedelta(days=days, hours=21)
            redemption = Redemption.objects.create(
                retailer=retailer, bonus=bonus, use_no=use + 1, cost=Decimal("1.00")
            )  # redeemed_at is set on creation: moved to its day below
            Redemption.objects.filter(pk=redemption.pk).update(redeemed_at=cutoff + shift)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return retailer


def _plan(query: RetailerSQL, retailer: Retailer, values: dict[str, Any]) -> dict[str, Any]:
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) {query.text}", query.params(retailer.pk, **values))
        raw = cursor.fetchone()[0]
    document = raw if isinstance(raw, list) else json.loads(raw)
    return document[0]["Plan"]


def _nodes(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield node
    for child in node.get("Plans", []):
        yield from _nodes(child)


def per_row_work(plan: dict[str, Any]) -> list[str]:
    """The plan's nodes that do set work once per outer row: a Nested Loop with a CTE Scan
    under it, or a correlated SubPlan."""
    found = []
    for node in _nodes(plan):
        if node.get("Parent Relationship") == "SubPlan":
            found.append(f"SubPlan {node.get('Subplan Name', '')}: {node['Node Type']}")
        if node["Node Type"] == "Nested Loop":
            scans = [n for n in _nodes(node) if n["Node Type"] == "CTE Scan"]
            found.extend(f"Nested Loop over CTE Scan of {n['CTE Name']}" for n in scans)
    return found


def _chunk(retailer: Retailer) -> CustomerFilter:
    """The middle half of the members: a customer range, as a chunk task reads it."""
    ids = list(
        Customer.objects.filter(retailer=retailer).order_by("id").values_list("id", flat=True)
    )
    return CustomerFilter(first_id=ids[len(ids) // 4], last_id=ids[3 * len(ids) // 4])


def _filters(retailer: Retailer) -> dict[str, CustomerFilter]:
    ids = Customer.objects.filter(retailer=retailer).order_by("?").values_list("id", flat=True)
    return {
        "chunk": _chunk(retailer),
        "sample": CustomerFilter(ids=tuple(ids[:500])),  # the training sample's filter
        "all": CustomerFilter(),
    }


def _hot_reads(retailer: Retailer) -> Iterator[tuple[str, RetailerSQL, dict[str, Any]]]:
    """Every statement a scoring, allocation or promotion run reads in bulk, with values."""
    for name, customers in _filters(retailer).items():
        for read, column, build in (
            ("history", "t.customer_id", lambda w: queries.history(WORDS, w)),
            ("offers", "o.customer_id", queries.offers),
            ("members", "c.id", queries.members),
        ):
            values = base_params(retailer, AS_OF)
            yield f"{read}[{name}]", build(customers.sql(column, values)), values
    week = {
        **base_params(retailer, AS_OF),
        "start": base_params(retailer, AS_OF - dt.timedelta(days=91))["cutoff"],
    }
    yield "member_ranges", queries.member_ranges(), {"as_of": AS_OF, "chunk_size": 500}
    yield "sales_weeks", queries.sales_weeks(), week
    yield "reach", queries.reach(None), week
    yield "reach[segments]", queries.reach(2), {**week, "run": 1, "seg0": "a", "seg1": "b"}
    yield "trading_days", queries.trading_days(), week
    yield "run_scores", queries.run_scores(), {"run": 1}
    yield "run_responses", queries.run_responses(), {"run": 1}
    history = {"since": AS_OF - dt.timedelta(days=364), "before": AS_OF}
    yield "promotion_history", queries.promotion_history(), history


@pytest.mark.django_db
def test_hot_reads_plan_no_nested_loop_over_cte_nor_subplan(tenant):
    bad = {
        name: found
        for name, query, values in _hot_reads(tenant)
        if (found := per_row_work(_plan(query, tenant, values)))
    }
    assert bad == {}


@pytest.mark.django_db
def test_per_row_work_finds_the_plans_of_issue_18(tenant):
    """The check can fail: the statements as they were are flagged on the same tenant."""
    values = base_params(tenant, AS_OF)
    where = _chunk(tenant).sql("t.customer_id", values)
    lateral = per_row_work(_plan(history_lateral(WORDS, where), tenant, values))
    assert "Nested Loop over CTE Scan of codes" in lateral
    old_offers = queries._scoped(issued_bonuses_subselect(), "")
    assert any(f.startswith("SubPlan") for f in per_row_work(_plan(old_offers, tenant, values)))


def _rows(query: RetailerSQL, retailer: Retailer, values: dict[str, Any], n: int) -> pd.DataFrame:
    names = [f"c{i}" for i in range(n)]
    frame = query_frame(query, retailer.pk, values, names, {})
    return frame.sort_values(names, kind="stable", ignore_index=True)


@pytest.mark.django_db
def test_history_set_based_same_rows_as_lateral(tenant):
    for customers in _filters(tenant).values():  # a chunk, the training sample, everyone
        values = base_params(tenant, AS_OF)
        where = customers.sql("t.customer_id", values)
        for words in (0, WORDS, 2):  # no categories, one word, and a word of nothing but zeros
            new = _rows(queries.history(words, where), tenant, values, 4 + words)
            old = _rows(history_lateral(words, where), tenant, values, 4 + words)
            assert len(new) > 1_000
            pd.testing.assert_frame_equal(new, old)
        assert new["c4"].to_numpy().any()  # categories were packed


@pytest.mark.django_db
def test_offers_joined_first_use_same_rows_as_subselect(tenant):
    values = base_params(tenant, AS_OF)
    new = _rows(queries.offers(""), tenant, values, 5)
    old_sources = " UNION ALL ".join([queries._past_offers(), issued_bonuses_subselect()])
    old_offers = queries._scoped(f"SELECT * FROM ({old_sources}) o", "")  # noqa: S608
    old = _rows(old_offers, tenant, values, 5)
    pd.testing.assert_frame_equal(new, old)
    issued = new[~new["c1"].isin(["pct-10", "amount-5", "points-x3", "free-coffee"])]
    expected = [n for n in range(40) if n != 7 and n % 3 and n % 5]  # used before the cutoff
    assert len(issued) == 39  # the cancelled bonus is no offer
    assert issued["c4"].notna().sum() == len(expected)
