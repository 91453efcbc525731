"""Domain errors of the campaigns app; the API and pages turn them into clear answers."""

from __future__ import annotations


class CampaignError(Exception):
    """Base class of the campaign errors a person can act on."""


class TransitionNotAllowed(CampaignError):
    """The object is not in a state from which this transition is possible."""


class ApprovalForbidden(CampaignError):
    """The actor may not take this decision (role too low, or four eyes require someone else)."""


class ProposalInvalid(CampaignError):
    """An independent re-check found the proposal breaking its budget or caps."""
