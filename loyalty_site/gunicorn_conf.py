"""gunicorn settings for the web processes: ``gunicorn -c python:loyalty_site.gunicorn_conf``.

Command-line flags override these (``--workers 8``, ``--bind unix:/run/loyalty.sock``).

**Two pools** (``WEB_POOL``, README "Deployment"): the tills must never wait behind a staff request
(an export once held a worker for 291 s while the tills' connections queued on its socket). So
production runs this configuration twice, and a proxy sends ``/api/`` to the first:

- ``WEB_POOL=tills`` (default bind 127.0.0.1:8001) serves the POS API and nothing else
  (``loyalty_site.urls_tills``: a staff page answers 404 here, so no staff request can occupy a
  till's worker). Threaded workers of one thread (``gthread``) keep the tills' keep-alive
  connections open on an event loop (one thread per process because the GIL would run more
  threads of a process on one core anyway), and each worker listens on a socket of its own
  (``reuse_port``): the kernel spreads new connections evenly over the workers, where with one
  shared socket the worker that happened to be idle when a burst of tills connected accepted most
  of them (the API load benchmark measured 46 of 64 connections on one of four workers).
  Connections still waiting in a worker's queue when that worker exits are reset, so restart
  workers gracefully (``kill -HUP`` the master) rather than killing them.
- ``WEB_POOL=staff`` (default bind 127.0.0.1:8000) serves the admin, staff pages and portal
  (``loyalty_site.urls_staff``; the API answers 404). Synchronous workers on one shared socket: a
  worker accepts a connection only when it is free, so a long staff request holds its own
  worker and nobody's connection waits behind it.
- ``WEB_POOL=all`` (the default, for development and small installs) serves everything from one
  pool configured as the tills' pool.

**A time limit on every request** (``WEB_TIMEOUT`` seconds, default 60): gunicorn restarts a
worker that stops reporting to the master for that long. A synchronous worker reports only between
requests, so that bounds each request; a threaded worker's event loop keeps reporting while a
request runs, so here it stops reporting once a request has run for a second, and resumes when the
request ends (``_report_only_while_requests_are_short``).

**Long-lived objects frozen** once a worker has loaded Django (``gc.freeze``): the cyclic garbage
collector then no longer walks the ~200,000 objects of the loaded code on every full collection,
which paused a worker for about 70 ms every few thousand requests.
"""

from __future__ import annotations

import gc
import os
import threading
import time
from typing import Any

POOL = os.environ.get("WEB_POOL", "all")
if POOL not in {"all", "tills", "staff"}:
    raise ValueError(f"WEB_POOL must be all, tills or staff, not {POOL!r}")

bind = os.environ.get("WEB_BIND", "127.0.0.1:8001" if POOL == "tills" else "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", str(2 * (os.cpu_count() or 1))))
timeout = int(os.environ.get("WEB_TIMEOUT", "60"))
if POOL == "staff":
    worker_class = "sync"
    reuse_port = False
else:
    worker_class = "gthread"
    threads = 1
    reuse_port = True
    #: Seconds an idle keep-alive connection stays open (tills send a request every few seconds).
    keepalive = 30
#: A threaded worker stops reporting to the master while a request has run longer than this.
REPORT_WHILE_REQUEST_YOUNGER_THAN = 1.0


def _report_only_while_requests_are_short(worker: Any) -> None:
    """Make gunicorn's ``timeout`` bound each request of a threaded worker, as it does for a
    synchronous one: the worker's heartbeat stops while one of its requests is older than
    :data:`REPORT_WHILE_REQUEST_YOUNGER_THAN`, so the master restarts it once that request has
    run for about ``timeout`` seconds."""
    beat = worker.notify

    def notify() -> None:
        started = list(worker.request_started.values())
        if not started or time.monotonic() - min(started) < REPORT_WHILE_REQUEST_YOUNGER_THAN:
            beat()

    worker.notify = notify


def post_worker_init(worker: Any) -> None:
    """Freeze what loading the application created, so that collections skip it; bound the
    requests of threaded workers."""
    worker.request_started = {}
    if worker.cfg.worker_class_str == "gthread":
        _report_only_while_requests_are_short(worker)
    gc.collect()
    gc.freeze()


def pre_request(worker: Any, req: Any) -> None:
    worker.request_started[threading.get_ident()] = time.monotonic()


def post_request(worker: Any, req: Any, environ: Any, resp: Any) -> None:
    worker.request_started.pop(threading.get_ident(), None)
