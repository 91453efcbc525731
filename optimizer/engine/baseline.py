"""Buy-till-you-die baseline: BG/NBD visits and P(alive), Gamma-Gamma spend per visit.

Objective: transparent probabilistic contenders (BG/NBD here, Pareto/NBD in ``pareto.py``),
measured next to the supervised models on the same windows (``champion.py`` serves whichever
wins), and the choice when a tenant's history is too short to train them.

* BG/NBD (Fader, Hardie & Lee 2005, "Counting your customers the easy way"): while alive a
  customer buys at Poisson rate ``lambda ~ Gamma(r, alpha)``; after each purchase they drop out
  with probability ``p ~ Beta(a, b)``. Per customer ``x`` = repeat visits, ``t_x`` = time of the
  last visit, ``T`` = time since the first visit (weeks). Likelihood (paper eq. 6), ``P(alive)``
  (eq. 11) and the conditional expected visits in ``(T, T + t]`` (eq. 10), with the 2F1 rewritten by
  Euler's transformation, ``(1-z)^(r+x) 2F1(r+x, b+x; c; z) = (1-z)^(a-1) 2F1(a+b-1-r, a-1; c; z)``
  with ``c = a+b+x-1`` and ``z = t / (alpha+T+t)``, which stays finite for customers with hundreds
  of visits. As in the paper, a customer with ``x = 0`` has ``P(alive) = 1`` (dropout only happens
  right after a purchase). ``P(no visit in (T, T+t]) = 1 - P(alive) + P(alive) * ((alpha+T) /
  (alpha+T+t))^(r+x)`` since, given alive, ``lambda`` is ``Gamma(r+x, alpha+T)``.
* Gamma-Gamma (Fader, Hardie & Lee 2005, "RFM and CLV"; Fader & Hardie 2013 note): visit values
  ``~ Gamma(p, nu)``, ``nu ~ Gamma(q, gamma)``; the mean ``m`` of ``n`` visits has likelihood
  ``Gamma(pn+q) / (Gamma(pn) Gamma(q)) gamma^q n^(pn) m^(pn-1) / (gamma + n m)^(pn+q)`` and the
  conditional expected value is ``p (gamma + n m) / (p n + q - 1)``; ``q > 1`` is enforced by
  fitting ``log(q - 1)``.

Customers with no visit yet are scored as ``x = 0`` with ``T`` = their tenure (an approximation:
BG/NBD starts at the first purchase); they are not used for fitting.

Constraints: maximum likelihood with ``scipy.optimize.minimize`` (L-BFGS-B) on log-parameters,
on a random sample of at most ``sample_size`` customers; predictions are closed-form and
vectorised for any number of customers.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.optimize import minimize
from scipy.special import expit, gammaln, hyp2f1

from optimizer.engine.pareto import (
    fit_pareto,
    pareto_expected_purchases,
    pareto_p_alive,
    pareto_prob_no_purchase,
)
from optimizer.engine.types import Baseline, BGNBDParams, GammaGammaParams

#: Pareto/NBD is fitted on at most this many of the baseline's customers: each likelihood
#: evaluation costs two hypergeometric functions per customer, and 10,000 customers pin four
#: parameters well (see tests/optimizer/engine/test_pareto.py).
PARETO_SAMPLE = 10_000

_BOUNDS = (-12.0, 12.0)


def rfm_summary(features: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """BG/NBD summary ``(x, t_x, T)`` in weeks from feature columns.

    Uses ``frequency`` (visits), ``recency_days`` and ``days_since_first_purchase``.
    """
    visits = features["frequency"].to_numpy(dtype=np.float64)
    since_first = features["days_since_first_purchase"].to_numpy(dtype=np.float64)
    recency = features["recency_days"].to_numpy(dtype=np.float64)
    x = np.maximum(visits - 1.0, 0.0)
    big_t = since_first / 7.0
    t_x = np.where(visits > 0, np.clip(since_first - recency, 0.0, None) / 7.0, 0.0)
    return x, t_x, big_t


def bgnbd_log_likelihood(
    r: float, alpha: float, a: float, b: float, x: np.ndarray, t_x: np.ndarray, big_t: np.ndarray
) -> np.ndarray:
    """Per-customer BG/NBD log-likelihood (paper eq. 6)."""
    ln_a1 = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
    ln_a2 = gammaln(a + b) + gammaln(b + x) - gammaln(b) - gammaln(a + b + x)
    ln_a3 = -(r + x) * np.log(alpha + big_t)
    repeat = x > 0
    ln_a4 = np.where(
        repeat,
        np.log(a) - np.log(b + np.maximum(x, 1.0) - 1.0) - (r + x) * np.log(alpha + t_x),
        -np.inf,
    )
    return np.asarray(ln_a1 + ln_a2 + np.logaddexp(ln_a3, ln_a4), dtype=np.float64)


def fit_bgnbd(
    x: np.ndarray, t_x: np.ndarray, big_t: np.ndarray, *, weights: np.ndarray | None = None
) -> BGNBDParams | None:
    """Maximum-likelihood BG/NBD parameters; ``None`` if the optimiser fails or data is empty."""
    if x.size == 0 or not np.any(big_t > 0):
        return None
    w = np.ones_like(x) if weights is None else weights
    rate = max(float(np.average(x, weights=w)), 1e-3) / max(
        float(np.average(big_t, weights=w)), 1e-3
    )
    start = np.log([1.0, 1.0 / rate, 1.0, 3.0])

    # Gamma functions only depend on x, which takes few distinct values: evaluate them once each.
    ux, inv = np.unique(x, return_inverse=True)
    repeat = x > 0
    xs = np.maximum(x, 1.0)
    w_total = float(w.sum())

    def objective(theta: np.ndarray) -> float:
        r, alpha, a, b = np.exp(theta)
        by_x = (
            gammaln(r + ux)
            + gammaln(b + ux)
            - gammaln(a + b + ux)
            + (gammaln(a + b) - gammaln(r) - gammaln(b) + r * np.log(alpha))
        )
        ln_a3 = -(r + x) * np.log(alpha + big_t)
        ln_a4 = np.log(a) - np.log(b + xs - 1.0) - (r + x) * np.log(alpha + t_x)
        ll = by_x[inv] + np.logaddexp(ln_a3, np.where(repeat, ln_a4, -np.inf))
        value = -float(np.dot(w, ll)) / w_total
        return value if np.isfinite(value) else 1e12

    result = minimize(objective, start, method="L-BFGS-B", bounds=[_BOUNDS] * 4)
    if not np.all(np.isfinite(result.x)) or result.fun >= 1e12:
        return None
    r, alpha, a, b = (float(v) for v in np.exp(result.x))
    if abs(a - 1.0) < 1e-6:
        a = 1.0 + 1e-6
    return BGNBDParams(r, alpha, a, b, int(x.size), float(-result.fun * w.sum()))


def bgnbd_p_alive(
    params: BGNBDParams, x: np.ndarray, t_x: np.ndarray, big_t: np.ndarray
) -> np.ndarray:
    """P(alive at T | x, t_x, T) (paper eq. 11); exactly 1 where ``x == 0``."""
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    xs = np.maximum(x, 1.0)
    log_odds_dead = (
        np.log(a) - np.log(b + xs - 1.0) + (r + x) * (np.log(alpha + big_t) - np.log(alpha + t_x))
    )
    return np.where(x > 0, expit(-log_odds_dead), 1.0)


def bgnbd_expected_visits(
    params: BGNBDParams, x: np.ndarray, t_x: np.ndarray, big_t: np.ndarray, t: float
) -> np.ndarray:
    """E[visits in (T, T + t] | x, t_x, T] (paper eq. 10, Euler-transformed 2F1); ``t`` in weeks."""
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    c = a + b + x - 1.0
    z = t / (alpha + big_t + t)
    g = np.exp((a - 1.0) * np.log1p(-z)) * hyp2f1(a + b - 1.0 - r, a - 1.0, c, z)
    expected = c / (a - 1.0) * (1.0 - g) * bgnbd_p_alive(params, x, t_x, big_t)
    return np.asarray(np.maximum(np.nan_to_num(expected, nan=0.0, posinf=0.0), 0.0))


def bgnbd_prob_no_visit(
    params: BGNBDParams, x: np.ndarray, t_x: np.ndarray, big_t: np.ndarray, t: float
) -> np.ndarray:
    """P(no visit in (T, T + t] | x, t_x, T) = P(dead) + P(alive) * E[exp(-lambda t) | alive]."""
    alive = bgnbd_p_alive(params, x, t_x, big_t)
    ratio = (params.alpha + big_t) / (params.alpha + big_t + t)
    return np.asarray((1.0 - alive) + alive * np.exp((params.r + x) * np.log(ratio)))


def gamma_gamma_log_likelihood(
    p: float, q: float, gamma: float, n: np.ndarray, m: np.ndarray
) -> np.ndarray:
    """Per-customer Gamma-Gamma log-likelihood of mean visit value ``m`` over ``n`` visits."""
    pn = p * n
    ll = (
        gammaln(pn + q)
        - gammaln(pn)
        - gammaln(q)
        + q * np.log(gamma)
        + (pn - 1.0) * np.log(m)
        + pn * np.log(n)
        - (pn + q) * np.log(gamma + n * m)
    )
    return np.asarray(ll, dtype=np.float64)


def fit_gamma_gamma(n: np.ndarray, m: np.ndarray) -> GammaGammaParams | None:
    """Maximum-likelihood Gamma-Gamma parameters from customers with ``n >= 1``, ``m > 0``."""
    ok = (n >= 1) & (m > 0) & np.isfinite(m)
    n, m = n[ok].astype(np.float64), m[ok].astype(np.float64)
    if n.size < 2:
        return None
    start = np.array([0.0, np.log(2.0), np.log(float(np.mean(m)) * 3.0)])

    def objective(theta: np.ndarray) -> float:
        p, q, gamma = np.exp(theta[0]), 1.0 + np.exp(theta[1]), np.exp(theta[2])
        value = -float(np.mean(gamma_gamma_log_likelihood(p, q, gamma, n, m)))
        return value if np.isfinite(value) else 1e12

    bounds = [_BOUNDS, _BOUNDS, (-12.0, 25.0)]
    result = minimize(objective, start, method="L-BFGS-B", bounds=bounds)
    if not np.all(np.isfinite(result.x)) or result.fun >= 1e12:
        return None
    p, q, gamma = (
        float(np.exp(result.x[0])),
        1.0 + float(np.exp(result.x[1])),
        float(np.exp(result.x[2])),
    )
    return GammaGammaParams(p, q, gamma, int(n.size), float(-result.fun * n.size))


def gamma_gamma_expected_value(
    params: GammaGammaParams, n: np.ndarray, m: np.ndarray
) -> np.ndarray:
    """E[visit value | n visits of mean m]; at n = 0 the population mean ``p gamma / (q-1)``."""
    n = np.asarray(n, dtype=np.float64)
    m = np.where(n > 0, np.maximum(np.asarray(m, dtype=np.float64), 0.0), 0.0)
    return np.asarray(params.p * (params.gamma + n * m) / (params.p * n + params.q - 1.0))


def fit_baseline(
    features: pd.DataFrame,
    *,
    sample_size: int,
    min_customers: int,
    random_state: int,
    with_pareto: bool = True,
) -> Baseline:
    """Fit BG/NBD, Pareto/NBD and Gamma-Gamma on customers with at least one visit.

    Args:
        features: output of :func:`optimizer.engine.features.features_at` (uses ``frequency``,
            ``recency_days``, ``days_since_first_purchase``, ``avg_visit_spend``).
        sample_size: fit on a random sample of at most this many purchasing customers.
        min_customers: fewer purchasing customers than this: no BG/NBD nor Pareto/NBD.
        random_state: seed of the sample.
        with_pareto: also fit Pareto/NBD (``False`` where only BG/NBD and Gamma-Gamma are
            used, e.g. the models' BTYD features: its likelihood costs two hypergeometric
            functions per customer and evaluation, most of a fit's CPU).

    Returns:
        The :class:`Baseline`; parts that could not be fitted (or not asked for) are ``None``.
    """
    visits = features["frequency"].to_numpy()
    buyers = np.flatnonzero(visits > 0)
    spend = features["avg_visit_spend"].to_numpy(dtype=np.float64)
    fallback_value = float(spend[buyers].mean()) if buyers.size else 0.0
    if buyers.size > sample_size:
        rng = np.random.default_rng(random_state)
        buyers = np.sort(rng.choice(buyers, size=sample_size, replace=False))
    if buyers.size < min_customers:
        return Baseline(None, None, fallback_value)
    x, t_x, big_t = rfm_summary(features.iloc[buyers])
    bgnbd = fit_bgnbd(x, t_x, big_t) if np.any(x > 0) else None
    pareto = (
        fit_pareto(x, t_x, big_t, sample_size=PARETO_SAMPLE, random_state=random_state)
        if with_pareto
        else None
    )
    gamma_gamma = fit_gamma_gamma(visits[buyers].astype(np.float64), spend[buyers])
    return Baseline(bgnbd, gamma_gamma, fallback_value, pareto)


def _visit_value(baseline: Baseline, features: pd.DataFrame) -> np.ndarray:
    if baseline.gamma_gamma is None:
        return np.full(len(features), baseline.fallback_visit_value)
    return gamma_gamma_expected_value(
        baseline.gamma_gamma,
        features["frequency"].to_numpy(),
        features["avg_visit_spend"].to_numpy(),
    )


def pareto_predict(
    baseline: Baseline, features: pd.DataFrame, horizon_weeks: int, clv_weeks: int
) -> pd.DataFrame | None:
    """Closed-form Pareto/NBD scores (columns as :func:`baseline_predict`); ``None`` if
    Pareto/NBD could not be fitted (or the baseline predates it)."""
    params = getattr(baseline, "pareto", None)
    if params is None:
        return None
    x, t_x, big_t = rfm_summary(features)
    value = _visit_value(baseline, features)
    alive = pareto_p_alive(params, x, t_x, big_t)  # once: each costs a hypergeometric pair
    visits = pareto_expected_purchases(params, x, t_x, big_t, float(horizon_weeks), alive)
    year = pareto_expected_purchases(params, x, t_x, big_t, float(clv_weeks), alive)
    return pd.DataFrame(
        {
            "p_alive": alive,
            "churn_probability": pareto_prob_no_purchase(
                params, x, t_x, big_t, float(horizon_weeks), alive
            ),
            "expected_visits": visits,
            "expected_spend": visits * value,
            "clv": year * value,
        },
        index=features.index,
    )


def baseline_predict(
    baseline: Baseline, features: pd.DataFrame, horizon_weeks: int, clv_weeks: int
) -> pd.DataFrame | None:
    """Closed-form baseline scores; ``None`` if BG/NBD could not be fitted.

    Returns:
        Frame aligned with ``features``: ``p_alive``, ``churn_probability`` (P(no visit in the
        horizon)), ``expected_visits``, ``expected_spend`` (visits x Gamma-Gamma value) and
        ``clv`` (expected visits over ``clv_weeks`` x value), all float64.
    """
    params = baseline.bgnbd
    if params is None:
        return None
    x, t_x, big_t = rfm_summary(features)
    value = _visit_value(baseline, features)
    visits = bgnbd_expected_visits(params, x, t_x, big_t, float(horizon_weeks))
    year = bgnbd_expected_visits(params, x, t_x, big_t, float(clv_weeks))
    return pd.DataFrame(
        {
            "p_alive": bgnbd_p_alive(params, x, t_x, big_t),
            "churn_probability": bgnbd_prob_no_visit(params, x, t_x, big_t, float(horizon_weeks)),
            "expected_visits": visits,
            "expected_spend": visits * value,
            "clv": year * value,
        },
        index=features.index,
    )
