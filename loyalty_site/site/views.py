"""Pages that span several apps: the staff dashboard (customers, scores, runs, campaigns).

Its URL keeps the name ``retailers:dashboard`` (see ``loyalty_site/urls_staff.py``) and its
template stays ``retailers/dashboard.html``, so links and bookmarks do not change.
"""

from __future__ import annotations

from typing import Any

from django.views.generic import TemplateView

from campaigns.selectors import campaign_budget_period, campaign_budget_rows, campaigns_active
from customers.selectors import customer_count
from loyalty_site.charts import campaign_budget_figure, figure_data, segment_sizes_figure
from optimizer.customer_scores import score_kpis
from optimizer.selectors import holdout_table, scoring_run_latest, scoring_run_latest_succeeded
from retailers.models import Role, RunStatus
from retailers.web import RetailerViewMixin

ANY_STATUS = tuple(RunStatus.values)


class DashboardView(RetailerViewMixin, TemplateView):
    """KPIs of the current retailer: customers, latest scores, segments, last run, campaigns."""

    template_name = "retailers/dashboard.html"
    min_role = Role.VIEWER

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        scored = scoring_run_latest_succeeded(retailer=self.retailer)
        last = scoring_run_latest(retailer=self.retailer, statuses=ANY_STATUS)
        context.update(
            customer_count=customer_count(retailer=self.retailer),
            scored_run=scored,
            kpis=score_kpis(run=scored),
            segment_chart=figure_data(segment_sizes_figure(scored.segment_profile))
            if scored and scored.segment_profile
            else None,
            last_run=last,
            last_run_holdout=holdout_table(last.metrics)[:4] if last else [],
            can_start_run=self.user_can(Role.ANALYST),
            **self.get_campaign_context(),
        )
        return context

    def get_campaign_context(self) -> dict[str, Any]:
        """Context of ``retailers/_dashboard_campaigns.html``: ``budget`` used this month (spent
        against the budgets of the decided campaigns whose week starts in it), the active and
        proposed ``campaigns`` and a chart of recent campaigns' budget, expected cost and spend."""
        rows = campaign_budget_rows(retailer=self.retailer)
        return {
            "budget": campaign_budget_period(retailer=self.retailer),
            "campaigns": campaigns_active(retailer=self.retailer),
            "campaign_chart": figure_data(campaign_budget_figure(rows)) if rows else None,
            "can_start_allocation": self.user_can(Role.ANALYST),
        }
