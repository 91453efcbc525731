"""Pareto/NBD: the classic buy-till-you-die model for sparse, long-horizon purchase histories.

Objective: a second probabilistic contender next to BG/NBD (``baseline.py``). Written here from
the published formulas (Schmittlein, Morrison & Colombo 1987; Fader & Hardie 2005, "A note on
deriving the Pareto/NBD model and related expressions") because the maintained Python packages
that ship it (``lifetimes``) are unmaintained and pull in a heavy dependency tree.

Story (time in weeks): while alive a customer buys at Poisson rate ``lambda ~ Gamma(r, alpha)``;
their lifetime is exponential with rate ``mu ~ Gamma(s, beta)``, independent of ``lambda``. Unlike
BG/NBD, a customer can die at any moment (not only right after a purchase), so a customer with no
repeat purchase can still be dead. Per customer ``x`` = repeat purchases, ``t_x`` = time of the
last one, ``T`` = time since the first one.

* Likelihood: ``L = Gamma(r+x) alpha^r beta^s / Gamma(r) * [(alpha+T)^-(r+x) (beta+T)^-s
  + s * I(t_x, T)]`` with ``I(u, v) = int_u^v (alpha+y)^-(r+x) (beta+y)^-(s+1) dy`` (the death
  happens at ``y`` between the last purchase and ``T``). ``I`` has the closed form
  ``(F(u) - F(v)) / (r+s+x)``, where (with ``k = r+x``) for ``alpha >= beta``
  ``F(y) = (beta+y)^-s (alpha+y)^-k 2F1(1, k; k+s+1; (alpha-beta)/(alpha+y))`` and for
  ``alpha < beta`` ``F(y) = (alpha+y)^(1-k) (beta+y)^-(s+1) 2F1(1, s+1; k+s+1;
  (beta-alpha)/(beta+y))``. These are the note's hypergeometric terms after Euler's
  transformation ``2F1(a,b;c;z) = (1-z)^(c-a-b) 2F1(c-a,c-b;c;z)``: the remaining series has
  positive terms and stays finite for customers with hundreds of purchases (the textbook form
  ``2F1(r+s+x, s+1; r+s+x+1; z) / (alpha+y)^(r+s+x)`` overflows there).
* ``P(alive at T) = (alpha+T)^-k (beta+T)^-s / [(alpha+T)^-k (beta+T)^-s + s I(t_x, T)]``.
* Given alive at ``T``, ``lambda ~ Gamma(k, alpha+T)`` and ``mu ~ Gamma(s, beta+T)``:
  ``E[purchases in (T, T+t]] = P(alive) * k (beta+T) / ((alpha+T)(s-1)) * (1 - ((beta+T) /
  (beta+T+t))^(s-1))`` (``k (beta+T)/(alpha+T) log((beta+T+t)/(beta+T))`` at ``s = 1``), and
  ``P(no purchase in (T, T+t] | alive) = ((alpha+T)/(alpha+T+t))^k ((beta+T)/(beta+T+t))^s +
  s (alpha+T)^k (beta+T)^s I(T, T+t)``: no purchase before the window ends or before death.

Constraints: pure numpy/scipy; maximum likelihood with L-BFGS-B on log-parameters over a sample
of at most ``sample_size`` customers (each evaluation costs two hypergeometric functions per
customer); predictions are vectorised and finite for any number of customers.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize
from scipy.special import expit, gammaln, hyp2f1

from optimizer.engine.types import ParetoNBDParams

_BOUNDS = (-12.0, 12.0)


def _log_f(k: np.ndarray, s: float, alpha: float, beta: float, y: np.ndarray | float) -> np.ndarray:
    """``log F(y)`` of the module docstring (``k = r + x``), for either order of alpha, beta."""
    y = np.asarray(y, dtype=np.float64)
    c = k + s + 1.0
    if alpha >= beta:
        z = (alpha - beta) / (alpha + y)
        f = hyp2f1(1.0, k, c, z)
        return np.asarray(-s * np.log(beta + y) - k * np.log(alpha + y) + np.log(f))
    z = (beta - alpha) / (beta + y)
    f = hyp2f1(1.0, s + 1.0, c, z)
    return np.asarray((1.0 - k) * np.log(alpha + y) - (s + 1.0) * np.log(beta + y) + np.log(f))


def log_death_integral(
    k: np.ndarray, s: float, alpha: float, beta: float, lo: np.ndarray, hi: np.ndarray
) -> np.ndarray:
    """``log int_lo^hi (alpha+y)^-k (beta+y)^-(s+1) dy`` (``-inf`` where ``hi <= lo``)."""
    k = np.asarray(k, dtype=np.float64)
    lo = np.asarray(lo, dtype=np.float64)
    hi = np.asarray(hi, dtype=np.float64)
    f_lo = _log_f(k, s, alpha, beta, lo)
    f_hi = _log_f(k, s, alpha, beta, hi)
    diff = np.minimum(f_hi - f_lo, 0.0)
    with np.errstate(divide="ignore"):
        tail = np.log(-np.expm1(diff))
    out = f_lo + tail - np.log(k + s)
    return np.asarray(np.where(hi > lo, out, -np.inf))


def _terms(
    r: float, alpha: float, s: float, beta: float, x: np.ndarray, t_x: np.ndarray, big_t: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """``(log alive term, log dead term)``: alive at T, and died between t_x and T."""
    k = r + x
    alive = -k * np.log(alpha + big_t) - s * np.log(beta + big_t)
    dead = np.log(s) + log_death_integral(k, s, alpha, beta, t_x, big_t)
    return np.asarray(alive), dead


def pareto_log_likelihood(
    r: float, alpha: float, s: float, beta: float, x: np.ndarray, t_x: np.ndarray, big_t: np.ndarray
) -> np.ndarray:
    """Per-customer Pareto/NBD log-likelihood (module docstring)."""
    alive, dead = _terms(r, alpha, s, beta, x, t_x, big_t)
    head = gammaln(r + x) - gammaln(r) + r * np.log(alpha) + s * np.log(beta)
    return np.asarray(head + np.logaddexp(alive, dead), dtype=np.float64)


def fit_pareto(
    x: np.ndarray,
    t_x: np.ndarray,
    big_t: np.ndarray,
    *,
    sample_size: int = 10_000,
    random_state: int = 0,
) -> ParetoNBDParams | None:
    """Maximum-likelihood Pareto/NBD parameters; ``None`` if the data is empty or the fit fails.

    Args:
        x, t_x, big_t: repeat purchases, time of the last one and time since the first one
            (weeks), one entry per customer with at least one purchase.
        sample_size: fit on a random sample of at most this many customers.
        random_state: seed of the sample.
    """
    x, t_x, big_t = (np.asarray(v, dtype=np.float64) for v in (x, t_x, big_t))
    if x.size == 0 or not np.any(big_t > 0) or not np.any(x > 0):
        return None
    if x.size > sample_size:
        keep = np.random.default_rng(random_state).choice(x.size, size=sample_size, replace=False)
        x, t_x, big_t = x[keep], t_x[keep], big_t[keep]
    rate = max(float(x.mean()), 1e-3) / max(float(big_t.mean()), 1e-3)
    start = np.log([1.0, 1.0 / rate, 1.0, 50.0])

    def objective(theta: np.ndarray) -> float:
        r, alpha, s, beta = np.exp(theta)
        with np.errstate(all="ignore"):
            value = -float(np.mean(pareto_log_likelihood(r, alpha, s, beta, x, t_x, big_t)))
        return value if np.isfinite(value) else 1e12

    result = minimize(objective, start, method="L-BFGS-B", bounds=[_BOUNDS] * 4)
    if not np.all(np.isfinite(result.x)) or result.fun >= 1e12:
        return None
    r, alpha, s, beta = (float(v) for v in np.exp(result.x))
    return ParetoNBDParams(r, alpha, s, beta, int(x.size), float(-result.fun * x.size))


def pareto_p_alive(
    params: ParetoNBDParams, x: np.ndarray, t_x: np.ndarray, big_t: np.ndarray
) -> np.ndarray:
    """P(alive at T | x, t_x, T)."""
    with np.errstate(all="ignore"):
        alive, dead = _terms(params.r, params.alpha, params.s, params.beta, x, t_x, big_t)
        p = expit(alive - dead)
    return np.asarray(np.nan_to_num(p, nan=1.0), dtype=np.float64)


def pareto_expected_purchases(
    params: ParetoNBDParams,
    x: np.ndarray,
    t_x: np.ndarray,
    big_t: np.ndarray,
    t: float,
    p_alive: np.ndarray | None = None,
) -> np.ndarray:
    """E[purchases in (T, T + t] | x, t_x, T]; ``t`` in weeks. ``p_alive``: the customers'
    :func:`pareto_p_alive` when the caller has it already (it is the costly part)."""
    r, alpha, s, beta = params.r, params.alpha, params.s, params.beta
    k = r + np.asarray(x, dtype=np.float64)
    a_t, b_t = alpha + big_t, beta + big_t
    log_ratio = np.log(b_t + t) - np.log(b_t)
    if abs(s - 1.0) < 1e-6:
        per_alive = k * b_t / a_t * log_ratio
    else:
        per_alive = k * b_t / (a_t * (s - 1.0)) * -np.expm1(-(s - 1.0) * log_ratio)
    alive = pareto_p_alive(params, x, t_x, big_t) if p_alive is None else p_alive
    out = per_alive * alive
    return np.asarray(np.maximum(np.nan_to_num(out, nan=0.0, posinf=0.0), 0.0))


def pareto_prob_no_purchase(
    params: ParetoNBDParams,
    x: np.ndarray,
    t_x: np.ndarray,
    big_t: np.ndarray,
    t: float,
    p_alive: np.ndarray | None = None,
) -> np.ndarray:
    """P(no purchase in (T, T + t] | x, t_x, T) = P(dead) + P(alive) P(none | alive);
    ``p_alive`` as in :func:`pareto_expected_purchases`."""
    r, alpha, s, beta = params.r, params.alpha, params.s, params.beta
    k = r + np.asarray(x, dtype=np.float64)
    big_t = np.asarray(big_t, dtype=np.float64)
    a_t, b_t = alpha + big_t, beta + big_t
    with np.errstate(all="ignore"):
        survive = k * (np.log(a_t) - np.log(a_t + t)) + s * (np.log(b_t) - np.log(b_t + t))
        die_first = (
            np.log(s)
            + k * np.log(a_t)
            + s * np.log(b_t)
            + log_death_integral(k, s, alpha, beta, big_t, big_t + t)
        )
        none_if_alive = np.clip(np.exp(np.logaddexp(survive, die_first)), 0.0, 1.0)
    alive = pareto_p_alive(params, x, t_x, big_t) if p_alive is None else p_alive
    out = (1.0 - alive) + alive * np.nan_to_num(none_if_alive, nan=1.0)
    return np.asarray(np.clip(out, 0.0, 1.0))
