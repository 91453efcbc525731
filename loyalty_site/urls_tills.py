"""URLs of the tills' pool (``WEB_POOL=tills``): the POS API, its schema and docs, nothing else.

A staff page asked of this pool answers 404, so a misrouted staff request can never occupy one of
the workers the tills depend on.
"""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

urlpatterns = [
    path("api/v1/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # GET only: an OPTIONS request had no template to render (a 500).
    path(
        "api/v1/docs/",
        SpectacularSwaggerView.as_view(url_name="api-schema", http_method_names=["get", "head"]),
        name="api-docs",
    ),
    path("api/v1/", include("campaigns.api.urls")),
]
