"""The bounds of what a till may record: the retailer's line, basket, points and time limits.

A basket line of 999,999,999.99 used to credit 999,999,999 points, and purchases dated 1970 or
9998 were stored (and the latter overflowed the expiry date into a 500). Each retailer sets its
limits in the admin (``Retailer.till_*``); a basket outside them is refused as a whole with a
``ValidationError`` naming the field, which the API answers 400 ``invalid``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.utils import timezone

from retailers.models import Retailer


def transaction_limits_check(
    *,
    retailer: Retailer,
    timestamp: dt.datetime,
    lines: Sequence[dict[str, Any]],
    now: dt.datetime | None = None,
) -> None:
    """Refuse a basket outside ``retailer``'s till limits.

    Args:
        timestamp: when the purchase happened (aware).
        lines: the basket's lines, each with a Decimal ``amount``.
        now: the server's time (default: ``timezone.now()``).

    Raises:
        ValidationError: by field: ``timestamp`` outside the accepted window,
            ``lines[i].amount`` above the line limit, ``lines`` for a total or points above the
            basket limits. Returns refunds count in absolute value.
    """
    errors: dict[str, list[str]] = {}
    window = _timestamp_error(retailer, timestamp, now or timezone.now())
    if window:
        errors["timestamp"] = [window]
    for i, line in enumerate(lines):
        if abs(line["amount"]) > retailer.till_max_line_amount:
            errors[f"lines[{i}].amount"] = [
                f"{line['amount']} is above this retailer's limit of "
                f"{retailer.till_max_line_amount} per line."
            ]
    total = sum((line["amount"] for line in lines), Decimal("0.00"))
    basket: list[str] = []
    if abs(total) > retailer.till_max_basket_total:
        basket.append(
            f"The basket total {total} is above this retailer's limit of "
            f"{retailer.till_max_basket_total}."
        )
    from customers.services.points import points_for_amount

    points = points_for_amount(retailer=retailer, amount=abs(total))
    if points > retailer.till_max_points_per_basket:
        basket.append(
            f"The basket would earn {points} points; this retailer allows at most "
            f"{retailer.till_max_points_per_basket} per basket."
        )
    if basket:
        errors["lines"] = basket
    if errors:
        raise ValidationError(errors)


def _timestamp_error(retailer: Retailer, timestamp: dt.datetime, now: dt.datetime) -> str:
    oldest = now - dt.timedelta(days=retailer.till_max_age_days)
    latest = now + dt.timedelta(minutes=retailer.till_max_future_minutes)
    if timestamp < oldest:
        return (
            f"The purchase is older than {retailer.till_max_age_days} days, the oldest this "
            "retailer's tills may send (import older history as a CSV file)."
        )
    if timestamp > latest:
        return (
            f"The purchase is more than {retailer.till_max_future_minutes} minutes in the future: "
            "check the till's clock and time zone."
        )
    return ""
