"""BG/NBD and Gamma-Gamma: parameter recovery, textbook identities, calibration."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import hyp2f1

from optimizer.engine.baseline import (
    bgnbd_expected_visits,
    bgnbd_p_alive,
    bgnbd_prob_no_visit,
    fit_bgnbd,
    fit_gamma_gamma,
    gamma_gamma_expected_value,
)
from optimizer.engine.types import BGNBDParams, GammaGammaParams
from tests.optimizer.engine.simulation import simulate_bgnbd, simulate_gamma_gamma

TRUE = BGNBDParams(r=0.6, alpha=4.0, a=0.8, b=2.5, n_fitted=0, log_likelihood=0.0)
HORIZON = 8.0


@pytest.fixture(scope="module")
def sample():
    return simulate_bgnbd(
        20_000, r=TRUE.r, alpha=TRUE.alpha, a=TRUE.a, b=TRUE.b, horizon=HORIZON, seed=11
    )


def test_fit_bgnbd_recovers_known_parameters(sample):
    fitted = fit_bgnbd(sample.x, sample.t_x, sample.big_t)
    assert fitted is not None
    assert fitted.r == pytest.approx(TRUE.r, rel=0.15)
    assert fitted.alpha == pytest.approx(TRUE.alpha, rel=0.15)
    assert fitted.a == pytest.approx(TRUE.a, rel=0.25)
    assert fitted.b == pytest.approx(TRUE.b, rel=0.25)


def test_bgnbd_with_true_parameters_is_calibrated(sample):
    expected = bgnbd_expected_visits(TRUE, sample.x, sample.t_x, sample.big_t, HORIZON)
    assert expected.sum() == pytest.approx(sample.future.sum(), rel=0.05)
    alive = bgnbd_p_alive(TRUE, sample.x, sample.t_x, sample.big_t)
    assert alive.mean() == pytest.approx(sample.alive.mean(), abs=0.02)
    none = bgnbd_prob_no_visit(TRUE, sample.x, sample.t_x, sample.big_t, HORIZON)
    assert none.mean() == pytest.approx((sample.future == 0).mean(), abs=0.02)


def test_bgnbd_p_alive_is_one_without_repeat_purchase():
    # Fader, Hardie & Lee (2005), eq. 11: dropout only follows a repeat purchase.
    t = np.array([10.0, 40.0, 70.0])
    assert np.all(bgnbd_p_alive(TRUE, np.zeros(3), np.zeros(3), t) == 1.0)


def test_bgnbd_p_alive_falls_with_silence_and_rises_with_recency():
    x = np.full(4, 5.0)
    longer_silence = bgnbd_p_alive(TRUE, x, np.full(4, 20.0), np.array([20.0, 30.0, 50.0, 80.0]))
    assert np.all(np.diff(longer_silence) < 0)
    more_recent = bgnbd_p_alive(TRUE, x, np.array([5.0, 20.0, 35.0, 50.0]), np.full(4, 50.0))
    assert np.all(np.diff(more_recent) > 0)


def test_bgnbd_expected_visits_monotone_in_frequency_recency_and_time():
    x = np.array([0.0, 1.0, 3.0, 10.0, 30.0])
    just_bought = bgnbd_expected_visits(TRUE, x, np.full(5, 52.0), np.full(5, 52.0), HORIZON)
    assert np.all(np.diff(just_bought) > 0)
    x = np.full(4, 4.0)
    recency = bgnbd_expected_visits(TRUE, x, np.array([5.0, 20, 35, 50]), np.full(4, 50.0), 8)
    assert np.all(np.diff(recency) > 0)
    one = (np.array([3.0]), np.array([30.0]), np.array([40.0]))
    by_t = [bgnbd_expected_visits(TRUE, *one, t)[0] for t in (1.0, 4.0, 8.0, 52.0)]
    assert np.all(np.diff(by_t) > 0)


def test_bgnbd_euler_form_equals_paper_formula_and_stays_finite():
    r, alpha, a, b = TRUE.r, TRUE.alpha, TRUE.a, TRUE.b
    x = np.array([0.0, 1.0, 2.0, 7.0, 15.0])
    t_x = np.array([0.0, 3.0, 20.0, 30.0, 39.0])
    big_t = np.full(5, 40.0)
    t = HORIZON
    paper = (
        (a + b + x - 1)
        / (a - 1)
        * (
            1
            - ((alpha + big_t) / (alpha + big_t + t)) ** (r + x)
            * hyp2f1(r + x, b + x, a + b + x - 1, t / (alpha + big_t + t))
        )
        / (
            1
            + (x > 0)
            * a
            / (b + np.maximum(x, 1) - 1)
            * ((alpha + big_t) / (alpha + t_x)) ** (r + x)
        )
    )
    ours = bgnbd_expected_visits(TRUE, x, t_x, big_t, t)
    np.testing.assert_allclose(ours, paper, rtol=1e-9)
    heavy = bgnbd_expected_visits(TRUE, np.array([500.0]), np.array([60.0]), np.array([60.0]), 8)
    assert np.isfinite(heavy[0])
    assert heavy[0] > 10


def test_bgnbd_prob_no_visit_bounds():
    x, t_x, big_t = np.array([0.0, 2.0, 9.0]), np.array([0.0, 5.0, 40.0]), np.full(3, 50.0)
    none = bgnbd_prob_no_visit(TRUE, x, t_x, big_t, HORIZON)
    dead = 1.0 - bgnbd_p_alive(TRUE, x, t_x, big_t)
    assert np.all((none >= dead) & (none <= 1.0))


def test_fit_gamma_gamma_recovers_known_parameters():
    visits, value = simulate_gamma_gamma(20_000, p=6.0, q=4.0, gamma=15.0, seed=5)
    fitted = fit_gamma_gamma(visits, value)
    assert fitted is not None
    assert fitted.p == pytest.approx(6.0, rel=0.15)
    assert fitted.q == pytest.approx(4.0, rel=0.2)
    assert fitted.gamma == pytest.approx(15.0, rel=0.25)


def test_gamma_gamma_expected_value_shrinks_towards_population_mean():
    params = GammaGammaParams(p=6.0, q=4.0, gamma=15.0, n_fitted=0, log_likelihood=0.0)
    population = params.p * params.gamma / (params.q - 1)  # 30
    value = gamma_gamma_expected_value(params, np.array([0.0, 1.0, 10.0]), np.full(3, 60.0))
    assert value[0] == pytest.approx(population)
    assert population < value[1] < value[2] < 60.0


def test_fits_return_none_on_empty_data():
    empty = np.zeros(0)
    assert fit_bgnbd(empty, empty, empty) is None
    assert fit_gamma_gamma(empty, empty) is None
