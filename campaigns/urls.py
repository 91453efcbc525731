"""Staff pages of the campaigns app (included at the site root)."""

from django.urls import path

from campaigns.views import promotions

app_name = "campaigns"

urlpatterns = [
    # Weekly promotions (campaigns/views/promotions.py).
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
