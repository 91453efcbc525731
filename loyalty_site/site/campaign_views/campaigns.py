"""Staff pages of bonus campaigns: list, proposal review, decision, edits by re-run, results.

Viewers read; approvers also approve or reject (four eyes when the retailer asks for it),
drop customers or change the budget (both re-run the allocation, which supersedes the
proposal), and measure an issued campaign's results. Analysts start allocations on the runs
pages. Another retailer's campaign is 404.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, cast

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.html import format_html
from django.views import View
from django.views.generic import DetailView, ListView

from campaigns.exceptions import TransitionNotAllowed
from campaigns.models import Campaign, CampaignState
from campaigns.selectors import (
    campaign_bonus_count,
    campaign_breakdown_by_type,
    campaign_changes,
    campaign_counts_by_state,
    campaign_list,
    campaign_member_choices,
    campaign_members,
    campaign_previous,
    campaign_replacement,
)
from campaigns.services import audit_entries_for, campaign_approve, campaign_reject
from loyalty_site.charts import campaign_breakdown_figure, campaign_results_figure, figure_data
from loyalty_site.error_pages import DomainErrorRedirectMixin
from loyalty_site.errors import ApplicationError
from loyalty_site.site.campaign_views.delivery import delivery_context
from loyalty_site.site.campaign_views.offer_report import offers_context
from loyalty_site.users import signed_in
from optimizer.engine.settings import SettingsInvalid, budget_parse
from optimizer.exceptions import AllocationRunAlreadyActive
from optimizer.services.campaign_rerun import campaign_rerun
from optimizer.services.campaign_results import campaign_results_measure
from retailers.models import Role
from retailers.web import RetailerViewMixin
from retailers.weeks import scores_age_note

MEMBERS_PER_PAGE = 50
#: States whose results can be measured (bonuses are out).
MEASURABLE_STATES = (CampaignState.ISSUED, CampaignState.CLOSED)


def _detail(pk: int) -> str:
    return reverse("campaigns:campaign-detail", args=[pk])


class CampaignDecisionForm(forms.Form):
    comment = forms.CharField(required=False, max_length=2000, widget=forms.Textarea({"rows": 3}))
    accept_gap = forms.BooleanField(
        required=False, label="Approve despite the gap above the tolerance"
    )


class CampaignRerunForm(forms.Form):
    """``action=drop`` with the ``customers`` to exclude, or ``action=budget`` with a budget."""

    action = forms.ChoiceField(choices=[("drop", "drop"), ("budget", "budget")])
    customers = forms.TypedMultipleChoiceField(coerce=int, required=False)
    budget = forms.DecimalField(required=False, max_digits=12, decimal_places=2)

    def __init__(self, *args: Any, campaign: Campaign, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.campaign = campaign
        # Only the campaign's own treated customers can be dropped.
        ids = self.data.getlist("customers") if hasattr(self.data, "getlist") else []
        treated = campaign.members.filter(is_control=False, customer_id__in=_ints(ids))
        cast(forms.TypedMultipleChoiceField, self.fields["customers"]).choices = [
            (pk, pk) for pk in treated.values_list("customer_id", flat=True)
        ]

    def clean_budget(self) -> Decimal | None:
        # The one budget rule, shared with the start form, the command and the service.
        value = self.cleaned_data["budget"]
        try:
            return None if value is None else budget_parse(value)
        except SettingsInvalid as exc:
            raise ValidationError(str(exc)) from exc

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        if data.get("action") == "drop" and not data.get("customers"):
            raise ValidationError("Tick at least one treated customer to drop.")
        if data.get("action") == "budget" and data.get("budget") is None:
            raise ValidationError("Enter the new budget.")
        return data


def _ints(values: list[str]) -> list[int]:
    return [int(v) for v in values if str(v).isdigit()]


def results_context(results: dict[str, Any] | None) -> dict[str, Any]:
    """What ``campaigns/_campaign_results.html`` needs from a campaign's ``results``."""
    if not results:
        return {"results": None, "results_rows": [], "results_chart": None}
    return {
        "results": results,
        "results_rows": [
            ("Spend", results.get("spend") or {}),
            ("Gross margin", results.get("margin") or {}),
        ],
        "results_chart": figure_data(campaign_results_figure(results)),
    }


class CampaignListView(RetailerViewMixin, ListView):
    """The current retailer's campaigns, newest week first, filtered by state."""

    template_name = "campaigns/campaign_list.html"
    context_object_name = "campaigns"
    paginate_by = 25
    min_role = Role.VIEWER

    def get_queryset(self) -> Any:
        self.state = self.request.GET.get("state", "")
        return campaign_list(campaigns=self.scoped(Campaign), state=self.state)

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        counts = campaign_counts_by_state(campaigns=self.scoped(Campaign))
        context.update(
            state=self.state if self.state in CampaignState.values else "",
            states=[(value, label, counts.get(value, 0)) for value, label in CampaignState.choices],
            total=sum(counts.values()),
            query=f"state={self.state}" if self.state in CampaignState.values else "",
            can_start=self.user_can(Role.ANALYST),
        )
        return context


