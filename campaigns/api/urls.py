"""URLs of the POS API, included under ``/api/v1/`` (with ``optimizer.api.urls``: the tills'
URL conf joins both in the ``api`` namespace)."""

from django.urls import path

from campaigns.api import promotions, views

app_name = "api"

urlpatterns = [
    path("customers/<str:external_id>/", views.CustomerDetailApi.as_view(), name="customer"),
    path("transactions/", views.TransactionCreateApi.as_view(), name="transactions"),
    path("redemptions/", views.RedemptionCreateApi.as_view(), name="redemptions"),
    path("points/redeem/", views.PointsRedeemApi.as_view(), name="points-redeem"),
    path("campaigns/", views.CampaignListApi.as_view(), name="campaigns"),
    path("campaigns/<int:pk>/", views.CampaignDetailApi.as_view(), name="campaign"),
    path(
        "promotions/current/",
        promotions.PromotionsCurrentApi.as_view(),
        name="promotions-current",
    ),
]
