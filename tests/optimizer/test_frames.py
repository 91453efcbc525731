"""frames: exactly the right rows, dates in the retailer's time zone, ordered; scores written."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from loyalty_site.money import quantize
from optimizer import frames
from optimizer.models import CustomerScore
from tests.campaigns.factories import BonusTypeFactory, PastOfferFactory
from tests.customers.factories import CustomerFactory, TransactionFactory, TransactionLineFactory
from tests.optimizer.factories import ScoringRunFactory
from tests.retailers.factories import ProductFactory

AS_OF = dt.date(2024, 3, 1)
UTC = dt.UTC


def at(text: str) -> dt.datetime:
    """An aware UTC datetime from 'YYYY-MM-DD HH:MM'."""
    return dt.datetime.fromisoformat(text).replace(tzinfo=UTC)


def basket(retailer, customer, when: str, *lines: tuple[str, str, object]) -> None:
    """A transaction at ``when`` (UTC) with lines (amount, discount, product)."""
    tx = TransactionFactory(retailer=retailer, customer=customer, timestamp=at(when))
    for number, (amount, discount, product) in enumerate(lines, start=1):
        TransactionLineFactory(
            transaction=tx,
            line_no=number,
            product=product,
            amount=Decimal(amount),
            discount=Decimal(discount),
            quantity=Decimal("-1.000") if Decimal(amount) < 0 else Decimal("1.000"),
        )


@pytest.fixture
def history(retailer, other_retailer):
    """Helsinki retailer (UTC+2 in winter): baskets around local midnight and the cutoff."""
    bread = ProductFactory(retailer=retailer, category="Bakery")
    milk = ProductFactory(retailer=retailer, category="Dairy")
    loose = ProductFactory(retailer=retailer, category="")
    a = CustomerFactory(retailer=retailer, external_id="A", enrolled_on=dt.date(2024, 1, 10))
    b = CustomerFactory(retailer=retailer, external_id="B", enrolled_on=dt.date(2024, 2, 1))
    late = CustomerFactory(retailer=retailer, external_id="LATE", enrolled_on=AS_OF)
    basket(retailer, b, "2024-02-05 10:00", ("2.00", "0.50", bread), ("3.50", "0.00", milk))
    basket(retailer, b, "2024-02-06 10:00", ("-2.00", "0.00", bread))
    basket(retailer, a, "2024-01-15 22:30", ("4.00", "0.00", milk))  # 00:30 on the 16th
    basket(retailer, a, "2024-01-15 21:30", ("1.00", "0.00", bread), ("1.00", "0.25", loose))
    basket(retailer, a, "2024-02-29 21:59", ("9.00", "1.00", bread))  # 23:59 local: kept
    basket(retailer, a, "2024-02-29 22:00", ("7.00", "0.00", bread))  # local as_of: dropped
    basket(retailer, late, "2024-03-02 10:00", ("5.00", "0.00", milk))
    foreign = CustomerFactory(retailer=other_retailer, enrolled_on=dt.date(2024, 1, 1))
    basket(
        other_retailer,
        foreign,
        "2024-02-01 10:00",
        ("3.00", "0.00", ProductFactory(retailer=other_retailer)),
    )
    pct = BonusTypeFactory(retailer=retailer, code="pct-10")
    pts = BonusTypeFactory(retailer=retailer, code="points-x2")
    PastOfferFactory(
        retailer=retailer,
        customer=b,
        bonus_type=pts,
        sent_on=dt.date(2024, 2, 20),
        valid_until=dt.date(2024, 3, 5),
        redeemed_on=dt.date(2024, 3, 2),  # after as_of: unknown then
    )
    PastOfferFactory(
        retailer=retailer,
        customer=a,
        bonus_type=pct,
        sent_on=dt.date(2024, 2, 1),
        valid_until=dt.date(2024, 2, 14),
        redeemed_on=dt.date(2024, 2, 10),
    )
    PastOfferFactory(retailer=retailer, customer=a, bonus_type=pct, sent_on=AS_OF)  # too late
    return {"a": a, "b": b, "late": late}


def days(*values: str) -> list[pd.Timestamp]:
    return [pd.Timestamp(v) for v in values]


@pytest.mark.django_db
def test_customers_frame_reads_members_enrolled_before_as_of(retailer, history):
    frame = frames.customers_frame(retailer=retailer, as_of=AS_OF)
    assert frame["customer_id"].tolist() == [history["a"].pk, history["b"].pk]
    assert frame["enrolled_on"].tolist() == days("2024-01-10", "2024-02-01")
    assert str(frame["customer_id"].dtype) == "int64"
    assert str(frame["enrolled_on"].dtype) == "datetime64[s]"


@pytest.mark.django_db
def test_baskets_frame_sums_lines_per_basket_in_local_dates_before_as_of(retailer, history):
    frame = frames.baskets_frame(retailer=retailer, as_of=AS_OF)
    a, b = history["a"].pk, history["b"].pk
    assert frame["customer_id"].tolist() == [a, a, a, b, b]
    assert frame["date"].tolist() == days(
        "2024-01-15", "2024-01-16", "2024-02-29", "2024-02-05", "2024-02-06"
    )
    assert frame["amount"].tolist() == pytest.approx([2.0, 4.0, 9.0, 5.5, -2.0])
    assert frame["discount"].tolist() == pytest.approx([0.25, 0.0, 1.0, 0.5, 0.0])
    assert [str(frame[c].dtype) for c in frame.columns] == [
        "int64",
        "datetime64[s]",
        "float64",
        "float64",
    ]


@pytest.mark.django_db
def test_baskets_frame_switches_day_at_local_midnight_in_summer_time(retailer):
    customer = CustomerFactory(retailer=retailer, enrolled_on=dt.date(2024, 1, 1))
    product = ProductFactory(retailer=retailer)
    basket(retailer, customer, "2024-07-01 20:59", ("1.00", "0", product))  # 23:59 EEST
    basket(retailer, customer, "2024-07-01 21:00", ("1.00", "0", product))  # 00:00 EEST
    frame = frames.baskets_frame(retailer=retailer, as_of=dt.date(2024, 7, 2))
    assert frame["date"].tolist() == days("2024-07-01")  # the second is on as_of: excluded
    frame = frames.baskets_frame(retailer=retailer, as_of=dt.date(2024, 7, 3))
    assert frame["date"].tolist() == days("2024-07-01", "2024-07-02")


@pytest.mark.django_db
def test_category_days_frame_codes_categories_alike_and_skips_blank_ones(retailer, history):
    frame = frames.category_days_frame(retailer=retailer, as_of=AS_OF)
    a, b = history["a"].pk, history["b"].pk
    rows = list(frame.itertuples(index=False, name=None))
    bakery, dairy = 0, 1  # alphabetical among the retailer's non-blank categories
    assert rows == [
        (a, pd.Timestamp("2024-01-15"), bakery),
        (a, pd.Timestamp("2024-01-16"), dairy),
        (a, pd.Timestamp("2024-02-29"), bakery),
        (b, pd.Timestamp("2024-02-05"), bakery),
        (b, pd.Timestamp("2024-02-05"), dairy),
        (b, pd.Timestamp("2024-02-06"), bakery),
    ]
    assert str(frame["category"].dtype) == "int32"


@pytest.mark.django_db
def test_offers_frame_reads_offers_sent_before_as_of_with_outcomes_known_then(retailer, history):
    frame = frames.offers_frame(retailer=retailer, as_of=AS_OF)
    assert frame["customer_id"].tolist() == [history["a"].pk, history["b"].pk]
    assert frame["bonus_type"].tolist() == ["pct-10", "points-x2"]
    assert frame["sent_on"].tolist() == days("2024-02-01", "2024-02-20")
    assert frame["valid_until"].tolist() == days("2024-02-14", "2024-03-05")
    assert frame["redeemed_on"].iloc[0] == pd.Timestamp("2024-02-10")
    assert pd.isna(frame["redeemed_on"].iloc[1])  # redeemed on 2024-03-02, after as_of
    assert str(frame["redeemed_on"].dtype) == "datetime64[s]"


@pytest.mark.django_db
def test_frames_read_one_customer_range_or_an_id_list(retailer, history):
    a, b = history["a"].pk, history["b"].pk
    only_b = frames.CustomerFilter(first_id=b, last_id=b)
    data = frames.scoring_frames_read(retailer=retailer, as_of=AS_OF, customers=only_b)
    assert set(data.customers["customer_id"]) == {b}
    assert set(data.baskets["customer_id"]) == {b}
    assert set(data.category_days["customer_id"]) == {b}
    assert set(data.offers["customer_id"]) == {b}
    listed = frames.CustomerFilter(ids=(a,))
    data = frames.scoring_frames_read(retailer=retailer, as_of=AS_OF, customers=listed)
    assert set(data.customers["customer_id"]) == {a}
    assert set(data.baskets["customer_id"]) == {a}
    assert len(data.baskets) == 3


@pytest.mark.django_db
def test_frames_of_a_retailer_without_history_are_empty_with_their_columns(retailer):
    data = frames.scoring_frames_read(retailer=retailer, as_of=AS_OF)
    assert list(data.baskets.columns) == ["customer_id", "date", "amount", "discount"]
    assert list(data.offers.columns) == [
        "customer_id",
        "bonus_type",
        "sent_on",
        "valid_until",
        "redeemed_on",
    ]
    assert data.customers.empty
    assert data.category_days.empty


@pytest.mark.parametrize(
    "value", [2.675, 1.005, -1.005, 0.125, 0.0049, 12345.675, 0.0, -0.004, 99.995]
)
def test_round_half_up_matches_money_quantize(value):
    assert Decimal(str(frames.round_half_up(np.array([value]), 2)[0])) == quantize(value)


def test_round_half_up_matches_money_quantize_on_many_values():
    rng = np.random.default_rng(0)
    values = np.concatenate(
        [np.round(rng.uniform(-1000, 1000, 2000), 3), rng.gamma(2.0, 50.0, 2000)]
    )
    rounded = frames.round_half_up(values, 2)
    assert [Decimal(str(v)) for v in rounded] == [quantize(float(v)) for v in values]


def engine_scores(customer_ids: list[int]) -> pd.DataFrame:
    n = len(customer_ids)
    return pd.DataFrame(
        {
            "customer_id": np.array(customer_ids, dtype=np.int64),
            "churn_probability": [0.123456] * n,
            "expected_visits": [1.005] * n,
            "expected_spend": [10.675] * n,
            "clv": [100.0049] * n,
            "p_alive": [0.99995] * n,
            "response_pct-10": [0.25] * n,
            "segment": ["champions"] * n,
            "reason": ["x" * 300] * n,
            "recency_days": np.array([3.4] * n, dtype=np.float32),
            "frequency": [5] * n,
            "frequency_52w": [4] * n,
            "monetary_52w": [-1.005] * n,
            "avg_basket": [12.5] * n,
            "tenure_days": [200.0] * n,
            "discount_share": [0.1] * n,
            "offers_received": [2] * n,
            "offers_redeemed": [1] * n,
            "redemption_rate": [0.5] * n,
        }
    )


@pytest.mark.django_db
def test_customer_scores_write_rounds_money_half_up_and_stores_responses(retailer, history):
    run = ScoringRunFactory(retailer=retailer)
    scores = engine_scores([history["a"].pk, history["b"].pk])
    written = frames.customer_scores_write(
        retailer_id=retailer.pk, run_id=run.pk, scores=scores, codes=["pct-10", "points-x2"]
    )
    assert written == 2
    row = CustomerScore.objects.get(run=run, customer=history["a"])
    assert row.churn_probability == Decimal("0.1235")
    assert row.p_alive == Decimal("1.0000")
    assert (row.expected_visits, row.expected_spend, row.clv) == (
        Decimal("1.01"),
        Decimal("10.68"),
        Decimal("100.00"),
    )
    assert row.monetary_52w == Decimal("-1.01")
    assert row.responses == {"pct-10": 0.25, "points-x2": None}
    assert (row.recency_days, row.tenure_days, row.segment) == (3, 200, "champions")
    assert len(row.reason) == frames.REASON_MAX


def test_score_rows_builds_valid_json_responses_per_row():
    rows = frames.score_rows(
        retailer_id=1, run_id=2, scores=engine_scores([7, 8]), codes=["pct-10"]
    )
    assert [json.loads(text) for text in rows["responses"]] == [{"pct-10": 0.25}] * 2
    assert rows["customer_id"].tolist() == [7, 8]


@pytest.mark.django_db
def test_category_days_frame_handles_more_categories_than_one_bitmask_word(retailer):
    """70 categories need two 63-bit words on PostgreSQL; codes stay alphabetical."""
    customer = CustomerFactory(retailer=retailer, enrolled_on=dt.date(2024, 1, 1))
    products = [ProductFactory(retailer=retailer, category=f"cat-{i:02d}") for i in range(70)]
    picked = [products[i] for i in (0, 62, 63, 69)]
    basket(retailer, customer, "2024-02-01 10:00", *(("1.00", "0", p) for p in picked))
    basket(retailer, customer, "2024-02-01 12:00", ("1.00", "0", products[63]))  # same day
    frame = frames.category_days_frame(retailer=retailer, as_of=AS_OF)
    assert frame["category"].tolist() == [0, 62, 63, 69]
    assert set(frame["date"]) == {pd.Timestamp("2024-02-01")}
    baskets = frames.baskets_frame(retailer=retailer, as_of=AS_OF)
    assert baskets["amount"].tolist() == pytest.approx([4.0, 1.0])


@pytest.mark.django_db
def test_offers_frame_adds_issued_bonuses_redeemed_before_as_of(retailer):
    from campaigns.models import BonusState, Redemption
    from tests.campaigns.factories import BonusFactory

    def bonus(code: str, sent: str, until: str, **kwargs):
        start, end = dt.date.fromisoformat(sent), dt.date.fromisoformat(until)
        return BonusFactory(
            retailer=retailer,
            member__bonus_type__code=code,
            member__send_on=start,
            member__expires_on=end,
            **kwargs,
        )

    redeemed = bonus("pct-10", "2024-02-05", "2024-02-12")
    late = bonus("pct-10", "2024-02-25", "2024-03-05")
    cancelled = bonus("pct-10", "2024-02-06", "2024-02-13", state=BonusState.CANCELLED)
    bonus("pct-10", "2024-03-02", "2024-03-09")  # sent after as_of: not known yet
    # Midnight in Helsinki on Feb 8 is Feb 7 22:00 UTC: the local date counts.
    used = Redemption.objects.create(retailer=retailer, bonus=redeemed, use_no=1)
    Redemption.objects.filter(pk=used.pk).update(
        redeemed_at=dt.datetime(2024, 2, 7, 22, 30, tzinfo=UTC)
    )
    after = Redemption.objects.create(retailer=retailer, bonus=late, use_no=1)
    Redemption.objects.filter(pk=after.pk).update(
        redeemed_at=dt.datetime(2024, 3, 2, 9, 0, tzinfo=UTC)
    )

    frame = frames.offers_frame(retailer=retailer, as_of=AS_OF)

    assert frame["customer_id"].tolist() == [redeemed.customer_id, late.customer_id]
    assert cancelled.customer_id not in set(frame["customer_id"])
    assert frame["sent_on"].tolist() == days("2024-02-05", "2024-02-25")
    assert frame["redeemed_on"].iloc[0] == pd.Timestamp("2024-02-08")
    assert pd.isna(frame["redeemed_on"].iloc[1])  # used on 2024-03-02, after as_of
