"""Domain errors of the customers app (the points ledger and till transactions).

Each class is one answer (``code``, HTTP ``status``) of the one error model,
:class:`loyalty_site.errors.ApplicationError`.
"""

from __future__ import annotations

from loyalty_site.errors import ApplicationError


class PointsError(ApplicationError):
    """Base class of the ledger errors a till or a person can act on."""

    code = "points_error"
    status = 409


class InsufficientPoints(PointsError):
    """The customer's balance is smaller than the points asked for."""

    code = "insufficient_points"


class PointsBalanceLimit(PointsError):
    """The movement would take the balance past ``MAX_POINTS_BALANCE``."""

    code = "points_balance_limit"


class InvalidPointsAmount(PointsError):
    """Zero, negative where a positive amount is needed, or a missing reason."""

    code = "invalid_points"
    status = 400


class TransactionConflict(PointsError):
    """The transaction id is already used by a basket of another customer."""

    code = "transaction_conflict"
