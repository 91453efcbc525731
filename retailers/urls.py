"""Staff pages of the retailers app (included at the site root)."""

from django.urls import path

from retailers import views

app_name = "retailers"

urlpatterns = [
    path("", views.DashboardView.as_view(), name="dashboard"),
    path("retailer/switch/", views.retailer_switch_view, name="switch"),
]
