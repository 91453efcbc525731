"""Shared pieces of the frame readers: the customer filter, parameters and the query runner."""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass
from typing import Any

import pandas as pd
from django.db import connection

from loyalty_site.sql import RetailerSQL
from retailers.models import Retailer


@dataclass(frozen=True)
class CustomerFilter:
    """Which customers to read: an inclusive id range, an explicit id list, or (neither) all."""

    first_id: int | None = None
    last_id: int | None = None
    ids: tuple[int, ...] | None = None

    def sql(self, column: str, params: dict[str, Any]) -> str:
        """An ``AND ...`` clause on ``column`` (adds its values to ``params``), or ``""``."""
        clauses = []
        if self.first_id is not None:
            params["first_id"] = self.first_id
            clauses.append(f"{column} >= %(first_id)s")
        if self.last_id is not None:
            params["last_id"] = self.last_id
            clauses.append(f"{column} <= %(last_id)s")
        if self.ids is not None:
            params["ids"] = list(self.ids)
            clauses.append(f"{column} = ANY(%(ids)s::bigint[])")
        return "".join(f" AND {clause}" for clause in clauses)


ALL_CUSTOMERS = CustomerFilter()


@dataclass(frozen=True)
class ScoringFrames:
    """The engine's input frames for one set of customers (columns: see each reader)."""

    customers: pd.DataFrame
    baskets: pd.DataFrame
    category_days: pd.DataFrame
    offers: pd.DataFrame


def cutoff_of(retailer: Retailer, as_of: dt.date) -> dt.datetime:
    """Midnight starting ``as_of`` in the retailer's time zone: the first instant not read."""
    return dt.datetime.combine(as_of, dt.time.min, tzinfo=retailer.tz)


def base_params(retailer: Retailer, as_of: dt.date) -> dict[str, Any]:
    """Query parameters every reader uses (the retailer's id is bound by the statement)."""
    return {
        "cutoff": cutoff_of(retailer, as_of),
        "as_of": as_of,
        "tz": retailer.time_zone,
    }


def days_to_datetime(days: pd.Series) -> pd.Series:
    """Day numbers since 1970-01-01 (NaN for none) -> datetime64[s] (NaT for none)."""
    return pd.to_datetime(days, unit="D").astype("datetime64[s]")


def query_frame(
    query: RetailerSQL,
    retailer_id: int,
    values: dict[str, Any],
    names: list[str],
    dtypes: dict[str, str],
) -> pd.DataFrame:
    """Rows of ``query`` (an ``optimizer.queries`` statement) for one retailer as a frame,
    streamed out with ``COPY (...) TO STDOUT`` (CSV)."""
    buffer = io.BytesIO()
    statement = f"COPY ({query.text}) TO STDOUT WITH (FORMAT csv)"
    params = query.params(retailer_id, **values)
    with connection.cursor() as cursor, cursor.cursor.copy(statement, params) as copy:
        for data in copy:
            buffer.write(data)
    if buffer.tell() == 0:
        return pd.DataFrame({n: pd.Series(dtype=dtypes.get(n, "float64")) for n in names})
    buffer.seek(0)
    return pd.read_csv(buffer, names=names, header=None, dtype=dtypes, na_values=[""])
