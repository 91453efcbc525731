"""Offer response: labels within validity, priors without history, learned types with it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from optimizer.engine.features import BASE_FEATURES, type_feature_columns
from optimizer.engine.history import day_of, prepare_history
from optimizer.engine.response import _outcomes, _prior_rates, fit_response, prior_response
from optimizer.engine.types import ScoringConfig
from tests.optimizer.engine.conftest import HAND_AS_OF, frame


def test_outcome_needs_redemption_within_validity_and_before_cutoff(hand_made):
    offers = pd.concat(
        [
            hand_made["offers"],
            frame(
                customer_id=[2],
                bonus_type=["dbl"],
                sent_on=["2024-01-01"],
                valid_until=["2024-01-05"],
                redeemed_on=["2024-01-09"],  # too late: not a response
            ),
        ],
        ignore_index=True,
    )
    history = prepare_history(hand_made["baskets"], hand_made["customers"], offers=offers)
    known, redeemed = _outcomes(history, day_of(HAND_AS_OF))
    assert known.tolist() == [True, True, True, True]
    assert redeemed.tolist() == [True, False, False, False]
    known, redeemed = _outcomes(history, day_of("2024-01-10"))
    assert known.tolist() == [False, False, False, True]


def test_prior_shrinks_customers_towards_the_type_rate():
    features = pd.DataFrame(
        {"offers_redeemed": [0.0, 4.0, 0.0], "offers_resolved": [0.0, 4.0, 8.0]}
    )
    p = prior_response(0.3, 0.2, 4.0, features)
    assert p[0] == pytest.approx(0.3)  # no history: the type rate
    assert p[1] == pytest.approx(0.3 * (4 + 0.8) / 8 / 0.2)  # strong redeemer: lifted
    assert p[2] < p[0]


def test_new_bonus_type_gets_a_prior_and_history_types_are_learned(scored):
    response = scored.model.response
    assert set(response.learned_types) == set(response.bonus_types)
    assert scored.metrics["response"]["learned_types"] == sorted(response.learned_types)
    assert all(0 < r < 1 for r in response.type_rates.values())


def test_prior_rates_follow_the_beta_posterior(population):
    history = prepare_history(
        population.baskets.head(0),
        population.customers,
        offers=population.offers,
        bonus_types=["brand_new"],
    )
    config = ScoringConfig()
    rates, overall, _ = _prior_rates(history, day_of(population.as_of), config)
    assert rates["brand_new"] == pytest.approx(overall)  # no history: the overall rate

    o = population.offers
    as_of = pd.Timestamp(population.as_of)
    # Only offers whose validity ended count: an open offer's outcome is not known yet.
    known = (o["sent_on"] < as_of) & (o["valid_until"] < as_of)
    hit = known & (o["redeemed_on"] <= o["valid_until"])
    pct = o["bonus_type"] == "pct_off"
    assert overall == pytest.approx(hit.sum() / known.sum())
    k = config.type_prior_strength
    by_hand = ((hit & pct).sum() + k * overall) / ((known & pct).sum() + k)
    assert rates["pct_off"] == pytest.approx(by_hand)


def test_an_open_offer_already_redeemed_is_not_yet_a_training_outcome(population):
    """Counting early "yes" answers of open offers (but not their pending "no") biases upwards."""
    from optimizer.engine.response import _outcomes

    history = prepare_history(
        population.baskets.head(0), population.customers, offers=population.offers
    )
    cutoff = day_of(population.as_of)
    known, redeemed = _outcomes(history, cutoff)
    still_open = (history.offer_sent < cutoff) & (history.offer_valid >= cutoff)
    assert (still_open & (history.offer_redeemed < cutoff)).any()  # the case exists here
    assert not (known & still_open).any()
    assert not (redeemed & ~known).any()


def _window_history(seed: int = 3, n: int = 1_500):
    """Customers visiting every ``gap`` days; offers of 3..21 days, redeemed on a visit inside
    the window with probability 0.7: redemption is driven by the window and the next visit."""
    rng = np.random.default_rng(seed)
    start, end = np.datetime64("2023-01-02"), np.datetime64("2024-06-30")
    days = int((end - start).astype(int))
    gaps = rng.integers(3, 31, n)
    phase = rng.integers(0, 30, n)
    owner, day = [], []
    for i in range(n):
        d = np.arange(phase[i], days, gaps[i])
        owner.append(np.full(d.size, i))
        day.append(d)
    owner, day = np.concatenate(owner), np.concatenate(day)
    ids = np.arange(n, dtype=np.int64) + 1
    baskets = pd.DataFrame(
        {
            "customer_id": ids[owner],
            "date": (start + day).astype("datetime64[s]"),
            "amount": 20.0,
            "discount": 0.0,
        }
    )
    customers = pd.DataFrame({"customer_id": ids, "enrolled_on": pd.NaT}).astype(
        {"enrolled_on": "datetime64[s]"}
    )
    o_owner = rng.integers(0, n, 12 * n)
    sent = rng.integers(120, days - 25, o_owner.size)
    window = rng.choice([3, 7, 14, 21], o_owner.size)
    # first visit on or after the send day
    first = phase[o_owner] + gaps[o_owner] * np.ceil(
        np.maximum(sent - phase[o_owner], 0) / gaps[o_owner]
    ).astype(np.int64)
    redeemed = (first <= sent + window - 1) & (rng.random(o_owner.size) < 0.7)
    offers = pd.DataFrame(
        {
            "customer_id": ids[o_owner],
            "bonus_type": rng.choice(["c10", "pts"], o_owner.size),
            "sent_on": (start + sent).astype("datetime64[s]"),
            "valid_until": (start + sent + window - 1).astype("datetime64[s]"),
            "redeemed_on": pd.to_datetime(
                np.where(redeemed, (start + first).astype("datetime64[D]"), np.datetime64("NaT"))
            ),
        }
    )
    return prepare_history(baskets, customers, offers=offers), day_of(str(end))


def test_window_adjustment_validates_better_on_the_offer_history():
    history, as_of = _window_history(n=800)
    columns = BASE_FEATURES + type_feature_columns(history.bonus_types)
    _, metrics = fit_response(
        history,
        as_of_day=as_of,
        horizon_weeks=8,
        feature_columns=columns,
        config=ScoringConfig(),
        random_state=0,
    )
    holdout = metrics["holdout"]
    before, after = holdout["model"], holdout["window_adjusted"]
    assert after["before"] == "model"
    assert after["n"] == before["n"] > 500
    assert after["auc"] > before["auc"] + 0.03
    assert after["brier"] < before["brier"]
    # calibrated: the mean P(redeem) stays near the observed rate
    assert abs(after["mean_prediction"] - after["base_rate"]) < 0.05
    assert set(metrics["visit_reference"]) == {"c10", "pts"}
    assert all(0 < v <= 1 for v in metrics["visit_reference"].values())
