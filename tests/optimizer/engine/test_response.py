"""Offer response: labels within validity, priors without history, learned types with it."""

from __future__ import annotations

import pandas as pd
import pytest

from optimizer.engine.history import day_of, prepare_history
from optimizer.engine.response import _outcomes, _prior_rates, prior_response
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
