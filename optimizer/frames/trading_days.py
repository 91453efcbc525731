"""Trading days per week of a retailer: how the promotion engine tells partial weeks.

A week in which the chain sold on fewer days than in a full week (the first and last week of an
export that starts or ends mid-week, a closure) is not a week of demand; the engine leaves it out
of training and of every lag (``optimizer.engine.promotions.panel.partial_weeks``). The days
are the retailer-local dates with at least one transaction, chain-wide.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from optimizer import queries
from optimizer.engine.promotions.panel import week_date, week_numbers
from optimizer.frames.common import days_to_datetime, query_frame
from retailers.models import Retailer


def trading_days_frame(*, retailer: Retailer, since: dt.date, before: dt.date) -> pd.DataFrame:
    """Distinct local trading days per Monday week of [``since``, ``before``):
    ``week_start`` datetime64[s], ``trading_days`` int64 (weeks without a sale are absent)."""
    params = {
        "tz": retailer.time_zone,
        "start": dt.datetime.combine(since, dt.time.min, tzinfo=retailer.tz),
        "cutoff": dt.datetime.combine(before, dt.time.min, tzinfo=retailer.tz),
    }
    days = query_frame(queries.trading_days(), retailer.pk, params, ["day"], {})["day"]
    days = days_to_datetime(days.astype("float64"))
    counts = pd.Series(week_numbers(days)).value_counts().sort_index()
    return pd.DataFrame(
        {
            "week_start": pd.to_datetime([week_date(w) for w in counts.index]).astype(
                "datetime64[s]"
            ),
            "trading_days": counts.to_numpy(np.int64),
        }
    )
