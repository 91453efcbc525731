"""Offer e-mails on the campaign page: delivery status, the message preview, audience export.

The campaign page includes ``campaigns/_campaign_delivery.html`` with :func:`delivery_context`:
how many offer e-mails are sent, failed, pending, or not sent for want of consent or address,
and the retailer's message rendered over the documented sample values, so approvers see what
customers will get before they approve. Approvers download the audience CSV (audited).
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.views import View

from campaigns.models import Campaign, CampaignState
from campaigns.selectors import campaign_delivery_counts
from campaigns.services.audience import EXPORTABLE_STATES, campaign_audience_write
from campaigns.services.email_messages import Letter
from loyalty_site.users import signed_in
from retailers.models import Role
from retailers.web import RetailerViewMixin

#: States in which the preview is shown (before approval and while sending).
PREVIEW_STATES = (CampaignState.PROPOSED, CampaignState.APPROVED, CampaignState.ISSUED)


def delivery_context(campaign: Campaign, *, can_export: bool) -> dict[str, Any]:
    """What ``campaigns/_campaign_delivery.html`` needs."""
    counts = campaign_delivery_counts(campaign=campaign)
    return {
        "delivery_counts": counts if any(counts.values()) else None,
        "email_preview": Letter(campaign.retailer).sample()
        if campaign.state in PREVIEW_STATES
        else None,
        "can_export_audience": can_export and campaign.state in EXPORTABLE_STATES,
    }


class CampaignAudienceExportView(RetailerViewMixin, View):
    """The approved campaign's recipients as CSV (approvers; audited). Another state: the domain
    error's status page (409)."""

    min_role = Role.APPROVER
    http_method_names = ["get"]

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        campaign = self.get_scoped_object(Campaign.objects.all(), pk=pk)
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="campaign-{pk}-audience.csv"'
        response["Cache-Control"] = "no-store, private"
        campaign_audience_write(campaign=campaign, stream=response, actor=signed_in(request))
        return response
