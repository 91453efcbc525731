"""Approved weeks of promotions as promotion history, so that the outcome of every week the
platform promoted feeds the next backtest and the lift model (docs/promotions.md).

An approved proposal is chain-wide and offered to every loyalty member, so each of its
product-weeks enters the panel as a mailer to every store (mailer share 1, no display): the
engine's own reading of "a promotion to every member" (``typical_promotion``'s default).
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

from campaigns.models import PromotionItem, ProposalState


def with_approved_weeks(
    history: pd.DataFrame, *, retailer_id: int, since: dt.date, before: dt.date, stores: int
) -> pd.DataFrame:
    """``history`` (``PromotionHistory`` frame) plus the approved proposals' product-weeks in
    [``since``, ``before``) as a mailer to every store; a product-week in both keeps the larger
    share of each kind."""
    approved = PromotionItem.objects.for_retailer(retailer_id).filter(
        proposal__state=ProposalState.APPROVED,
        proposal__week_start__gte=since,
        proposal__week_start__lt=before,
    )
    records = list(approved.values_list("product_id", "proposal__week_start"))
    if not records:
        return history
    extra = pd.DataFrame.from_records(records, columns=["product_id", "week_start"])
    extra["week_start"] = pd.to_datetime(extra["week_start"]).astype("datetime64[s]")
    extra["display_stores"] = 0
    extra["mailer_stores"] = stores
    both = pd.concat([history, extra.astype(history.dtypes.to_dict())], ignore_index=True)
    merged = both.groupby(["product_id", "week_start"], as_index=False)[
        ["display_stores", "mailer_stores"]
    ].max()
    return merged.astype(history.dtypes.to_dict())
