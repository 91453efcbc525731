"""POS API routes of the optimizer, served under ``/api/v1/`` in the ``api`` namespace."""

from django.urls import path

from optimizer.api import views

urlpatterns = [
    path("scoring-runs/", views.ScoringRunCreateApi.as_view(), name="scoring-runs"),
]
