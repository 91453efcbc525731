"""Customer attributes the allocation's coupling rules select on: store, region and channel.

``segment`` is already a column of the scores. The others are read only when a rule of the run
uses them (the home store scans a year of baskets):

* ``store``: the external id of the store of most of the customer's baskets in the 52 weeks
  before the scores' date (ties: the latest visit); ``""`` without a basket at a store.
* ``region``: that store's region (``""`` when none).
* ``channel``: ``email`` when the offer e-mail reaches the customer (marketing consent and an
  address, as ``campaigns.services.delivery`` decides), else ``till`` (till and portal only).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from optimizer import queries
from optimizer.frames.common import query_frame
from optimizer.models import AllocationRun

HOME_STORE_WEEKS = 52


def _home_stores(run: AllocationRun) -> pd.DataFrame:
    scoring, tz = run.scoring_run, run.retailer.tz
    cutoff = dt.datetime.combine(scoring.as_of, dt.time.min, tzinfo=tz)
    start = dt.datetime.combine(
        scoring.as_of - dt.timedelta(weeks=HOME_STORE_WEEKS), dt.time.min, tzinfo=tz
    )
    names = ["customer_id", "store", "region"]
    dtypes = {"customer_id": "int64", "store": "str", "region": "str"}
    values = {"run": scoring.pk, "start": start, "cutoff": cutoff}
    frame = query_frame(queries.run_home_stores(), run.retailer_id, values, names, dtypes)
    return frame.astype(dtypes).fillna({"region": ""})


def _has_email(run: AllocationRun) -> pd.Series:
    names = ["customer_id", "has_email"]
    values = {"run": run.scoring_run_id}
    frame = query_frame(
        queries.run_email_addresses(), run.retailer_id, values, names, {"customer_id": "int64"}
    )
    flags = frame["has_email"].map(lambda v: v in (True, 1, "t", "true", "True"))
    return pd.Series(flags.to_numpy(dtype=bool), index=frame["customer_id"].to_numpy())


def customer_attributes_add(
    run: AllocationRun, customers: pd.DataFrame, attributes: set[str]
) -> pd.DataFrame:
    """``customers`` (with ``customer_id`` and ``marketing_consent``) with the columns of
    ``attributes`` among ``store``, ``region`` and ``channel`` added (str)."""
    out = customers.copy()
    ids = out["customer_id"]
    if attributes & {"store", "region"}:
        homes = _home_stores(run).set_index("customer_id")
        for column in ("store", "region"):
            if column in attributes:
                out[column] = ids.map(homes[column]).fillna("").astype("str")
    if "channel" in attributes:
        email = ids.map(_has_email(run)).fillna(False).astype(bool)
        reached = out["marketing_consent"].astype(bool).to_numpy() & email.to_numpy()
        out["channel"] = pd.Series(np.where(reached, "email", "till"), index=out.index, dtype="str")
    return out
