"""The points ledger: earn, bonus credit, redeem, expire, adjust and claw back.

Every write locks the customer row (``select_for_update``), reads the last entry of the customer's
chain and appends the next ``seq`` with its ``balance_after``. The lock serialises writers of one
customer; the unique ``(customer, seq)`` index and the ``balance_after >= 0`` check are the
backstop if a writer ever forgot it. Which points are spent or expire first (the soonest-expiring,
i.e. the oldest) is computed from the chain by :mod:`customers.points_fifo`.

Idempotency: a transaction earns (or is clawed back) once and a bonus credits once; repeating the
call returns the existing entry (unique constraints back this too). Baskets the till records, which
then earn here, are :mod:`customers.services.till`.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.db.models import Q, Sum
from django.utils import timezone

from customers.events import points_changed_emit

# Re-exported: callers import the ledger errors from here as well as from customers.exceptions.
from customers.exceptions import (  # noqa: F401
    InsufficientPoints,
    InvalidPointsAmount,
    PointsBalanceLimit,
    PointsError,
    TransactionConflict,
)
from customers.models import (
    MAX_POINTS_BALANCE,
    Customer,
    PointsEntry,
    PointsKind,
    Transaction,
)
from customers.points_fifo import Lot, Movement, lots_from_chain, next_expiry, points_due_to_expire
from retailers.models import Retailer

if TYPE_CHECKING:
    from loyalty_site.users import User


@dataclass(frozen=True)
class PointsSummary:
    """What the till and the portal show: balance and the next expiry."""

    balance: int
    next_expiry_on: dt.date | None
    next_expiry_points: int


def retailer_today(retailer: Retailer, now: dt.datetime | None = None) -> dt.date:
    """Today's business date in the retailer's time zone."""
    return (now or timezone.now()).astimezone(retailer.tz).date()


def _expiry(retailer: Retailer, on: dt.date) -> dt.date:
    return on + dt.timedelta(days=retailer.points_validity_days)


def _lock(customer_id: int) -> Customer:
    return Customer.objects.select_for_update().select_related("retailer").get(pk=customer_id)


def _balance(customer_id: int) -> tuple[int, int]:
    last = (
        PointsEntry.objects.filter(customer_id=customer_id)
        .order_by("-seq")
        .values_list("seq", "balance_after")
        .first()
    )
    return last or (0, 0)


def _append(customer: Customer, *, kind: str, points: int, **fields: Any) -> PointsEntry:
    """Append one movement to ``customer``'s chain; the caller holds the customer row lock."""
    seq, balance = _balance(customer.pk)
    if balance + points < 0:
        raise InsufficientPoints(
            f"Customer {customer.external_id} has {balance} points; {-points} were asked for."
        )
    if balance + points > MAX_POINTS_BALANCE:
        raise PointsBalanceLimit(
            f"Customer {customer.external_id} has {balance} points; {points} more would pass "
            f"the largest balance, {MAX_POINTS_BALANCE}."
        )
    entry = PointsEntry.objects.create(
        retailer_id=customer.retailer_id,
        customer=customer,
        seq=seq + 1,
        kind=kind,
        points=points,
        balance_after=balance + points,
        **fields,
    )
    return points_changed_emit(entry, customer)


def points_for_amount(*, retailer: Retailer, amount: Decimal) -> int:
    """The earning rule: ``floor(amount x points_per_currency_unit)`` for a positive amount."""
    if amount <= 0:
        return 0
    return math.floor(amount * retailer.points_per_currency_unit)


def _basket_total(txn: Transaction) -> Decimal:
    return sum((line.amount for line in txn.lines.all()), Decimal("0.00"))


@transaction.atomic
def points_earn(*, txn: Transaction) -> PointsEntry | None:
    """Credit the points a basket earns (a return basket is clawed back instead).

    Returns the entry (the existing one when called twice), or ``None`` when the basket earns
    nothing (total under one currency unit).
    """
    customer = _lock(txn.customer_id)
    total = _basket_total(txn)
    if total < 0:
        return _clawback(customer, txn, total)
    existing = PointsEntry.objects.filter(transaction=txn, kind=PointsKind.EARNED).first()
    if existing is not None:
        return existing
    points = points_for_amount(retailer=customer.retailer, amount=total)
    if points == 0:
        return None
    earned_on = txn.timestamp.astimezone(customer.retailer.tz).date()
    return _append(
        customer,
        kind=PointsKind.EARNED,
        points=points,
        transaction=txn,
        expires_on=_expiry(customer.retailer, earned_on),
    )


def _clawback(customer: Customer, txn: Transaction, total: Decimal) -> PointsEntry | None:
    existing = PointsEntry.objects.filter(transaction=txn, kind=PointsKind.CLAWBACK).first()
    if existing is not None:
        return existing
    wanted = points_for_amount(retailer=customer.retailer, amount=-total)
    # Points already spent cannot be taken back: claw back at most the balance.
    points = min(wanted, _balance(customer.pk)[1])
    if points == 0:
        return None
    return _append(
        customer,
        kind=PointsKind.CLAWBACK,
        points=-points,
        transaction=txn,
        reason=f"Returned purchase {txn.external_id} ({wanted} points earned on it)",
    )


