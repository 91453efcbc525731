"""Staff pages of the optimizer (included at the site root)."""

from django.urls import path

from optimizer import views

app_name = "optimizer"

urlpatterns = [
    path("runs/", views.ScoringRunListView.as_view(), name="run-list"),
    path("runs/new/", views.ScoringRunStartView.as_view(), name="run-start"),
    path("runs/<int:pk>/", views.ScoringRunDetailView.as_view(), name="run-detail"),
    path("runs/<int:pk>/status/", views.ScoringRunStatusView.as_view(), name="run-status"),
]
