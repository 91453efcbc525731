"""Staff pages of campaigns and promotions (top layer; the namespace stays ``campaigns``)."""

from django.urls import path

from loyalty_site.site.campaign_views import (
    campaigns,
    delivery,
    offers,
    promotion_outcomes,
    promotions,
)

app_name = "campaigns"

urlpatterns = [
    # Bonus campaigns (loyalty_site/site/campaign_views/campaigns.py).
    path("campaigns/", campaigns.CampaignListView.as_view(), name="campaign-list"),
    path("campaigns/<int:pk>/", campaigns.CampaignDetailView.as_view(), name="campaign-detail"),
    path(
        "campaigns/<int:pk>/approve/",
        campaigns.CampaignApproveView.as_view(),
        name="campaign-approve",
    ),
    path(
        "campaigns/<int:pk>/reject/", campaigns.CampaignRejectView.as_view(), name="campaign-reject"
    ),
    path("campaigns/<int:pk>/rerun/", campaigns.CampaignRerunView.as_view(), name="campaign-rerun"),
    path("campaigns/<int:pk>/offers/", offers.CampaignOffersView.as_view(), name="campaign-offers"),
    path(
        "campaigns/<int:pk>/results/",
        campaigns.CampaignResultsView.as_view(),
        name="campaign-results",
    ),
    path(
        "campaigns/<int:pk>/audience.csv",
        delivery.CampaignAudienceExportView.as_view(),
        name="campaign-audience",
    ),
    # Weekly promotions (loyalty_site/site/campaign_views/promotions.py).
    path("promotions/", promotions.PromotionProposalListView.as_view(), name="promotion-list"),
    path("promotions/new/", promotions.PromotionRunStartView.as_view(), name="promotion-start"),
    path(
        "promotions/backtest/",
        promotions.PromotionBacktestStartView.as_view(),
        name="promotion-backtest",
    ),
    path(
        "promotions/runs/<int:pk>/",
        promotions.PromotionRunDetailView.as_view(),
        name="promotion-run-detail",
    ),
    path(
        "promotions/<int:pk>/",
        promotions.PromotionProposalDetailView.as_view(),
        name="promotion-detail",
    ),
    path(
        "promotions/<int:pk>/published.csv",
        promotion_outcomes.PromotionProposalCsvView.as_view(),
        name="promotion-csv",
    ),
    path(
        "promotions/<int:pk>/decide/",
        promotions.PromotionProposalDecideView.as_view(),
        name="promotion-decide",
    ),
    path(
        "promotions/<int:pk>/items/<int:item_pk>/drop/",
        promotions.PromotionItemDropView.as_view(),
        name="promotion-item-drop",
    ),
]
