"""A hello-world Django application: the floor under the tills' figures in ``bench/api_load.py``.

One view answering a small JSON body, no middleware, no database, no apps: what Django and
gunicorn cost per request on their own. ``api_load.py`` serves it with the tills' gunicorn
configuration (``loyalty_site.gunicorn_conf``, same workers and threads) and drives it at the same
rate in the same run, so the tills' CPU per request can be read as a multiple of it.
"""

from __future__ import annotations

from django.conf import settings
from django.core.wsgi import get_wsgi_application
from django.http import HttpRequest, JsonResponse
from django.urls import path

settings.configure(
    DEBUG=False,
    SECRET_KEY="bench-hello-world",  # noqa: S106 - a benchmark's throwaway server
    ALLOWED_HOSTS=["127.0.0.1", "localhost"],
    ROOT_URLCONF=__name__,
    MIDDLEWARE=[],
    INSTALLED_APPS=[],
    USE_TZ=True,
)


def hello(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"hello": "world"})


urlpatterns = [path("hello/", hello)]

application = get_wsgi_application()
