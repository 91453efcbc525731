"""URLs of the customer portal, included under ``/portal/``."""

from django.urls import path

from loyalty_site.site import portal_views

app_name = "portal"

urlpatterns = [path("<str:token>/", portal_views.portal_page, name="page")]
