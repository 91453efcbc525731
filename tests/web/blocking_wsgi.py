"""The site's WSGI application for the gunicorn tests, with a deliberately stuck request:
``?block=<path>`` creates ``<path>.started``, then waits until ``<path>`` exists before Django
answers. Only the tests start gunicorn with it."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from loyalty_site.wsgi import application as site


def application(environ: dict[str, Any], start_response: Any) -> Any:
    block = parse_qs(environ.get("QUERY_STRING", "")).get("block")
    if block:
        release = Path(block[0])
        release.with_name(release.name + ".started").touch()
        while not release.exists():
            time.sleep(0.05)
    return site(environ, start_response)
