"""Editing a proposed campaign by re-running the allocation that proposed it.

An approver drops customers from a proposal or changes its budget; the proposal is not edited in
place but re-solved with the same scores, week, seed and settings plus the change, and the new
proposal supersedes it once solved (``allocation_run_create(replaces=...)``). The proposal's state
is checked again when the new one would supersede it, so a decision taken meanwhile wins.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import TYPE_CHECKING

from campaigns.exceptions import TransitionNotAllowed
from campaigns.models import Campaign, CampaignState
from campaigns.selectors import campaign_rerun_settings
from optimizer.models import AllocationRun
from optimizer.services.allocation import allocation_run_create

if TYPE_CHECKING:
    from loyalty_site.users import User


def campaign_rerun(
    *,
    campaign: Campaign,
    user: User | None,
    drop_customers: Sequence[int] | None = None,
    budget: Decimal | None = None,
) -> AllocationRun:
    """Queue a re-run of ``campaign``'s allocation without ``drop_customers`` (added to the
    earlier exclusions) or, when no customers are given, with ``budget``.

    Returns the queued :class:`AllocationRun`.

    Raises:
        TransitionNotAllowed: ``campaign`` is not proposed, or no allocation run proposed it.
        AllocationRunAlreadyActive: an allocation run is queued or running for the retailer.
        AllocationSettingsInvalid, SettingsInvalid, ValidationError: the changed settings.
    """
    rerun = campaign_rerun_settings(campaign=campaign)
    if campaign.state != CampaignState.PROPOSED or rerun is None:
        raise TransitionNotAllowed("Only a proposed campaign from an allocation run can change.")
    typed = rerun.pop("settings")
    if drop_customers is not None:
        excluded = sorted({*typed.excluded_customers, *drop_customers})
        changed = typed.replace(excluded_customers=excluded)
    else:
        changed = typed.replace(budget=budget)
    # The action's one write: allocation_run_create opens the durable transaction.
    return allocation_run_create(**rerun, settings=changed, replaces=campaign, user=user)
