"""Short human-readable reasons per customer, naming the main drivers of their scores.

Objective: one line per customer such as "63 days since last visit, usual gap 9 days; spend down
40% vs previous quarter" that a store manager can read without knowing the model.

Rule: every candidate driver in :data:`DRIVERS` has an applicability condition and a salience score
computed from the features (higher = more unusual for this customer); the two most salient
applicable drivers are shown, most salient first, joined by "; ". The fallback ("N visits in 52
weeks, average basket X") always applies with the lowest salience and is shown only alone, so no
customer gets an empty reason. The salience scores are documented in :func:`_candidates`.

Constraints: vectorised (numpy masks and pandas string concatenation over the selected rows, no
per-customer Python except the float formatting of one column); about a second per million rows.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

DRIVERS: tuple[str, ...] = (
    "no_purchase",
    "lapsed",
    "one_visit",
    "new_member",
    "spend_change",
    "offers",
    "frequent",
    "discount",
    "returns",
    "big_basket",
    "on_track",
    "summary",
)

Builder = Callable[[pd.DataFrame], pd.Series]

_USED: tuple[str, ...] = (
    "frequency",
    "frequency_13w",
    "frequency_52w",
    "recency_days",
    "mean_gap_days",
    "tenure_days",
    "spend_change_13w",
    "spend_prev_13w",
    "offers_resolved",
    "offers_redeemed",
    "discount_share",
    "returns_share",
    "avg_basket",
)


def _int(values: pd.Series) -> pd.Series:
    return values.round().astype(np.int64).astype("str")


def _pct(values: pd.Series) -> pd.Series:
    return (values * 100).round().astype(np.int64).abs().astype("str")


def _plural(values: pd.Series, word: str) -> pd.Series:
    """`` N word`` / `` N words`` after the number."""
    suffix = np.where(values.round().to_numpy() == 1, f" {word}", f" {word}s")
    return _int(values) + pd.Series(suffix, index=values.index, dtype="str")


def _money(values: pd.Series) -> pd.Series:
    cents = (values.astype(np.float64) * 100).round().astype(np.int64).abs()
    whole = (cents // 100).astype("str")
    return whole + "." + (cents % 100).astype("str").str.zfill(2)


def _builders() -> dict[str, Builder]:
    return {
        "no_purchase": lambda f: "no purchase yet, member for " + _plural(f["tenure_days"], "day"),
        "lapsed": lambda f: (
            _int(f["recency_days"])
            + " days since last visit, usual gap "
            + _int(f["mean_gap_days"])
            + " days"
        ),
        "one_visit": lambda f: "one visit so far, " + _plural(f["recency_days"], "day") + " ago",
        "new_member": lambda f: "new member, joined " + _plural(f["tenure_days"], "day") + " ago",
        "spend_change": lambda f: (
            "spend "
            + pd.Series(np.where(f["spend_change_13w"] < 0, "down ", "up "), index=f.index)
            + _pct(f["spend_change_13w"])
            + "% vs previous quarter"
        ),
        "offers": lambda f: (
            "redeemed "
            + _int(f["offers_redeemed"])
            + " of "
            + _plural(f["offers_resolved"], "offer")
        ),
        "frequent": lambda f: _plural(f["frequency_13w"], "visit") + " in the last 13 weeks",
        "discount": lambda f: _pct(f["discount_share"]) + "% of spend on discount",
        "returns": lambda f: "returned " + _pct(f["returns_share"]) + "% of purchases",
        "big_basket": lambda f: "average basket " + _money(f["avg_basket"]) + " (top 10%)",
        "on_track": lambda f: (
            "last visit "
            + _int(f["recency_days"])
            + " days ago, usual gap "
            + _int(f["mean_gap_days"])
            + " days"
        ),
        "summary": lambda f: (
            _plural(f["frequency_52w"], "visit")
            + " in 52 weeks, average basket "
            + _money(f["avg_basket"])
        ),
    }


def reason_reference(features: pd.DataFrame) -> dict[str, float]:
    """Tenant-level references of the reasons, computed once (e.g. on the training sample).

    Returns:
        ``{"tenant_rate": mean redemption rate of customers with >= 2 resolved offers (0 if
        none), "top_basket": 90th percentile of ``avg_basket`` among buyers (inf with < 10)}``.
    """
    resolved = features["offers_resolved"].to_numpy(dtype=np.float64)
    redeemed = features["offers_redeemed"].to_numpy(dtype=np.float64)
    has = resolved >= 2
    rate = float((redeemed[has] / resolved[has]).mean()) if has.any() else 0.0
    basket = features["avg_basket"].to_numpy(dtype=np.float64)[features["frequency"].to_numpy() > 0]
    top = float(np.quantile(basket, 0.9)) if basket.size >= 10 else float("inf")
    return {"tenant_rate": rate, "top_basket": top}


def _candidates(f: pd.DataFrame, reference: dict[str, float]) -> np.ndarray:
    """Salience per (customer, driver); ``-inf`` where the driver does not apply.

    * no_purchase 6 (never visited); new_member 4 (tenure < 56 days, visited);
    * lapsed ``recency / usual gap`` (>= 2 visits, recency >= 14 days and > 1.5 gaps);
    * one_visit 1.8; spend_change ``1 + 2 |change|`` (earlier quarter had spend, |change| >= 20%);
    * offers ``1.2 + 2 |rate - tenant rate|`` (>= 2 resolved offers);
    * frequent ``1 + visits_13w / 13`` (>= 6 visits in 13 weeks, not lapsed);
    * discount ``1 + 2 share`` (share >= 25%); returns ``1 + 4 share`` (share >= 10%);
    * big_basket 1.4 (average basket in the tenant's top 10%);
    * on_track 0.8 (>= 2 visits, not lapsed); summary 0.1 (always).
    """

    def col(name: str) -> np.ndarray:
        return np.asarray(f[name].to_numpy(dtype=np.float64))

    n = len(f)
    visits, recency, gap = col("frequency"), col("recency_days"), col("mean_gap_days")
    tenure, change = col("tenure_days"), col("spend_change_13w")
    resolved, redeemed = col("offers_resolved"), col("offers_redeemed")
    v13, disc, ret, basket = (
        col("frequency_13w"),
        col("discount_share"),
        col("returns_share"),
        col("avg_basket"),
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        lapse_ratio = np.where(gap > 0, recency / gap, 0.0)
        rate = np.where(resolved > 0, redeemed / resolved, 0.0)
    lapsed = (visits >= 2) & (recency >= 14) & (lapse_ratio > 1.5)
    has_offers = resolved >= 2
    tenant_rate, top_basket = reference["tenant_rate"], reference["top_basket"]
    ninf = np.full(n, -np.inf)
    rules = {
        "no_purchase": (visits == 0, 6.0),
        "lapsed": (lapsed, lapse_ratio),
        "one_visit": (visits == 1, 1.8),
        "new_member": ((tenure < 56) & (visits > 0), 4.0),
        "spend_change": (
            (col("spend_prev_13w") > 0) & (np.abs(change) >= 0.2),
            1.0 + 2.0 * np.abs(change),
        ),
        "offers": (has_offers, 1.2 + 2.0 * np.abs(rate - tenant_rate)),
        "frequent": ((v13 >= 6) & ~lapsed, 1.0 + v13 / 13.0),
        "discount": (disc >= 0.25, 1.0 + 2.0 * disc),
        "returns": (ret >= 0.10, 1.0 + 4.0 * ret),
        "big_basket": ((visits > 0) & (basket >= top_basket), 1.4),
        "on_track": ((visits >= 2) & ~lapsed, 0.8),
        "summary": (np.ones(n, dtype=bool), 0.1),
    }
    return np.column_stack([np.where(rules[d][0], rules[d][1], ninf) for d in DRIVERS])


def explain(
    features: pd.DataFrame,
    *,
    reference: dict[str, float] | None = None,
    max_drivers: int = 2,
) -> pd.Series:
    """One reason string per customer.

    Args:
        features: feature frame (see ``features.features_at``); uses ``frequency``,
            ``frequency_13w``, ``frequency_52w``, ``recency_days``, ``mean_gap_days``,
            ``tenure_days``, ``spend_change_13w``, ``spend_prev_13w``, ``offers_resolved``,
            ``offers_redeemed``, ``discount_share``, ``returns_share``, ``avg_basket``.
        reference: :func:`reason_reference` of the tenant; computed from ``features`` if
            ``None`` (pass it when scoring in chunks so that every chunk uses the same one).
        max_drivers: how many drivers to name (1 or more).

    Returns:
        pandas ``str`` Series aligned with ``features``.
    """
    n = len(features)
    if n == 0:
        return pd.Series([], index=features.index, dtype="str")
    frame = features[list(_USED)].reset_index(drop=True)
    salience = _candidates(frame, reference or reason_reference(frame))
    order = np.argsort(-salience, axis=1, kind="stable")[:, :max_drivers]
    builders = _builders()
    reason = pd.Series([""] * n, dtype="str")
    for rank in range(order.shape[1]):
        chosen = order[:, rank]
        valid = np.isfinite(salience[np.arange(n), chosen])
        if rank > 0:
            valid &= chosen != DRIVERS.index("summary")  # the fallback never follows a driver
        part = pd.Series([""] * n, dtype="str")
        for j, driver in enumerate(DRIVERS):
            rows = np.flatnonzero(valid & (chosen == j))
            if rows.size:
                part.iloc[rows] = builders[driver](frame.iloc[rows]).to_numpy()
        sep = "" if rank == 0 else "; "
        reason = reason.where(~valid, reason + sep + part)
    reason.index = features.index
    return reason
