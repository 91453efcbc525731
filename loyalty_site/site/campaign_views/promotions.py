"""Staff pages of the weekly promotions: proposals (list, detail, decide, drop an item) and runs.

Viewers read; analysts also start a proposal or a backtest; approvers also approve, reject and
drop items (four eyes when the retailer asks for it). Another retailer's rows are 404.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.views import View
from django.views.generic import DetailView, FormView, ListView

from campaigns.forms import PromotionDecisionForm, PromotionItemDropForm, PromotionRunStartForm
from campaigns.models import PromotionProposal, ProposalState
from campaigns.services.audit import audit_entries_for
from campaigns.services.promotions import (
    promotion_item_drop,
    promotion_proposal_approve,
    promotion_proposal_reject,
    proposal_creator_id,
)
from loyalty_site.error_pages import DomainErrorRedirectMixin
from loyalty_site.errors import ApplicationError
from loyalty_site.site.campaign_views.promotion_outcomes import proposal_outcome_context
from loyalty_site.users import signed_in
from optimizer.models import PromotionRun
from optimizer.services import PromotionError, PromotionRunAlreadyActive, promotion_run_create
from optimizer.services.promotions import latest_backtest
from retailers.models import Role
from retailers.web import RetailerViewMixin

#: Seconds between two reloads of an active run's page.
REFRESH_SECONDS = 5


def _detail(proposal_id: int) -> str:
    return reverse("campaigns:promotion-detail", args=[proposal_id])


def _run_detail(run_id: int) -> str:
    return reverse("campaigns:promotion-run-detail", args=[run_id])


class PromotionProposalListView(RetailerViewMixin, ListView):
    """The current retailer's proposals (newest week first) and its latest runs."""

    template_name = "campaigns/promotion_list.html"
    context_object_name = "proposals"
    paginate_by = 25
    min_role = Role.VIEWER

    def get_queryset(self) -> Any:
        return self.scoped(PromotionProposal).select_related(
            "promotion_run", "created_by", "decided_by"
        )

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        runs = self.scoped(PromotionRun).select_related("created_by").order_by("-created_at", "-pk")
        context.update(
            runs=runs[:10],
            can_start=self.user_can(Role.ANALYST),
            backtest=latest_backtest(retailer=self.retailer),
        )
        return context


class PromotionRunStartView(RetailerViewMixin, FormView):
    """Ask for a week's proposal (analysts and up); the run's page follows it."""

    template_name = "campaigns/promotion_form.html"
    form_class = PromotionRunStartForm
    min_role = Role.ANALYST

    def form_valid(self, form: PromotionRunStartForm) -> HttpResponse:
        try:
            run = promotion_run_create(
                retailer=self.retailer,
                week_start=form.cleaned_data["week"],
                options=form.options(),
                user=signed_in(self.request),
            )
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
            return self.form_invalid(form)
        except PromotionError as exc:
            form.add_error(None, f"Not started: {exc}.")
            return self.form_invalid(form)
        messages.success(self.request, f"Promotion run #{run.pk} queued for {run.week_start}.")
        return HttpResponseRedirect(_run_detail(run.pk))


class PromotionBacktestStartView(RetailerViewMixin, View):
    """Start a backtest of the lift model (analysts and up; POST only)."""

    min_role = Role.ANALYST
    http_method_names = ["post"]

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            run = promotion_run_create(
                retailer=self.retailer, kind=PromotionRun.Kind.BACKTEST, user=signed_in(request)
            )
        except PromotionRunAlreadyActive as exc:
            messages.warning(request, f"Not started: {exc}.")
            target = _run_detail(exc.run_id) if exc.run_id else reverse("campaigns:promotion-list")
            return HttpResponseRedirect(target)
        except (PromotionError, ValidationError) as exc:
            messages.error(request, f"Not started: {exc}")
            return HttpResponseRedirect(reverse("campaigns:promotion-list"))
        messages.success(request, f"Backtest #{run.pk} queued.")
        return HttpResponseRedirect(_run_detail(run.pk))


