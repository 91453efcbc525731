"""The pure synthetic-retailer model: reproducibility, contract shape and ground-truth sanity."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from loyalty_site.site.demo import synthetic
from loyalty_site.site.demo.synthetic_catalog import BONUS_TYPES

AS_OF = dt.date(2026, 1, 5)


@pytest.fixture(scope="module")
def retailer() -> synthetic.SyntheticRetailer:
    return synthetic.generate(4000, seed=11, weeks=52, as_of=AS_OF, chunk_customers=2000)


@pytest.fixture(scope="module")
def large() -> synthetic.SyntheticRetailer:
    """Enough customers for the statistical checks (still about a second)."""
    return synthetic.generate(12000, seed=5, weeks=52, as_of=AS_OF)


def frames(r: synthetic.SyntheticRetailer) -> dict[str, pd.DataFrame]:
    names = ["stores", "products", "bonus_types", "customers", "transactions", "lines", "offers"]
    return {name: getattr(r, name) for name in [*names, "truth"]}


def test_generate_same_seed_gives_identical_frames(retailer):
    again = synthetic.generate(4000, seed=11, weeks=52, as_of=AS_OF, chunk_customers=2000)
    for name, frame in frames(retailer).items():
        pd.testing.assert_frame_equal(frame, frames(again)[name], obj=name)


def test_generate_different_seed_gives_different_data(retailer):
    other = synthetic.generate(4000, seed=12, weeks=52, as_of=AS_OF, chunk_customers=2000)
    assert not retailer.truth["purchase_rate"].equals(other.truth["purchase_rate"])
    assert len(retailer.lines) != len(other.lines) or not retailer.lines.equals(other.lines)
    assert not retailer.products["price"].equals(other.products["price"])


def test_generate_is_independent_of_chunk_size(retailer):
    one_chunk = synthetic.generate(4000, seed=11, weeks=52, as_of=AS_OF, chunk_customers=10_000)
    small = synthetic.generate(4000, seed=11, weeks=52, as_of=AS_OF, chunk_customers=1)
    for other in (one_chunk, small):
        for name, frame in frames(retailer).items():
            pd.testing.assert_frame_equal(frame, frames(other)[name], obj=name)


def test_generate_chunk_rejects_ranges_off_block_boundaries():
    catalog = synthetic.build_catalog(2500, 1, 10, AS_OF)
    with pytest.raises(ValueError, match="blocks"):
        synthetic.generate_chunk(catalog, 500, 1500)
    assert len(synthetic.generate_chunk(catalog, 2000, 2500).customers) == 500


def test_generate_frames_follow_the_contract(retailer):
    r = retailer
    assert len(r.customers) == len(r.truth) == 4000
    assert r.customers["customer_id"].is_unique
    assert r.transactions["transaction_id"].is_unique
    assert set(r.lines["transaction_id"]) <= set(r.transactions["transaction_id"])
    assert set(r.lines["sku"]) <= set(r.products["sku"])
    assert set(r.transactions["store_id"]) <= set(r.stores["store_id"])
    assert set(r.offers["bonus_type"]) <= set(r.bonus_types["code"])
    assert not r.lines.duplicated(["transaction_id", "line_no"]).any()
    assert (r.lines["quantity"] >= 1).all()
    assert (r.lines["amount"] >= 0).all()
    assert (r.lines["discount"] >= 0).all()
    assert (r.products["unit_cost"] < r.products["price"]).all()
    assert (r.offers["valid_until"] >= r.offers["sent_on"]).all()
    redeemed = r.offers.dropna(subset=["redeemed_on"])
    assert (redeemed["redeemed_on"] >= redeemed["sent_on"]).all()
    assert (redeemed["redeemed_on"] <= redeemed["valid_until"]).all()


def test_generate_writes_only_history_before_as_of(retailer):
    as_of = pd.Timestamp(AS_OF, tz="Europe/Helsinki")
    stamps = retailer.transactions["timestamp"]
    assert stamps.max() < as_of
    assert stamps.min() >= as_of - pd.Timedelta(weeks=52)
    assert stamps.dt.hour.between(8, 21).all()
    assert (retailer.offers["valid_until"] < pd.Timestamp(AS_OF)).all()
    assert (retailer.customers["enrolled_on"] < pd.Timestamp(AS_OF)).all()


def test_truth_observed_columns_match_the_written_history(retailer):
    r = retailer
    baskets = r.transactions.merge(
        r.lines.groupby("transaction_id", as_index=False)["amount"].sum(), on="transaction_id"
    )
    per_customer = baskets.groupby("customer_id").agg(
        visits=("amount", "size"), spend=("amount", "sum")
    )
    truth = r.truth.set_index("customer_id")
    visits = per_customer["visits"].reindex(truth.index, fill_value=0)
    spend = per_customer["spend"].reindex(truth.index, fill_value=0.0)
    assert (visits == truth["observed_visits"]).all()
    assert np.allclose(spend, truth["observed_spend"], atol=0.01)
    redeemed = r.offers["redeemed_on"].notna().groupby(r.offers["customer_id"]).sum()
    assert (redeemed.reindex(truth.index, fill_value=0) == truth["offers_redeemed"]).all()
    assert (truth["churned_8w"] == (truth["future_visits_8w"] == 0)).all()
    assert not (truth["alive_at_horizon"] & ~truth["alive_at_as_of"]).any()


def test_generate_has_one_purchase_customers_and_very_frequent_ones(large):
    visits = large.truth["observed_visits"]
    assert (visits == 1).sum() > 100
    assert visits.max() >= 80
    assert 12 < len(large.lines) / len(large.customers) < 30  # about 20 lines per customer


def test_truth_higher_latent_rate_makes_more_visits(large):
    truth = large.truth[large.truth["alive_at_as_of"]]
    quartile = pd.qcut(truth["purchase_rate"], 4, labels=False)
    visits = truth.groupby(quartile)["future_visits_8w"].mean()
    assert visits.is_monotonic_increasing
    assert visits.iloc[-1] > 4 * visits.iloc[0]


def test_truth_expected_visits_and_spend_match_realised_future_on_average(large):
    truth = large.truth
    assert truth["future_visits_8w"].mean() == pytest.approx(
        truth["expected_visits_8w"].mean(), rel=0.06
    )
    assert truth["future_spend_8w"].sum() == pytest.approx(
        truth["expected_spend_8w"].sum(), rel=0.08
    )
    dead = truth[~truth["alive_at_as_of"]]
    assert (dead["future_visits_8w"] == 0).all()


def test_truth_redemption_rate_rises_with_latent_propensity(large):
    offers = large.offers.merge(large.truth, on="customer_id")
    code = BONUS_TYPES[0].code
    mine = offers[(offers["bonus_type"] == code) & offers["alive_at_as_of"]]
    bands = pd.qcut(mine[f"response_{code}"], 4, labels=False)
    rate = mine["redeemed_on"].notna().groupby(bands).mean()
    assert rate.is_monotonic_increasing
    assert rate.iloc[-1] > 3 * rate.iloc[0]


def test_truth_redeemed_offers_lift_later_basket_spend(large):
    r = large
    baskets = r.transactions.merge(
        r.lines.groupby("transaction_id", as_index=False)["amount"].sum(), on="transaction_id"
    )
    baskets["day"] = baskets["timestamp"].dt.tz_localize(None).dt.normalize()
    redeemed = r.offers.dropna(subset=["redeemed_on"])[["customer_id", "redeemed_on"]]
    joined = baskets.merge(redeemed, on="customer_id", how="left")
    since = (joined["day"] - joined["redeemed_on"]).dt.days
    joined["lifted"] = since.between(0, 27)
    lifted = joined.groupby(["transaction_id", "customer_id"], as_index=False).agg(
        amount=("amount", "first"), lifted=("lifted", "any")
    )
    lifted = lifted.merge(r.truth[["customer_id", "spend_mean"]], on="customer_id")
    ratio = (lifted["amount"] / lifted["spend_mean"]).groupby(lifted["lifted"]).mean()
    assert ratio[True] > 1.03 * ratio[False]


def test_expected_visits_formula_limits():
    mu = np.array([0.0, 2.0, 5.0])
    assert synthetic.expected_visits(mu, np.zeros(3)) == pytest.approx(mu, abs=1e-9)
    assert synthetic.expected_visits(mu, np.ones(3)) == pytest.approx(1 - np.exp(-mu))
