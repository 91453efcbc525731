"""Pareto/NBD: closed forms against numerical integration, and recovery of known parameters."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.integrate import quad

from optimizer.engine.baseline import fit_baseline, pareto_predict
from optimizer.engine.pareto import (
    fit_pareto,
    log_death_integral,
    pareto_expected_purchases,
    pareto_log_likelihood,
    pareto_p_alive,
    pareto_prob_no_purchase,
)
from optimizer.engine.synthetic_retailers import simulate_pareto_summaries
from optimizer.engine.types import ParetoNBDParams

TRUE = {"r": 0.55, "alpha": 10.6, "s": 0.6, "beta": 11.7}


@pytest.mark.parametrize(("alpha", "beta"), [(5.0, 10.0), (10.0, 5.0), (7.0, 7.0)])
@pytest.mark.parametrize(("x", "lo", "hi"), [(0, 0.0, 30.0), (3, 10.0, 50.0), (40, 20.0, 26.0)])
def test_log_death_integral_matches_quadrature(
    alpha: float, beta: float, x: int, lo: float, hi: float
) -> None:
    k, s = 0.6 + x, 0.9
    exact, _ = quad(lambda y: (alpha + y) ** -k * (beta + y) ** -(s + 1), lo, hi, epsrel=1e-12)
    got = log_death_integral(np.array([k]), s, alpha, beta, np.array([lo]), np.array([hi]))
    assert got[0] == pytest.approx(np.log(exact), rel=1e-9)


def test_log_likelihood_stays_finite_for_hundreds_of_purchases() -> None:
    ll = pareto_log_likelihood(
        0.5, 10.0, 0.6, 12.0, np.array([400.0]), np.array([77.0]), np.array([78.0])
    )
    assert np.isfinite(ll[0])


def test_likelihood_is_a_probability_density_over_x_for_a_fixed_t() -> None:
    # With t_x integrated out, P(X = x) sums to 1 over x; check the x = 0 term by hand instead:
    # P(X(T) = 0) = (alpha/(alpha+T))^r * [(beta/(beta+T))^s + s beta^s I(0, T)].
    r, alpha, s, beta, big_t = 0.8, 4.0, 1.3, 9.0, 20.0
    ll = pareto_log_likelihood(
        r, alpha, s, beta, np.array([0.0]), np.array([0.0]), np.array([big_t])
    )
    integral, _ = quad(
        lambda y: s * beta**s * (beta + y) ** -(s + 1) * (alpha / (alpha + y)) ** r, 0.0, big_t
    )
    by_hand = (alpha / (alpha + big_t)) ** r * (beta / (beta + big_t)) ** s + integral
    assert np.exp(ll[0]) == pytest.approx(by_hand, rel=1e-9)


def test_fit_recovers_known_parameters_and_predicts_the_next_39_weeks() -> None:
    x, t_x, big_t, future, alive = simulate_pareto_summaries(8_000, **TRUE, horizon=39.0, seed=1)
    params = fit_pareto(x, t_x, big_t)
    assert params is not None
    for name, value in TRUE.items():
        assert getattr(params, name) == pytest.approx(value, rel=0.35), name
    truth_ll = pareto_log_likelihood(*TRUE.values(), x, t_x, big_t).sum()
    assert params.log_likelihood >= truth_ll - 1e-6  # the optimum is at least as likely
    assert pareto_p_alive(params, x, t_x, big_t).mean() == pytest.approx(alive.mean(), abs=0.03)
    expected = pareto_expected_purchases(params, x, t_x, big_t, 39.0)
    assert expected.mean() == pytest.approx(future.mean(), rel=0.08)
    none = pareto_prob_no_purchase(params, x, t_x, big_t, 39.0)
    assert none.mean() == pytest.approx((future == 0).mean(), abs=0.02)
    # Ranking: the customers it expects most from really buy more.
    top = expected >= np.quantile(expected, 0.9)
    assert future[top].mean() > 3 * future.mean()


def test_p_alive_is_below_one_without_repeat_purchase_unlike_bgnbd() -> None:
    params = ParetoNBDParams(0.5, 10.0, 0.6, 12.0, 0, 0.0)
    long_ago = pareto_p_alive(
        params, np.array([0.0, 0.0]), np.array([0.0, 0.0]), np.array([1.0, 60.0])
    )
    assert 0.0 < long_ago[1] < long_ago[0] < 1.0


def test_expected_purchases_at_s_equal_one_is_the_limit() -> None:
    x, t_x, big_t = np.array([2.0]), np.array([10.0]), np.array([30.0])
    at_one = ParetoNBDParams(0.7, 5.0, 1.0, 8.0, 0, 0.0)
    near = ParetoNBDParams(0.7, 5.0, 1.0 + 1e-4, 8.0, 0, 0.0)
    assert pareto_expected_purchases(at_one, x, t_x, big_t, 12.0)[0] == pytest.approx(
        pareto_expected_purchases(near, x, t_x, big_t, 12.0)[0], rel=1e-3
    )


def test_fit_returns_none_without_repeat_purchases() -> None:
    zeros = np.zeros(50)
    assert fit_pareto(zeros, zeros, np.full(50, 10.0)) is None


def test_baseline_fits_pareto_next_to_bgnbd_and_predicts_from_features() -> None:
    x, t_x, big_t, _, _ = simulate_pareto_summaries(2_000, **TRUE, horizon=12.0, seed=2)
    features = pd.DataFrame(
        {
            "frequency": x + 1,
            "days_since_first_purchase": big_t * 7,
            "recency_days": (big_t - t_x) * 7,
            "avg_visit_spend": np.full(x.size, 30.0),
        }
    )
    baseline = fit_baseline(features, sample_size=5_000, min_customers=30, random_state=0)
    assert baseline.pareto is not None
    assert baseline.bgnbd is not None
    scores = pareto_predict(baseline, features, 12, 52)
    assert scores is not None
    assert list(scores.columns) == [
        "p_alive",
        "churn_probability",
        "expected_visits",
        "expected_spend",
        "clv",
    ]
    assert np.all(np.isfinite(scores.to_numpy()))
    assert np.all((scores["churn_probability"] >= 0) & (scores["churn_probability"] <= 1))
    assert np.all(scores["clv"] >= scores["expected_spend"])
    # P(alive) is computed once and shared: the same figures as each function on its own.
    params, sx, stx, sbt = baseline.pareto, x.astype(float), t_x, big_t
    np.testing.assert_allclose(scores["p_alive"], pareto_p_alive(params, sx, stx, sbt))
    np.testing.assert_allclose(
        scores["expected_visits"], pareto_expected_purchases(params, sx, stx, sbt, 12.0)
    )
    np.testing.assert_allclose(
        scores["churn_probability"], pareto_prob_no_purchase(params, sx, stx, sbt, 12.0)
    )