@transaction.atomic
def points_clawback(*, txn: Transaction) -> PointsEntry | None:
    """Take back the points of a returned purchase (a basket with a negative total). Idempotent."""
    customer = _lock(txn.customer_id)
    return _clawback(customer, txn, -abs(_basket_total(txn)))


@transaction.atomic
def points_bonus_credit(*, bonus: Any, points: int | None = None) -> PointsEntry | None:
    """Credit a points bonus (kind ``bonus``) once; repeating returns the existing entry."""
    amount = bonus.points if points is None else points
    customer = _lock(bonus.customer_id)
    existing = PointsEntry.objects.filter(bonus=bonus, kind=PointsKind.BONUS).first()
    if existing is not None or amount <= 0:
        return existing
    return _append(
        customer,
        kind=PointsKind.BONUS,
        points=amount,
        bonus=bonus,
        reason=f"Bonus {bonus.code}",
        expires_on=_expiry(customer.retailer, retailer_today(customer.retailer)),
    )


@transaction.atomic
def points_redeem(
    *, customer: Customer, points: int, reason: str = "", actor: User | None = None
) -> PointsEntry:
    """Spend ``points`` of ``customer`` (oldest first, see the module docstring).

    Raises:
        InvalidPointsAmount: ``points`` is not positive.
        InsufficientPoints: the balance is smaller.
    """
    if points <= 0:
        raise InvalidPointsAmount("Redeem a positive number of points.")
    locked = _lock(customer.pk)
    user = actor if getattr(actor, "is_authenticated", False) else None
    return _append(
        locked, kind=PointsKind.REDEEMED, points=-points, reason=reason[:255], created_by=user
    )


@transaction.atomic
def points_adjust(
    *, customer: Customer, points: int, reason: str, actor: User | None = None
) -> PointsEntry:
    """A manual correction by staff, positive or negative, with a mandatory reason.

    Positive adjustments expire like earned points.

    Raises:
        InvalidPointsAmount: zero points or an empty reason.
        InsufficientPoints: a negative adjustment larger than the balance.
    """
    if points == 0 or not reason.strip():
        raise InvalidPointsAmount("An adjustment needs a non-zero amount and a reason.")
    locked = _lock(customer.pk)
    expires_on = _expiry(locked.retailer, retailer_today(locked.retailer)) if points > 0 else None
    user = actor if getattr(actor, "is_authenticated", False) else None
    return _append(
        locked,
        kind=PointsKind.ADJUSTMENT,
        points=points,
        reason=reason[:255],
        created_by=user,
        expires_on=expires_on,
    )


def _lots(customer_id: int) -> list[Lot]:
    rows = PointsEntry.objects.filter(customer_id=customer_id).values_list(
        "seq", "points", "expires_on"
    )
    return lots_from_chain(Movement(seq, points, expires_on) for seq, points, expires_on in rows)


@transaction.atomic
def points_expire(*, customer: Customer, as_of: dt.date | None = None) -> PointsEntry | None:
    """Expire ``customer``'s points whose date is ``as_of`` (default: today) or earlier."""
    locked = _lock(customer.pk)
    as_of = as_of or retailer_today(locked.retailer)
    due = points_due_to_expire(_lots(locked.pk), as_of)
    if due <= 0:
        return None
    return _append(
        locked, kind=PointsKind.EXPIRED, points=-due, reason=f"Points expired by {as_of}"
    )


def points_expire_due(*, as_of: dt.date | None = None) -> int:
    """Expire due points of every customer (the daily schedule). Returns the points expired.

    Candidates are customers with a credit dated ``as_of`` or earlier and a positive balance;
    each is handled in its own short transaction.
    """
    candidates = (
        PointsEntry.objects.filter(points__gt=0, expires_on__isnull=False)
        .filter(expires_on__lte=as_of or (timezone.now().date() + dt.timedelta(days=1)))
        .values_list("customer_id", flat=True)
        .distinct()
    )
    expired = 0
    for customer in Customer.objects.filter(pk__in=list(candidates)).select_related("retailer"):
        entry = points_expire(customer=customer, as_of=as_of)
        expired += -entry.points if entry else 0
    return expired


def points_summary(*, customer: Customer, as_of: dt.date | None = None) -> PointsSummary:
    """Balance and next expiry (date and points) of ``customer``."""
    as_of = as_of or retailer_today(customer.retailer)
    rows = list(
        PointsEntry.objects.filter(customer_id=customer.pk)
        .order_by("seq")
        .values_list("seq", "points", "expires_on", "balance_after")
    )
    balance = rows[-1][3] if rows else 0
    lots = lots_from_chain(Movement(seq, points, expires) for seq, points, expires, _ in rows)
    upcoming = next_expiry(lots, as_of) if balance else None
    return PointsSummary(
        balance=balance,
        next_expiry_on=upcoming[0] if upcoming else None,
        next_expiry_points=upcoming[1] if upcoming else 0,
    )


def points_ledger_total(*, customer: Customer) -> int:
    """Sum of every movement: always equals the balance of the last entry."""
    return PointsEntry.objects.filter(customer=customer).aggregate(t=Sum("points"))["t"] or 0


def points_history(*, customer: Customer, limit: int = 50) -> list[PointsEntry]:
    """The latest movements, newest first."""
    return list(
        PointsEntry.objects.filter(customer=customer).filter(~Q(points=0)).order_by("-seq")[:limit]
    )