class CampaignObjectMixin(RetailerViewMixin):
    def get_campaign(self) -> Campaign:
        return self.get_scoped_object(
            Campaign.objects.select_related(
                "retailer", "allocation_run__scoring_run", "created_by", "decided_by"
            ),
            pk=self.kwargs["pk"],
        )


def _scores_note(campaign: Campaign) -> str | None:
    """The warning that the scores are N weeks old, on a proposal whose week is far after them."""
    run = campaign.allocation_run
    if campaign.state != CampaignState.PROPOSED or run is None or run.scoring_run is None:
        return None
    return scores_age_note(
        run.scoring_run.as_of, campaign.week_start, settings.SCORES_MAX_AGE_WEEKS
    )


class CampaignDetailView(CampaignObjectMixin, DetailView):
    """A proposal for review: totals, charts, solver, binding constraints, members with reasons,
    changes against the last decided campaign, audit log, decision and edit forms, results."""

    template_name = "campaigns/campaign_detail.html"
    context_object_name = "campaign"
    min_role = Role.VIEWER

    def get_object(self, queryset: Any = None) -> Campaign:
        return self.get_campaign()

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        campaign = self.object
        previous = campaign_previous(campaign=campaign)
        context.update(
            **self.review_context(campaign),
            **self.members_context(campaign),
            **self.permissions_context(campaign),
            changes=campaign_changes(campaign=campaign, previous=previous) if previous else None,
            audit=audit_entries_for(campaign),
            bonuses_issued=campaign_bonus_count(campaign=campaign)
            if campaign.state in (CampaignState.APPROVED, *MEASURABLE_STATES)
            else None,
            scores_note=_scores_note(campaign),
            replaced_by=campaign_replacement(campaign=campaign)
            if campaign.state == CampaignState.SUPERSEDED
            else None,
            **results_context(campaign.results if campaign.state == CampaignState.CLOSED else None),
            **delivery_context(campaign, can_export=self.user_can(Role.APPROVER)),
        )
        can_choose = self.user_can(Role.APPROVER) and campaign.state == CampaignState.PROPOSED
        context.update(offers_context(campaign, can_edit=can_choose))
        return context

    def review_context(self, campaign: Campaign) -> dict[str, Any]:
        totals, solver = campaign.totals or {}, campaign.solver or {}
        cost = Decimal(str(totals.get("expected_cost") or 0))
        by_segment = (campaign.breakdown or {}).get("by_segment") or []
        by_type = campaign_breakdown_by_type(campaign=campaign)
        gap, tolerance = solver.get("gap"), solver.get("gap_tolerance", 1e-4)
        return {
            "gap_exceeds_tolerance": gap is not None and float(gap) > float(tolerance),
            "gap_tolerance_pct": 100 * float(tolerance),
            "totals": totals,
            "solver": solver,
            "budget_used_pct": float(100 * cost / campaign.budget) if campaign.budget else None,
            "gap_pct": None if gap is None else 100 * float(gap),
            "solver_optimal": solver.get("status") == "optimal",
            "time_limited": solver.get("status") == "time_limit",
            "constraint_rows": solver.get("constraints") or [],
            "coupling_rows": solver.get("coupling") or [],
            "by_segment": by_segment,
            "by_type": by_type,
            "segment_chart": figure_data(
                campaign_breakdown_figure(
                    by_segment,
                    key="segment",
                    title="Treated customers and expected money per segment",
                )
            )
            if by_segment
            else None,
            "type_chart": figure_data(
                campaign_breakdown_figure(
                    by_type,
                    key="bonus_name",
                    title="Treated customers and expected money per bonus type",
                )
            )
            if by_type
            else None,
        }

    def members_context(self, campaign: Campaign) -> dict[str, Any]:
        segment = self.request.GET.get("segment", "")
        bonus_type = self.request.GET.get("bonus_type", "")
        members = campaign_members(campaign=campaign, segment=segment, bonus_type=bonus_type)
        page = Paginator(members, MEMBERS_PER_PAGE).get_page(self.request.GET.get("page"))
        query = self.request.GET.copy()
        query.pop("page", None)
        return {
            "members": page.object_list,
            "page_obj": page,
            "query": query.urlencode(),
            "member_filter": {"segment": segment, "bonus_type": bonus_type},
            "member_choices": campaign_member_choices(campaign=campaign),
        }

    def permissions_context(self, campaign: Campaign) -> dict[str, Any]:
        is_approver = self.user_can(Role.APPROVER)
        can_edit = is_approver and campaign.state == CampaignState.PROPOSED
        blocked = campaign.retailer.four_eyes and campaign.created_by_id == self.request.user.pk
        return {
            "can_edit": can_edit and campaign.allocation_run_id is not None,
            "can_decide": can_edit and not blocked,
            "four_eyes_blocked": can_edit and blocked,
            "can_measure": is_approver and campaign.state in MEASURABLE_STATES,
            "decision_form": CampaignDecisionForm(),
        }


