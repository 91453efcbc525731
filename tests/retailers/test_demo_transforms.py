"""The pure Complete Journey transformations, on tiny hand-made frames (no database)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from loyalty_site.site.demo import completejourney as cj
from loyalty_site.site.demo import derived
from loyalty_site.site.demo.completejourney_files import TRANSACTION_COLUMNS


def raw_lines(rows: list[dict]) -> pd.DataFrame:
    """Source transaction rows with defaults for the columns a test does not care about."""
    base = {
        "household_id": 1,
        "store_id": 10,
        "basket_id": 100,
        "product_id": 5,
        "quantity": 1,
        "sales_value": 1.0,
        "retail_disc": 0.0,
        "coupon_disc": 0.0,
        "coupon_match_disc": 0.0,
        "week": 2,
        "transaction_timestamp": pd.Timestamp("2017-01-03 15:00:00"),
    }
    return pd.DataFrame([{**base, **row} for row in rows], columns=TRANSACTION_COLUMNS)


def test_build_transactions_discount_is_sum_of_absolute_discounts_in_either_sign_convention():
    positive = raw_lines([{"sales_value": 2.0, "retail_disc": 0.5, "coupon_match_disc": 0.25}])
    negative = raw_lines([{"sales_value": 2.0, "retail_disc": -0.5, "coupon_match_disc": -0.25}])
    for raw in (positive, negative):
        _, lines, _ = cj.build_transactions(raw)
        assert lines.loc[0, "discount"] == pytest.approx(0.75)
        assert lines.loc[0, "amount"] == pytest.approx(2.0)


def test_build_transactions_amount_excludes_manufacturer_coupon_so_shelf_value_is_kept():
    # 84.51°: sales_value includes the manufacturer's coupon reimbursement.
    raw = raw_lines(
        [
            {
                "sales_value": 3.55,
                "retail_disc": 1.78,
                "coupon_disc": 0.55,
                "coupon_match_disc": 0.45,
                "quantity": 2,
            }
        ]
    )
    _, lines, _ = cj.build_transactions(raw)
    line = lines.loc[0]
    assert line["amount"] == pytest.approx(3.00)
    assert line["discount"] == pytest.approx(1.78 + 0.55 + 0.45)
    assert (line["amount"] + line["discount"]) / line["quantity"] == pytest.approx(2.89)


def test_build_transactions_drops_zero_quantity_and_fixes_coupon_above_price():
    raw = raw_lines(
        [
            {
                "basket_id": 1,
                "product_id": 1,
                "quantity": 0,
                "sales_value": 0.0,
                "coupon_disc": 1.0,
            },
            {"basket_id": 1, "product_id": 2, "quantity": 0, "sales_value": 0.5},
            {
                "basket_id": 1,
                "product_id": 3,
                "sales_value": 1.43,
                "retail_disc": 0.16,
                "coupon_disc": 1.59,
            },
            {"basket_id": 2, "product_id": 4, "quantity": 0, "sales_value": 0.0},
        ]
    )
    transactions, lines, counts = cj.build_transactions(raw)
    assert counts == {
        "lines_raw": 4,
        "lines_dropped_zero_quantity": 3,
        "lines_dropped_sign_mismatch": 0,
        "lines_fixed_coupon_over_price": 1,
        "lines": 1,
        "baskets_raw": 2,
        "baskets_dropped_empty": 1,
        "transactions": 1,
    }
    fixed = lines.loc[0]
    assert (fixed["sku"], fixed["line_no"], fixed["amount"]) == ("3", 1, 0.0)
    assert fixed["discount"] == pytest.approx(1.59)  # the whole shelf value
    assert list(transactions["transaction_id"]) == ["1"]


def test_build_transactions_drops_lines_with_opposite_signs():
    raw = raw_lines([{"quantity": -1, "sales_value": 2.0}, {"quantity": -1, "sales_value": -2.0}])
    _, lines, counts = cj.build_transactions(raw)
    assert counts["lines_dropped_sign_mismatch"] == 1
    assert lines[["quantity", "amount"]].values.tolist() == [[-1, -2.0]]


def test_build_transactions_localises_utc_timestamps_and_numbers_lines_in_file_order():
    raw = raw_lines(
        [
            {
                "basket_id": 7,
                "product_id": 9,
                "transaction_timestamp": pd.Timestamp("2017-07-01 02:30"),
            },
            {"basket_id": 8, "product_id": 1, "household_id": 2, "store_id": 11},
            {
                "basket_id": 7,
                "product_id": 4,
                "transaction_timestamp": pd.Timestamp("2017-07-01 02:30"),
            },
        ]
    )
    transactions, lines, _ = cj.build_transactions(raw)
    first = transactions.set_index("transaction_id").loc["7"]
    assert first["timestamp"] == pd.Timestamp("2017-06-30 22:30", tz="America/New_York")
    assert (first["customer_id"], first["store_id"]) == ("1", "10")
    basket = lines[lines["transaction_id"] == "7"]
    assert basket[["sku", "line_no"]].values.tolist() == [["9", 1], ["4", 2]]


def test_week_one_monday_is_derived_from_week_numbers_and_local_dates():
    raw = raw_lines(
        [
            {"week": 1, "transaction_timestamp": pd.Timestamp("2017-01-01 12:00")},
            {"week": 2, "transaction_timestamp": pd.Timestamp("2017-01-09 04:30")},  # Sun 23:30
            {"week": 27, "transaction_timestamp": pd.Timestamp("2017-07-02 12:00")},
        ]
    )
    assert cj.week_one_monday(raw) == dt.date(2016, 12, 26)


def test_build_customers_enrols_at_first_purchase_or_earlier_campaign_and_maps_bands():
    raw = raw_lines(
        [
            {"household_id": 1, "transaction_timestamp": pd.Timestamp("2017-03-05 03:00")},
            {"household_id": 2, "transaction_timestamp": pd.Timestamp("2017-02-01 15:00")},
        ]
    )
    demographics = pd.DataFrame(
        {"household_id": [2], "age": ["65+"], "income": ["Under 15K"], "household_size": ["5+"]}
    )
    campaigns = pd.DataFrame({"campaign_id": [24], "household_id": [2]})
    descriptions = pd.DataFrame(
        {
            "campaign_id": [24],
            "campaign_type": ["Type C"],
            "start_date": [pd.Timestamp("2016-11-14")],
            "end_date": [pd.Timestamp("2017-01-16")],
        }
    )
    customers = cj.build_customers(raw, demographics, campaigns, descriptions).set_index(
        "customer_id"
    )
    assert customers.loc["1", "enrolled_on"] == pd.Timestamp("2017-03-04")  # local date
    assert customers.loc["2", "enrolled_on"] == pd.Timestamp("2016-11-14")
    assert customers.loc["2", ["age_band", "income_band"]].tolist() == ["65+", "Under 15K"]
    assert customers.loc["2", "household_size"] == 5
    assert pd.isna(customers.loc["1", "household_size"])
    assert customers.loc["1", "age_band"] == ""
    assert customers["marketing_consent"].all()


def test_build_products_prices_at_median_shelf_unit_price_and_costs_by_department_margin():
    lines = pd.DataFrame(
        {
            "sku": ["1", "1", "1", "2"],
            "quantity": [1, 2, 1, 0],
            "amount": [1.0, 1.6, 0.0, 0.0],
            "discount": [0.0, 0.4, 0.0, 0.0],
        }
    )
    products = pd.DataFrame(
        {
            "product_id": [1, 2],
            "department": ["PRODUCE", "PRODUCE"],
            "brand": ["Private", "National"],
            "product_category": ["APPLES", "APPLES"],
            "product_type": ["APPLES GALA", None],
            "package_size": ["3 LB", None],
        }
    )
    out = cj.build_products(products, lines).set_index("sku")
    assert out.loc["1", "price"] == pytest.approx(1.0)
    assert out.loc["1", "unit_cost"] == pytest.approx(0.6)  # produce margin 40 %
    assert out.loc["1", "name"] == "APPLES GALA 3 LB"
    assert out.loc["2", "price"] == pytest.approx(1.0)  # no sale: category median
    assert out.loc["2", ["name", "category"]].tolist() == ["APPLES", "APPLES"]


def test_build_past_offers_redeemed_on_is_first_redemption_of_that_household_and_campaign():
    campaigns = pd.DataFrame({"campaign_id": [1, 1, 2], "household_id": [10, 11, 10]})
    descriptions = pd.DataFrame(
        {
            "campaign_id": [1, 2],
            "campaign_type": ["Type A", "Type B"],
            "start_date": pd.to_datetime(["2017-03-01", "2017-05-01"]),
            "end_date": pd.to_datetime(["2017-04-01", "2017-06-01"]),
        }
    )
    redemptions = pd.DataFrame(
        {
            "household_id": [10, 10, 10, 11, 12],
            "campaign_id": [1, 1, 2, 2, 1],
            "redemption_date": pd.to_datetime(
                ["2017-03-20", "2017-03-10", "2017-05-03", "2017-05-04", "2017-03-05"]
            ),
        }
    )
    offers, counts = cj.build_past_offers(campaigns, descriptions, redemptions, ["10", "11"])
    got = offers.set_index("offer_id")
    assert got.loc["1-10", "redeemed_on"] == pd.Timestamp("2017-03-10")
    assert pd.isna(got.loc["1-11", "redeemed_on"])  # its redemption was in a campaign not received
    assert got.loc["2-10", ["bonus_type", "sent_on", "valid_until"]].tolist() == [
        "type-b",
        pd.Timestamp("2017-05-01"),
        pd.Timestamp("2017-06-01"),
    ]
    assert counts == {
        "offers": 3,
        "offers_redeemed": 2,
        "redemptions_raw": 4,
        "redemptions_without_offer": 1,
        "redemptions_before_start": 0,
    }


def test_build_bonus_types_one_type_per_campaign_type_with_the_demo_terms():
    descriptions = pd.DataFrame(
        {
            "campaign_id": [1, 2, 3, 4],
            "campaign_type": ["Type B", "Type A", "Type B", "Type Z"],
            "start_date": pd.to_datetime(["2017-01-01", "2017-02-01", "2017-03-01", "2017-04-01"]),
            "end_date": pd.to_datetime(["2017-01-31", "2017-02-28", "2017-03-31", "2017-04-30"]),
        }
    )
    types = cj.build_bonus_types(descriptions).set_index("code")
    assert types.index.tolist() == ["type-a", "type-b", "type-z"]
    assert types.loc["type-a", "kind"] == "amount_discount"
    assert types.loc["type-a", "face_value"] == 3.0
    assert types.loc["type-b", "kind"] == "percent_discount"
    assert types.loc["type-b", "is_active"]
    # A type the demo has no terms for stays imported history: inactive, kind "other".
    assert types.loc["type-z", "kind"] == "other"
    assert not types.loc["type-z", "is_active"]
    assert "campaigns 1, 3" in types.loc["type-b", "description"]


def test_aggregate_promotions_counts_distinct_stores_per_monday_week():
    promotions = pd.DataFrame(
        {
            "product_id": [5, 5, 5, 5, 5, 6],
            "store_id": [1, 1, 2, 3, 1, 1],
            "display_location": ["3", "3", "0", "A", "0", "0"],
            "mailer_location": ["0", "A", "D", "0", "A", "A"],
            "week": [2, 2, 2, 2, 3, 2],
        }
    )
    history, counts = cj.aggregate_promotions(
        promotions, week_one_monday=dt.date(2016, 12, 26), skus=pd.Series(["5"])
    )
    assert history.to_dict("records") == [
        {
            "sku": "5",
            "week_start": pd.Timestamp("2017-01-02"),
            "display_stores": 2,
            "mailer_stores": 2,
        },
        {
            "sku": "5",
            "week_start": pd.Timestamp("2017-01-09"),
            "display_stores": 0,
            "mailer_stores": 1,
        },
    ]
    assert all(day.weekday() == 0 for day in history["week_start"])
    assert counts["promotion_rows_unknown_sku"] == 1


def _recent_sales() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    stamps = pd.date_range("2017-10-02 12:00", periods=90, freq="D", tz="America/New_York")
    transactions = pd.DataFrame(
        {"transaction_id": [str(i) for i in range(90)], "timestamp": stamps}
    )
    lines = pd.DataFrame(
        {
            "transaction_id": np.repeat(transactions["transaction_id"], 20).to_numpy(),
            "sku": np.tile([f"S{i}" for i in range(20)], 90),
            "quantity": 2,
            "amount": np.tile(np.arange(1.0, 21.0), 90),
        }
    )
    products = pd.DataFrame({"sku": [f"S{i}" for i in range(20)], "price": np.arange(1.0, 21.0)})
    return transactions, lines, products


def test_derive_inventory_is_seeded_weekly_and_understocks_some_products():
    transactions, lines, _ = _recent_sales()
    options = derived.SyntheticOptions(understocked_share=0.3)
    inventory, counts = derived.derive_inventory(transactions, lines, options)
    again, _ = derived.derive_inventory(transactions, lines, options)
    pd.testing.assert_frame_equal(inventory, again)
    assert counts["inventory_levels"] == 20 * 8
    assert inventory["store_id"].isna().all()
    assert {d.weekday() for d in inventory["date"]} == {0}
    # 14 units a week: well-stocked products hold more than under-stocked ones
    per_sku = inventory.groupby("sku")["on_hand"].mean()
    assert per_sku.min() < 8 < per_sku.max()
    assert counts["inventory_understocked_products"] > 0


def test_derive_competitor_prices_top_products_around_our_price():
    transactions, lines, products = _recent_sales()
    options = derived.SyntheticOptions(top_products=5)
    prices = derived.derive_competitor_prices(transactions, lines, products, options)
    assert sorted(prices["sku"].unique()) == ["S15", "S16", "S17", "S18", "S19"]
    assert set(prices["competitor"]) == set(derived.COMPETITORS)
    ratio = prices["price"] / prices["sku"].map(products.set_index("sku")["price"])
    assert ratio.min() > 0.5
    assert ratio.max() < 1.5
    assert ratio.median() == pytest.approx(1.0, abs=0.1)
