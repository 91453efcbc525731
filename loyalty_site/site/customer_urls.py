"""Staff pages of customers (top layer; the namespace stays ``customers``)."""

from django.urls import path

from loyalty_site.site import customer_views as views

app_name = "customers"

urlpatterns = [
    path("", views.CustomerListView.as_view(), name="list"),
    path("<int:pk>/", views.CustomerDetailView.as_view(), name="detail"),
]
