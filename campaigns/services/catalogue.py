"""Writes of the campaigns app (the bonus catalogue so far)."""

from __future__ import annotations

from django.db import transaction

from campaigns.models import BonusKind, BonusType
from retailers.models import Retailer


@transaction.atomic
def bonus_type_get_or_create_for_history(*, retailer: Retailer, code: str) -> BonusType:
    """The retailer's bonus type ``code``, created when it is not in the catalogue yet.

    Imported offer history may name bonus types nobody configured: they are created inactive with
    kind "other" (and no name) so that the history is never lost; staff complete and activate them.

    Raises:
        django.core.exceptions.ValidationError: ``code`` is not a valid code (a slug).
    """
    existing = BonusType.objects.for_retailer(retailer).filter(code=code).first()
    if existing is not None:
        return existing
    bonus_type = BonusType(retailer=retailer, code=code, kind=BonusKind.OTHER, is_active=False)
    bonus_type.full_clean()
    bonus_type.save()
    return bonus_type