class PromotionRunDetailView(RetailerViewMixin, DetailView):
    """A proposal or backtest run: status (reloaded while active), error, figures, timings."""

    template_name = "campaigns/promotion_run.html"
    context_object_name = "run"
    min_role = Role.VIEWER

    def get_object(self, queryset: Any = None) -> PromotionRun:
        return self.get_scoped_object(
            PromotionRun.objects.select_related("created_by"), pk=self.kwargs["pk"]
        )

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        run = self.object
        context.update(
            refresh=REFRESH_SECONDS if run.is_active else None,
            proposal=PromotionProposal.objects.filter(promotion_run=run).first(),
        )
        return context


def _backtest_for(proposal: PromotionProposal) -> dict[str, Any]:
    """The retailer's latest backtest when it is newer than the one stored with the proposal (a
    backtest run after the proposal still tells how far to trust its forecast)."""
    stored = proposal.backtest or {}
    latest = latest_backtest(retailer=proposal.retailer)
    return latest if (latest.get("run_id") or 0) > (stored.get("run_id") or 0) else stored


class PromotionProposalDetailView(RetailerViewMixin, DetailView):
    """A week's proposal: items, totals, solver, backtest, audit log and the decision forms."""

    template_name = "campaigns/promotion_detail.html"
    context_object_name = "proposal"
    min_role = Role.VIEWER

    def get_object(self, queryset: Any = None) -> PromotionProposal:
        return self.get_scoped_object(
            PromotionProposal.objects.select_related(
                "promotion_run", "created_by", "decided_by", "retailer"
            ),
            pk=self.kwargs["pk"],
        )

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        proposal = self.object
        open_ = proposal.state == ProposalState.PROPOSED
        can_edit = open_ and self.user_can(Role.APPROVER)
        blocked = (
            proposal.retailer.four_eyes and proposal_creator_id(proposal) == self.request.user.pk
        )
        context.update(
            items=proposal.items.select_related("product").order_by("rank"),
            audit=audit_entries_for(proposal),
            can_edit=can_edit,
            can_decide=can_edit and not blocked,
            four_eyes_blocked=can_edit and blocked,
            decision_form=PromotionDecisionForm(),
            **proposal_outcome_context(proposal),
            backtest=_backtest_for(proposal),
        )
        return context


class PromotionProposalDecideView(RetailerViewMixin, DomainErrorRedirectMixin, View):
    """Approve or reject a proposal (approvers; POST only)."""

    min_role = Role.APPROVER
    http_method_names = ["post"]

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        proposal = self.get_scoped_object(PromotionProposal, pk=pk)
        form = PromotionDecisionForm(request.POST)
        if not form.is_valid():
            for errors in form.errors.values():
                messages.error(request, " ".join(str(error) for error in errors))
            return HttpResponseRedirect(_detail(proposal.pk))
        action, comment = form.cleaned_data["action"], form.cleaned_data["comment"]
        decide = promotion_proposal_approve if action == "approve" else promotion_proposal_reject
        decide(proposal_id=proposal.pk, actor=signed_in(request), comment=comment)
        messages.success(request, f"Proposal {'approved' if action == 'approve' else 'rejected'}.")
        return HttpResponseRedirect(_detail(proposal.pk))

    def domain_error_url(self, exc: ApplicationError) -> str:
        return _detail(self.kwargs["pk"])


class PromotionItemDropView(RetailerViewMixin, DomainErrorRedirectMixin, View):
    """Drop one product from a proposed week before approval (approvers; POST only)."""

    min_role = Role.APPROVER
    http_method_names = ["post"]

    def post(self, request: HttpRequest, pk: int, item_pk: int) -> HttpResponse:
        proposal = self.get_scoped_object(PromotionProposal, pk=pk)
        if not proposal.items.filter(pk=item_pk).exists():
            raise Http404("No such item in this proposal.")
        form = PromotionItemDropForm(request.POST)
        comment = form.cleaned_data["comment"] if form.is_valid() else ""
        promotion_item_drop(
            proposal_id=proposal.pk, item_id=item_pk, actor=signed_in(request), comment=comment
        )
        messages.success(request, "Item dropped from the proposal.")
        return HttpResponseRedirect(_detail(proposal.pk))

    def domain_error_url(self, exc: ApplicationError) -> str:
        return _detail(self.kwargs["pk"])
