"""Outcome labels over a future window ``[start, start + horizon)``.

Objective: the supervised targets of the customer models, defined once:

* ``visits``: number of visit days (days with a purchase transaction) in the window;
* ``spend``: net spend in the window (purchases minus returns), floored at 0 for training;
* ``churned``: 1 if the customer made no purchase in the window, else 0;
* ``baskets``: number of purchase transactions (baskets) in the window: a visit day may hold
  several baskets, and the allocation counts till encounters in baskets.

Constraints: only rows with ``start <= day < end`` are read, where the caller guarantees
``end <= as_of`` (the engine never labels with data on or after ``as_of``); vectorised.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from optimizer.engine.types import History


def window_labels(history: History, start_day: int, horizon_weeks: int) -> pd.DataFrame:
    """Labels of every customer of ``history`` over ``[start_day, start_day + 7*horizon_weeks)``.

    Args:
        history: prepared history.
        start_day: first day of the window (int day number).
        horizon_weeks: window length in weeks (> 0).

    Returns:
        One row per customer in ``history.customer_ids`` order: ``customer_id`` int64, ``visits``
        int32, ``spend`` float64 (net, may be negative), ``churned`` int8, ``baskets`` int32.

    Raises:
        ValueError: if ``horizon_weeks`` is not positive.
    """
    if horizon_weeks <= 0:
        raise ValueError(f"horizon_weeks must be positive, got {horizon_weeks}")
    n = history.n_customers
    end = int(start_day) + 7 * int(horizon_weeks)
    inside = (history.day_day >= start_day) & (history.day_day < end)
    cust = history.day_customer[inside]
    net = history.day_gross[inside].astype(np.float64) - history.day_returns[inside]
    bought = history.day_transactions[inside] > 0
    visits = np.bincount(cust[bought], minlength=n)
    spend = np.bincount(cust, weights=net, minlength=n)
    baskets = np.bincount(cust, weights=history.day_transactions[inside], minlength=n)
    return pd.DataFrame(
        {
            "customer_id": history.customer_ids,
            "visits": visits.astype(np.int32),
            "spend": spend,
            "churned": (visits == 0).astype(np.int8),
            "baskets": baskets.astype(np.int32),
        }
    )
