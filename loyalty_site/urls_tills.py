"""URLs of the tills' pool (``WEB_POOL=tills``): the POS API, its schema and docs, nothing else.

A staff page asked of this pool answers 404, so a misrouted staff request can never occupy one of
the workers the tills depend on.
"""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from campaigns.api import urls as campaigns_api
from optimizer.api import urls as optimizer_api

#: The POS API: the campaigns' endpoints and the optimizer's (scoring runs), one ``api`` namespace.
api_patterns = [*campaigns_api.urlpatterns, *optimizer_api.urlpatterns]

urlpatterns = [
    path("api/v1/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # GET only: an OPTIONS request had no template to render (a 500).
    path(
        "api/v1/docs/",
        SpectacularSwaggerView.as_view(url_name="api-schema", http_method_names=["get", "head"]),
        name="api-docs",
    ),
    path("api/v1/", include((api_patterns, campaigns_api.app_name))),
]