class CampaignDecisionView(CampaignObjectMixin, DomainErrorRedirectMixin, View):
    """Base of approve and reject (approvers; POST only): service errors become messages."""

    min_role = Role.APPROVER
    http_method_names = ["post"]
    comment_required = False
    done = ""

    def decide(self, campaign: Campaign, comment: str) -> None:
        raise NotImplementedError

    #: The approver ticked "approve despite the gap" (set from the form before ``decide``).
    accept_gap = False

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        campaign = self.get_campaign()
        form = CampaignDecisionForm(request.POST)
        if not form.is_valid():
            messages.error(request, f"Not {self.done}: the comment is too long.")
            return HttpResponseRedirect(_detail(campaign.pk))
        comment = form.cleaned_data["comment"].strip()
        if self.comment_required and not comment:
            messages.error(request, "Say why in the comment: it goes to the audit log.")
            return HttpResponseRedirect(_detail(campaign.pk))
        self.accept_gap = bool(form.cleaned_data.get("accept_gap"))
        self.decide(campaign, comment)
        messages.success(request, f"Campaign {self.done}.")
        return HttpResponseRedirect(_detail(campaign.pk))

    def domain_error_message(self, exc: ApplicationError) -> str:
        return f"Not {self.done}: {exc}"

    def domain_error_url(self, exc: ApplicationError) -> str:
        return _detail(self.kwargs["pk"])


class CampaignApproveView(CampaignDecisionView):
    done = "approved"

    def decide(self, campaign: Campaign, comment: str) -> None:
        campaign_approve(
            campaign_id=campaign.pk,
            actor=signed_in(self.request),
            comment=comment,
            accept_gap=self.accept_gap,
        )


class CampaignRejectView(CampaignDecisionView):
    comment_required = True
    done = "rejected"

    def decide(self, campaign: Campaign, comment: str) -> None:
        campaign_reject(campaign_id=campaign.pk, actor=signed_in(self.request), comment=comment)


class CampaignRerunView(CampaignObjectMixin, DomainErrorRedirectMixin, View):
    """Edit a proposal by re-running its allocation (approvers; POST only): without the ticked
    customers (added to the earlier exclusions), or with a new budget. The new proposal
    supersedes this one once it is solved."""

    min_role = Role.APPROVER
    http_method_names = ["post"]
    domain_error_prefix = "Not re-run: "

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        campaign = self.get_campaign()
        form = CampaignRerunForm(request.POST, campaign=campaign)
        if not form.is_valid():
            errors = [error for errors in form.errors.values() for error in errors]
            messages.error(request, "Not re-run: " + " ".join(str(error) for error in errors))
            return HttpResponseRedirect(_detail(campaign.pk))
        drop = form.cleaned_data["action"] == "drop"
        dropped, budget = form.cleaned_data["customers"], form.cleaned_data["budget"]
        try:
            run = campaign_rerun(
                campaign=campaign,
                user=signed_in(request),
                drop_customers=dropped if drop else None,
                budget=budget,
            )
        except (SettingsInvalid, ValidationError) as exc:
            messages.error(request, f"Not re-run: {exc}")
            return HttpResponseRedirect(_detail(campaign.pk))
        what = f"with a budget of {run.budget}"
        if drop:
            what = f"without {len(dropped)} more customer(s)"
        messages.success(request, f"Re-running the allocation {what} (run #{run.pk}).")
        return HttpResponseRedirect(reverse("optimizer:allocation-detail", args=[run.pk]))

    def domain_error_message(self, exc: ApplicationError) -> str:
        if isinstance(exc, TransitionNotAllowed):
            return str(exc)
        if isinstance(exc, AllocationRunAlreadyActive):
            link = ""
            if exc.run_id:
                url = reverse("optimizer:allocation-detail", args=[exc.run_id])
                link = format_html(' <a href="{}">Follow run #{}</a>.', url, exc.run_id)
            return format_html("Not re-run: {}.{}", str(exc), link)
        return super().domain_error_message(exc)

    def domain_error_url(self, exc: ApplicationError) -> str:
        return _detail(self.kwargs["pk"])


class CampaignResultsView(CampaignObjectMixin, View):
    """Treated vs control results: stored once closed; "measure now" (approvers, POST) measures
    an issued or closed campaign as it stands, without closing it or storing anything."""

    min_role = Role.VIEWER
    template_name = "campaigns/campaign_results.html"

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        campaign = self.get_campaign()
        results = campaign.results if campaign.state == CampaignState.CLOSED else None
        return self.render(campaign, results, measured_now=False)

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        campaign = self.get_campaign()
        self.require_role(Role.APPROVER)
        if campaign.state not in MEASURABLE_STATES:
            messages.error(request, "Results can be measured once the bonuses are issued.")
            return HttpResponseRedirect(_detail(campaign.pk))
        return self.render(campaign, campaign_results_measure(campaign=campaign), measured_now=True)

    def render(
        self, campaign: Campaign, results: dict[str, Any] | None, *, measured_now: bool
    ) -> HttpResponse:
        context = {
            "campaign": campaign,
            "retailer": self.retailer,
            **results_context(results),
            "measured_now": measured_now,
            "can_measure": self.user_can(Role.APPROVER) and campaign.state in MEASURABLE_STATES,
        }
        return render(self.request, self.template_name, context)
