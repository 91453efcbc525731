"""An approved week of promotions, published for the tills and the web shop (docs/promotions.md).

Publishing is computed from the approved proposal rather than copied: the proposal is frozen
once approved (items are only dropped while it is proposed), so its items are the published
list. Each row says what the till applies: the SKU, where (the whole chain: proposals are
chain-wide), the regular and promoted price, the discount and the dates. The same rows feed the
CSV download, ``manage.py export_promotions``, the ``promotion.approved`` webhook and
``GET /api/v1/promotions/current/``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from django.db.models import QuerySet

from campaigns.models import PromotionItem, PromotionProposal, ProposalState
from loyalty_site import safe_csv
from loyalty_site.money import quantize

#: Columns of the published file, in order.
CSV_COLUMNS = (
    "sku",
    "product",
    "scope",
    "store",
    "regular_price",
    "promoted_price",
    "discount_rate",
    "valid_from",
    "valid_to",
)
#: Proposals are chain-wide: every store applies the promotion.
CHAIN = "chain"


def published_items(proposals: QuerySet[PromotionProposal]) -> QuerySet[PromotionItem]:
    """The items of the approved ``proposals``, with their products, in week and rank order."""
    return (
        PromotionItem.objects.filter(proposal__in=proposals, proposal__state=ProposalState.APPROVED)
        .select_related("product", "proposal")
        .order_by("proposal__week_start", "rank", "pk")
    )


def promotion_row(item: PromotionItem) -> dict[str, Any]:
    """What a till needs to apply ``item``: prices as ``Decimal``, dates as ``date``."""
    price = item.product.price
    rate = Decimal(item.discount_rate)
    start = item.proposal.week_start
    return {
        "sku": item.product.sku,
        "product": item.product.name,
        "scope": CHAIN,
        "store": None,
        "regular_price": price,
        "promoted_price": quantize(price * (Decimal(1) - rate)),
        "discount_rate": rate,
        "valid_from": start,
        "valid_to": start + dt.timedelta(days=6),
    }


def promotion_rows(proposal: PromotionProposal) -> list[dict[str, Any]]:
    """The published rows of one approved proposal (empty unless it is approved)."""
    items = published_items(PromotionProposal.objects.filter(pk=proposal.pk))
    return [promotion_row(item) for item in items]


def promotions_current(*, retailer_id: int, today: dt.date) -> QuerySet[PromotionItem]:
    """The retailer's approved items whose week contains ``today`` (the retailer's date)."""
    proposals = PromotionProposal.objects.for_retailer(retailer_id).filter(
        week_start__lte=today, week_start__gt=today - dt.timedelta(days=7)
    )
    return published_items(proposals)


def promotions_csv_write(rows: Iterable[dict[str, Any]], out: Any) -> int:
    """Write ``rows`` as the published CSV (formula-safe) to the text stream ``out``."""
    writer = safe_csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    count = 0
    for row in rows:
        writer.writerow([row[column] for column in CSV_COLUMNS])
        count += 1
    return count
