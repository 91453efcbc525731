"""Root URLs: admin, API schema and docs. Apps add their own includes here."""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # GET only: an OPTIONS request had no template to render (a 500).
    path(
        "api/v1/docs/",
        SpectacularSwaggerView.as_view(url_name="api-schema", http_method_names=["get", "head"]),
        name="api-docs",
    ),
    path("api/v1/", include("campaigns.api.urls")),
    path("portal/", include("customers.portal_urls")),
    # Staff pages: sign-in (login, logout, password change and reset), dashboard, customers, runs.
    path("accounts/", include("django.contrib.auth.urls")),
    path("", include("retailers.urls")),
    path("customers/", include("customers.urls")),
    path("", include("optimizer.urls")),
    path("", include("campaigns.urls")),
]
