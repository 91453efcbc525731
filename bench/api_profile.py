"""Where the tills' CPU goes: lookup and redemption through the WSGI application, in-process.

No HTTP and no gunicorn: requests are handed to ``loyalty_site.wsgi.application`` as WSGI
environs, so the figure is the application's own CPU per request (Django, DRF, the SQL client
side), the part ``bench/api_load.py`` cannot split from gunicorn's. With ``--profile`` it prints
cProfile's top functions by own time and by cumulative time.

Needs the database ``bench/api_load.py`` leaves behind (retailer ``bench-api``), or
``--prepare`` to build a small one the same way (500 customers). The script creates a token and
turns one bonus into a many-use bonus, so that every redemption takes the path of a fresh
single-use bonus (the one-statement path).

Run: ``DATABASE_URL=postgres://postgres@127.0.0.1:5432/loyalty_bench_api
.venv/bin/python bench/api_profile.py [--requests 3000] [--profile]``.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ENV = {
    "DJANGO_SETTINGS_MODULE": "loyalty_site.settings",
    "DJANGO_SECURE": "0",
    "DJANGO_DEBUG": "0",
    "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
    "API_RATE_READ": "100000000/min",
    "API_RATE_WRITE": "100000000/min",
    "LOG_LEVEL": "ERROR",
    "WEB_POOL": "tills",
}


def environ(method: str, path: str, key: str, body: bytes = b"", extra: dict | None = None):
    """A WSGI environ as gunicorn builds it for a till's request."""
    env = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8001",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": "127.0.0.1:8001",
        "HTTP_AUTHORIZATION": f"Token {key}",
        "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body),
        "wsgi.url_scheme": "http",
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
        "wsgi.version": (1, 0),
    }
    env.update(extra or {})
    return env


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--profile", action="store_true", help="print cProfile's top functions")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--prepare", action="store_true", help="recreate the bench database")
    args = parser.parse_args()
    for name, value in ENV.items():
        os.environ.setdefault(name, value)
    os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/loyalty_bench_api")
    sys.path.insert(0, str(ROOT))
    if args.prepare:
        sys.path.insert(0, str(ROOT / "bench"))
        from api_load import prepare, recreate_database

        recreate_database(os.environ["DATABASE_URL"])
        prepare(500, 50)  # sets Django up
    import django

    django.setup()
    from campaigns.models import Bonus, BonusState
    from campaigns.services.tokens import api_token_create
    from customers.models import Customer
    from loyalty_site.wsgi import application
    from retailers.models import Retailer

    retailer = Retailer.objects.get(slug="bench-api")
    key = api_token_create(retailer=retailer, name="profile").key
    customers = list(
        Customer.objects.filter(retailer=retailer).values_list("external_id", flat=True)[:500]
    )
    # A bonus never used yet, allowed as many uses as the smallint holds (32,000 redemptions).
    bonus = Bonus.objects.filter(
        retailer=retailer, state=BonusState.ISSUED, uses=0, max_uses=1
    ).latest("pk")
    Bonus.objects.filter(pk=bonus.pk).update(max_uses=32000)
    statuses: dict[str, int] = {}

    def start_response(status: str, headers: list) -> None:
        statuses[status[:3]] = statuses.get(status[:3], 0) + 1

    def lookup(n: int) -> None:
        path = f"/api/v1/customers/{customers[n % len(customers)]}/"
        b"".join(application(environ("GET", path, key), start_response))

    def redeem(n: int) -> None:
        body = json.dumps({"code": bonus.code, "basket_amount": "25.00"}).encode()
        extra = {"HTTP_IDEMPOTENCY_KEY": str(uuid.uuid4())}
        b"".join(
            application(environ("POST", "/api/v1/redemptions/", key, body, extra), start_response)
        )

    print(f"load average {os.getloadavg()[0]:.2f}")
    for name, call in (("lookup", lookup), ("redemption", redeem)):
        for n in range(100):  # warm up: imports, URL resolver, prepared statements
            call(n)
        statuses.clear()
        profiler = cProfile.Profile(time.process_time) if args.profile else None
        cpu, wall = time.process_time(), time.perf_counter()
        if profiler:
            profiler.enable()
        for n in range(args.requests):
            call(n)
        if profiler:
            profiler.disable()
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        print(
            f"{name:<11} {cpu / args.requests * 1000:6.3f} ms CPU/request "
            f"({wall / args.requests * 1000:.3f} ms wall) statuses {statuses}"
        )
        if profiler:
            for order in ("tottime", "cumulative"):
                out = io.StringIO()
                pstats.Stats(profiler, stream=out).sort_stats(order).print_stats(args.top)
                print(out.getvalue())


if __name__ == "__main__":
    main()
