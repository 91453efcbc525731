"""Staff side of a published week of promotions: the CSV for the tills and the web shop, and the
block of the proposal page that compares what sold with the forecast (docs/promotions.md).

Kept apart from ``promotions.py`` (the proposal pages) so that each can change on its own.
"""

from __future__ import annotations

import io
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.views import View

from campaigns.models import PromotionProposal, ProposalState
from campaigns.services.promotion_publish import promotion_rows, promotions_csv_write
from customers.services.points import retailer_today
from optimizer.frames.promotion_outcomes import promotion_outcome_read
from retailers.models import Role
from retailers.web import RetailerViewMixin


class PromotionProposalCsvView(RetailerViewMixin, View):
    """The approved proposal's published rows as a CSV download (viewers and up)."""

    min_role = Role.VIEWER
    http_method_names = ["get", "head"]

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        proposal = self.get_scoped_object(PromotionProposal, pk=pk)
        if proposal.state != ProposalState.APPROVED:
            raise Http404("Only an approved proposal is published.")
        buffer = io.StringIO()
        promotions_csv_write(promotion_rows(proposal), buffer)
        response = HttpResponse(buffer.getvalue(), content_type="text/csv; charset=utf-8")
        filename = f"promotions-{proposal.week_start.isoformat()}.csv"
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response


def proposal_outcome_context(proposal: PromotionProposal) -> dict[str, Any]:
    """What the proposal page's block ``campaigns/_promotion_outcome.html`` needs: whether the
    week is published, and once it is, actual against forecast (or that it is still waiting)."""
    if proposal.state != ProposalState.APPROVED:
        return {"published": False}
    today = retailer_today(proposal.retailer)
    return {"published": True, "outcome": promotion_outcome_read(proposal=proposal, today=today)}
