"""Staff pages of the optimizer (included at the site root)."""

from django.urls import path

from optimizer import views, views_recommendations

app_name = "optimizer"

urlpatterns = [
    path("runs/", views.ScoringRunListView.as_view(), name="run-list"),
    path("runs/new/", views.ScoringRunStartView.as_view(), name="run-start"),
    path("runs/<int:pk>/", views.ScoringRunDetailView.as_view(), name="run-detail"),
    path(
        "runs/<int:pk>/champions.csv",
        views.ScoringRunChampionsCsvView.as_view(),
        name="run-champions-csv",
    ),
    path("runs/<int:pk>/status/", views.ScoringRunStatusView.as_view(), name="run-status"),
    path("runs/<int:pk>/restart/", views.ScoringRunRestartView.as_view(), name="run-restart"),
    path("runs/allocations/", views.AllocationRunListView.as_view(), name="allocation-list"),
    path("runs/allocations/new/", views.AllocationRunStartView.as_view(), name="allocation-start"),
    path(
        "runs/allocations/<int:pk>/",
        views.AllocationRunDetailView.as_view(),
        name="allocation-detail",
    ),
    path(
        "runs/allocations/<int:pk>/status/",
        views.AllocationRunStatusView.as_view(),
        name="allocation-status",
    ),
    path(
        "runs/allocations/<int:pk>/restart/",
        views.AllocationRunRestartView.as_view(),
        name="allocation-restart",
    ),
    path(
        "runs/recommendations/new/",
        views_recommendations.RecommendationRunStartView.as_view(),
        name="recommendation-start",
    ),
    path(
        "runs/recommendations/<int:pk>/",
        views_recommendations.RecommendationRunDetailView.as_view(),
        name="recommendation-detail",
    ),
]
