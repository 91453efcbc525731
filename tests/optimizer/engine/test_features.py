"""Features on hand-made histories, computed by hand; no leakage across the cutoff."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from optimizer.engine.features import NEVER_DAYS, compute_features
from optimizer.engine.history import prepare_history, to_days
from optimizer.engine.types import NO_DAY, EngineInputError
from tests.optimizer.engine.conftest import HAND_AS_OF, frame


def _by_id(features: pd.DataFrame) -> dict[int, dict[str, float]]:
    return {int(r["customer_id"]): r for r in features.to_dict("records")}


def test_features_at_match_hand_computation(hand_made):
    f = _by_id(compute_features(as_of=HAND_AS_OF, **hand_made))
    one = f[1]
    assert one["recency_days"] == 14
    assert one["days_since_first_purchase"] == 45
    assert one["tenure_days"] == 76
    assert (one["frequency_4w"], one["frequency_13w"], one["frequency"]) == (1, 3, 3)
    assert one["transactions"] == 3
    assert one["monetary_total"] == pytest.approx(55.0)
    assert one["avg_basket"] == pytest.approx(20.0)
    assert one["mean_gap_days"] == pytest.approx(15.5)
    assert one["std_gap_days"] == pytest.approx(5.5)
    assert one["visit_trend"] == pytest.approx(1.0)
    assert one["discount_share"] == pytest.approx(3 / 63)
    assert one["returns_share"] == pytest.approx(5 / 60)
    assert (one["offers_received"], one["offers_resolved"], one["offers_redeemed"]) == (2, 2, 1)
    assert one["redemption_rate"] == pytest.approx(0.5)
    assert one["days_since_last_offer"] == 26
    assert one["days_since_last_redemption"] == 35
    assert (one["offers_dbl"], one["redeemed_dbl"], one["redemption_rate_dbl"]) == (1, 1, 1.0)
    assert (one["offers_pct"], one["redeemed_pct"], one["redemption_rate_pct"]) == (1, 0, 0.0)


def test_features_fill_single_and_zero_purchase_customers(hand_made):
    f = _by_id(compute_features(as_of=HAND_AS_OF, **hand_made))
    single, late, never = f[2], f[3], f[4]
    assert single["recency_days"] == 41
    assert single["mean_gap_days"] == 41  # lower bound: no repeat in 41 days
    assert single["std_gap_days"] == 0
    assert single["days_since_last_redemption"] == NEVER_DAYS
    assert late["frequency"] == 0  # the purchase of customer 3 is after the cutoff
    assert late["recency_days"] == late["tenure_days"] == 76
    assert never["recency_days"] == never["tenure_days"] == 26
    assert never["avg_basket"] == 0
    assert never["days_since_last_offer"] == NEVER_DAYS


def test_features_have_no_nan_and_compact_dtypes(hand_made):
    f = compute_features(as_of=HAND_AS_OF, **hand_made)
    assert not f.isna().any().any()
    assert f["customer_id"].dtype == np.int64
    assert f["frequency"].dtype == np.int32
    assert f["recency_days"].dtype == np.float32
    assert list(f["customer_id"]) == [1, 2, 3, 4]


def test_features_ignore_everything_on_or_after_as_of(hand_made):
    before = compute_features(as_of=HAND_AS_OF, **hand_made)
    later = dict(hand_made)
    later["baskets"] = pd.concat(
        [
            hand_made["baskets"],
            frame(
                customer_id=[2, 4, 1],
                date=["2024-02-15", "2024-02-15", "2024-06-01"],
                amount=[100.0, 50.0, -30.0],
                discount=[5.0, 0.0, 0.0],
            ),
        ],
        ignore_index=True,
    )
    offers = hand_made["offers"].copy()
    offers.loc[1, "redeemed_on"] = pd.Timestamp("2024-02-15")  # a redemption ON as_of
    later["offers"] = pd.concat(
        [
            offers,
            frame(
                customer_id=[4],
                bonus_type=["dbl"],
                sent_on=["2024-02-15"],
                valid_until=["2024-02-20"],
                redeemed_on=["2024-02-16"],
            ),
        ],
        ignore_index=True,
    )
    pd.testing.assert_frame_equal(compute_features(as_of=HAND_AS_OF, **later), before)


def test_features_offer_outcome_unknown_until_it_happens(hand_made):
    f = _by_id(compute_features(as_of=date(2024, 1, 10), **hand_made))
    # sent 01-02, valid until 01-15, redeemed 01-11: at 01-10 neither redeemed nor expired
    assert (f[1]["offers_received"], f[1]["offers_resolved"], f[1]["offers_redeemed"]) == (1, 0, 0)


def test_features_category_breadth_lifetime_and_52_weeks(hand_made):
    cats = frame(
        customer_id=[1, 1, 1, 1, 1, 1, 2],
        date=[
            "2024-01-01",
            "2024-01-01",
            "2024-01-11",
            "2024-02-01",
            "2022-12-01",
            "2024-02-20",
            "2024-01-05",
        ],
        category=[5, 7, 5, 9, 11, 13, 5],
    )
    f = _by_id(compute_features(as_of=HAND_AS_OF, category_days=cats, **hand_made))
    assert (f[1]["category_breadth"], f[1]["category_breadth_52w"]) == (4, 3)
    assert (f[2]["category_breadth"], f[4]["category_breadth"]) == (1, 0)


def test_features_do_not_depend_on_row_order(hand_made):
    shuffled = dict(hand_made)
    shuffled["baskets"] = hand_made["baskets"].sample(frac=1.0, random_state=1)
    pd.testing.assert_frame_equal(
        compute_features(as_of=HAND_AS_OF, **shuffled),
        compute_features(as_of=HAND_AS_OF, **hand_made),
    )


def test_features_spend_change_and_trend_between_quarters():
    baskets = frame(
        customer_id=[1, 1, 1, 1],
        date=["2024-01-10", "2024-02-10", "2024-04-10", "2024-05-01"],
        amount=[50.0, 50.0, 30.0, 30.0],
        discount=[0.0] * 4,
    )
    customers = frame(customer_id=[1], enrolled_on=["2023-06-01"])
    f = compute_features(baskets, customers, date(2024, 6, 1)).iloc[0]
    # last 13 weeks [2024-03-02, 06-01): 60 over 2 visits; the 13 before: 100 over 2 visits
    assert f["spend_change_13w"] == pytest.approx(-0.4)
    assert f["visit_trend"] == pytest.approx(0.0)


def test_prepare_history_drops_unknown_customers_and_missing_dates(hand_made):
    baskets = pd.concat(
        [
            hand_made["baskets"],
            frame(customer_id=[99], date=["2024-01-02"], amount=[5.0], discount=[0.0]),
        ],
        ignore_index=True,
    )
    baskets.loc[0, "date"] = pd.NaT
    history = prepare_history(baskets, hand_made["customers"])
    assert 99 not in history.customer_ids
    assert history.day_transactions.sum() == 4  # 20, 7, 30, 9: not the NaT row, not the return


def test_prepare_history_reports_missing_columns(hand_made):
    with pytest.raises(EngineInputError, match="discount"):
        prepare_history(hand_made["baskets"].drop(columns="discount"), hand_made["customers"])


def test_to_days_accepts_dates_timezones_and_nat():
    days = to_days(pd.Series([date(1970, 1, 2), None]))
    assert list(days) == [1, NO_DAY]
    aware = pd.Series(pd.to_datetime(["2024-01-01 23:30"]).tz_localize("America/New_York"))
    assert to_days(aware)[0] == to_days(pd.Series([date(2024, 1, 1)]))[0]


def test_rhythm_features_by_hand(hand_made):
    # Customer 1 visits 2024-01-01, 01-11, 02-01 (gaps 10 and 21 days); cutoff 2024-02-15.
    f = _by_id(compute_features(as_of=HAND_AS_OF, **hand_made))
    one = f[1]
    assert one["last_gap_days"] == 21
    assert one["gap_trend"] == pytest.approx(21 / 15.5)  # slowing down
    assert one["gap_cv"] == pytest.approx(5.5 / 15.5)
    assert one["overdue"] == pytest.approx(14 / 15.5)
    # 7-day blocks back from the cutoff: 02-01 in block 1, 01-11 in block 4, 01-01 in block 6.
    assert one["weeks_active_13w"] == 3
    assert one["baskets_13w"] == 3  # the return on 01-11 is not a basket


def test_rhythm_features_fill_short_histories(hand_made):
    f = _by_id(compute_features(as_of=HAND_AS_OF, **hand_made))
    single, never = f[2], f[4]
    assert single["last_gap_days"] == single["mean_gap_days"] == 41
    assert (single["gap_trend"], single["gap_cv"], single["overdue"]) == (1.0, 0.0, 1.0)
    assert (never["weeks_active_13w"], never["baskets_13w"]) == (0, 0)


def test_top_category_share_counts_category_days_of_the_last_52_weeks():
    baskets = frame(
        customer_id=[1, 1, 2],
        date=["2024-01-01", "2024-01-08", "2024-01-02"],
        amount=[5.0, 5.0, 5.0],
        discount=[0.0, 0.0, 0.0],
    )
    customers = frame(customer_id=[1, 2], enrolled_on=["2023-01-01", "2023-01-01"])
    category_days = frame(
        customer_id=[1, 1, 1, 1, 2, 1],
        date=["2024-01-01", "2024-01-01", "2024-01-08", "2024-01-08", "2024-01-02", "2022-06-01"],
        category=[7, 8, 7, 9, 3, 8],
    )
    f = _by_id(compute_features(baskets, customers, date(2024, 2, 1), category_days=category_days))
    assert f[1]["top_category_share"] == pytest.approx(2 / 4)  # 7 on 2 of 4 category-days
    assert f[2]["top_category_share"] == pytest.approx(1.0)
