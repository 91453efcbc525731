"""Personalised product offers on the campaign page: the report, and the form that chooses them.

An approver chooses the offers of a proposed campaign (up to N per customer, generic bonus
included) from the retailer's latest recommendation run; the page then shows the solver's
outcome, the top products offered and what each supplier funds. Approval issues them with the
campaign's bonuses.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.views import View

from campaigns.models import CampaignState
from loyalty_site.error_pages import DomainErrorRedirectMixin
from loyalty_site.errors import ApplicationError
from loyalty_site.site.campaign_views.campaigns import CampaignObjectMixin
from loyalty_site.site.campaign_views.offer_report import MAX_OFFERS, CampaignOffersForm
from loyalty_site.users import signed_in
from optimizer.services.offers import campaign_offers_allocate
from retailers.models import Role


def _detail(pk: int) -> str:
    return reverse("campaigns:campaign-detail", args=[pk])


class CampaignOffersView(CampaignObjectMixin, DomainErrorRedirectMixin, View):
    """Choose the personalised offers of a proposed campaign (approvers; POST only)."""

    min_role = Role.APPROVER
    http_method_names = ["post"]
    domain_error_prefix = "No offers chosen: "

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        campaign = self.get_campaign()
        form = CampaignOffersForm(request.POST)
        if not form.is_valid() or campaign.state != CampaignState.PROPOSED:
            messages.error(request, f"No offers chosen: offers per customer is 1 to {MAX_OFFERS}.")
            return HttpResponseRedirect(_detail(campaign.pk))
        outcome = campaign_offers_allocate(
            campaign_id=campaign.pk,
            actor=signed_in(request),
            max_offers=form.cleaned_data["max_offers"],
        )
        messages.success(
            request,
            f"{outcome.offers} personalised offers for {outcome.customers} customers "
            f"(solver {outcome.status}).",
        )
        return HttpResponseRedirect(_detail(campaign.pk))

    def domain_error_url(self, exc: ApplicationError) -> str:
        return _detail(self.kwargs["pk"])
