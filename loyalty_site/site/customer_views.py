"""Staff pages of customers (namespace ``customers``): the list and a customer's page. They span
customers, their scores (optimizer) and their bonuses (campaigns), so they sit in the top layer."""

from __future__ import annotations

from typing import Any

from django.core.paginator import Paginator
from django.views.generic import DetailView, ListView

from campaigns.selectors import customer_bonus_counts, customer_bonuses, customer_redemptions
from customers.models import Customer
from customers.selectors import customer_transactions
from customers.services.points import points_history, points_summary
from loyalty_site.charts import figure_data, score_history_figure
from loyalty_site.money import quantize
from optimizer.customer_scores import CustomerFilter, customer_list, customer_score_series
from optimizer.selectors import scoring_run_latest_succeeded
from retailers.models import Role
from retailers.web import RetailerViewMixin

TRANSACTIONS_PER_PAGE = 20
#: Latest points movements shown on a customer's page.
POINTS_HISTORY = 20


class CustomerListView(RetailerViewMixin, ListView):
    """Customers of the current retailer with their latest scores; search, filters, paging."""

    template_name = "customers/customer_list.html"
    context_object_name = "customers"
    paginate_by = 50
    min_role = Role.VIEWER

    def get_queryset(self) -> Any:
        self.run = scoring_run_latest_succeeded(retailer=self.retailer)
        segments = [row["segment"] for row in (self.run.segment_profile if self.run else [])]
        self.filterset = CustomerFilter(
            self.request.GET or None,
            queryset=customer_list(retailer=self.retailer, run=self.run),
            run=self.run,
            segments=segments,
        )
        return self.filterset.qs

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        query = self.request.GET.copy()
        query.pop("page", None)
        context.update(filter=self.filterset, run=self.run, query=query.urlencode())
        return context


class CustomerDetailView(RetailerViewMixin, DetailView):
    """One customer: latest score and reason, scores over time, baskets (paged), rewards."""

    template_name = "customers/customer_detail.html"
    context_object_name = "customer"
    min_role = Role.VIEWER

    def get_object(self, queryset: Any = None) -> Customer:
        return self.get_scoped_object(Customer.objects.all(), pk=self.kwargs["pk"])

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        customer = self.object
        history = customer_score_series(customer=customer)
        page = Paginator(customer_transactions(customer=customer), TRANSACTIONS_PER_PAGE).get_page(
            self.request.GET.get("page")
        )
        for basket in page.object_list:
            # ``total`` and ``discount`` come from customer_transactions()'s annotate(), which
            # django-stubs cannot follow through the Paginator.
            basket.total = quantize(basket.total)  # type: ignore[attr-defined]
            basket.discount = quantize(basket.discount)  # type: ignore[attr-defined]
        context.update(
            latest_score=history[-1] if history else None,
            history=history,
            history_chart=figure_data(score_history_figure(history)) if history else None,
            page_obj=page,
            transactions=page.object_list,
            **self.rewards_context(customer),
        )
        return context

    def rewards_context(self, customer: Customer) -> dict[str, Any]:
        """``customers/_customer_rewards.html``: latest bonuses and redemptions, and the points
        balance with its next expiry and latest movements (``None`` without any movement)."""
        history = points_history(customer=customer, limit=POINTS_HISTORY)
        points = None
        if history:
            summary = points_summary(customer=customer)
            points = {
                "balance": summary.balance,
                "next_expiry_on": summary.next_expiry_on,
                "next_expiry_points": summary.next_expiry_points,
                "history": history,
            }
        return {
            "bonuses": customer_bonuses(customer=customer),
            "bonus_counts": customer_bonus_counts(customer=customer),
            "redemptions": customer_redemptions(customer=customer),
            "points": points,
        }
