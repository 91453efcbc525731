"""URLs of the tills' pool (``WEB_POOL=tills``): the POS API, its schema and docs, nothing else.

A staff page asked of this pool answers 404, so a misrouted staff request can never occupy one of
the workers the tills depend on.
"""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

urlpatterns = [
    path("api/v1/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/v1/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/v1/", include("campaigns.api.urls")),
]
