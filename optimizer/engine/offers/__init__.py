"""Personalised offers: up to N offers per customer within every budget and cap, with a proven
gap (see :mod:`optimizer.engine.offers.api`)."""

from optimizer.engine.offers.api import AUTO_MILP_MAX_PAIRS, METHODS, offers_allocate
from optimizer.engine.offers.types import (
    GENERIC,
    OPTION_COLUMNS,
    PRODUCT,
    OfferConstraints,
    OfferResult,
)

__all__ = [
    "AUTO_MILP_MAX_PAIRS",
    "GENERIC",
    "METHODS",
    "OPTION_COLUMNS",
    "PRODUCT",
    "OfferConstraints",
    "OfferResult",
    "offers_allocate",
]
