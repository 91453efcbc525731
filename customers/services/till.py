"""Baskets recorded from the till (POS): the transaction and its lines, then its points.

The ledger itself (earning, balances) is :mod:`customers.services.points`; this module owns the
transaction record the till sends, idempotent by the till's transaction id.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from customers.exceptions import TransactionConflict
from customers.models import Customer, PointsEntry, PointsKind, Transaction, TransactionLine
from customers.services.points import _balance, _basket_total, points_earn
from customers.services.till_limits import transaction_limits_check
from retailers.models import Product, Retailer, Store


@dataclass(frozen=True)
class RecordedTransaction:
    """A basket recorded from the till, with its points movement."""

    txn: Transaction
    total: Decimal
    points: int
    balance: int
    created: bool


def _resolve_lines(retailer: Retailer, lines: list[dict[str, Any]]) -> dict[str, int]:
    skus = {line["sku"] for line in lines}
    found = dict(
        Product.objects.for_retailer(retailer).filter(sku__in=skus).values_list("sku", "pk")
    )
    unknown = sorted(skus - found.keys())
    if unknown:
        raise ValidationError({"lines": [f"Unknown SKU(s): {', '.join(unknown[:10])}."]})
    return found


def _recorded(txn: Transaction, created: bool) -> RecordedTransaction:
    entry = (
        PointsEntry.objects.filter(
            transaction=txn, kind__in=[PointsKind.EARNED, PointsKind.CLAWBACK]
        )
        .order_by("-seq")
        .first()
    )
    return RecordedTransaction(
        txn=txn,
        total=_basket_total(txn),
        points=entry.points if entry else 0,
        balance=_balance(txn.customer_id)[1],
        created=created,
    )


def _lines_create(txn: Transaction, lines: list[dict[str, Any]], products: dict[str, int]) -> None:
    TransactionLine.objects.bulk_create(
        TransactionLine(
            retailer_id=txn.retailer_id,
            transaction=txn,
            line_no=i,
            product_id=products[line["sku"]],
            quantity=line["quantity"],
            amount=line["amount"],
            discount=line.get("discount") or Decimal("0.00"),
        )
        for i, line in enumerate(lines, start=1)
    )


@transaction.atomic(durable=True)
def transaction_record(
    *,
    retailer: Retailer,
    external_id: str,
    customer_external_id: str,
    timestamp: dt.datetime,
    lines: list[dict[str, Any]],
    store_external_id: str = "",
) -> RecordedTransaction:
    """Record a basket from the till and earn (or claw back) its points; idempotent by id.

    Sending the same transaction id again returns the stored basket (``created=False``) and
    changes nothing.

    Raises:
        django.core.exceptions.ValidationError: unknown customer, store or SKU, or a basket
            outside the retailer's till limits (by field; see ``till_limits``).
        TransactionConflict: the id belongs to another customer's basket.
    """
    existing = Transaction.objects.for_retailer(retailer).filter(external_id=external_id).first()
    customer = (
        Customer.objects.for_retailer(retailer).filter(external_id=customer_external_id).first()
    )
    if customer is None:
        raise ValidationError({"customer_id": ["Unknown customer at this retailer."]})
    if existing is not None:
        if existing.customer_id != customer.pk:
            raise TransactionConflict(f"Transaction {external_id} belongs to another customer.")
        return _recorded(existing, created=False)
    transaction_limits_check(retailer=retailer, timestamp=timestamp, lines=lines)
    store = None
    if store_external_id:
        store = Store.objects.for_retailer(retailer).filter(external_id=store_external_id).first()
        if store is None:
            raise ValidationError({"store_id": ["Unknown store at this retailer."]})
    products = _resolve_lines(retailer, lines)
    txn = Transaction(
        retailer=retailer,
        external_id=external_id,
        customer=customer,
        store=store,
        timestamp=timestamp,
    )
    try:
        with transaction.atomic():
            txn.save()
    except IntegrityError:
        # A concurrent request recorded it first: answer like a repeat.
        return _recorded(
            Transaction.objects.for_retailer(retailer).get(external_id=external_id), created=False
        )
    _lines_create(txn, lines, products)
    points_earn(txn=txn)
    return _recorded(txn, created=True)
