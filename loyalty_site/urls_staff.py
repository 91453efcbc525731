"""URLs of the staff pool (``WEB_POOL=staff``): admin, staff pages, portal; no POS API.

The tills' API is refused here (404), so a till pointed at the wrong pool fails at once instead
of queueing behind staff requests.
"""

from django.contrib import admin
from django.urls import include, path

from loyalty_site.site import unsubscribe_views
from loyalty_site.site.views import DashboardView
from retailers import urls as retailers_urls

# The dashboard spans several apps (top layer) but keeps its name ``retailers:dashboard``.
retailers_patterns = [
    path("", DashboardView.as_view(), name="dashboard"),
    *retailers_urls.urlpatterns,
]

urlpatterns = [
    path("admin/", admin.site.urls),
    path("portal/", include("loyalty_site.site.portal_urls")),
    path("unsubscribe/<str:token>/", unsubscribe_views.unsubscribe, name="unsubscribe"),
    # Staff pages: sign-in (login, logout, password change and reset), dashboard, customers, runs.
    path("accounts/", include("django.contrib.auth.urls")),
    path("", include((retailers_patterns, retailers_urls.app_name))),
    path("customers/", include("loyalty_site.site.customer_urls")),
    path("", include("optimizer.urls")),
    path("", include("loyalty_site.site.campaign_urls")),
]
