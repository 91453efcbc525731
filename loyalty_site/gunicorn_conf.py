"""gunicorn settings for the web processes: ``gunicorn -c python:loyalty_site.gunicorn_conf``.

Command-line flags override these (``--workers 8``, ``--bind unix:/run/loyalty.sock``).

- **Threaded workers, one thread each** (``gthread``): keep-alive connections from the tills
  stay open and are served by an event loop; one thread per process because the GIL would run
  more threads of a process on one core anyway. ``WEB_CONCURRENCY`` sets the number of processes
  (default: two per core, so that one process computes while another waits on the database).
- **A listening socket per worker** (``reuse_port``): the kernel spreads new connections evenly
  over the workers. With one shared socket, the worker that happens to be idle when a burst of
  tills connects accepts most of them, and since a keep-alive connection stays with the worker
  that accepted it, that one process then serves most of the traffic on one core while the
  others idle (the API load benchmark measured 46 of 64 connections on one of four workers).
  Connections still waiting in a worker's queue when that worker exits are reset, so restart
  workers gracefully (``kill -HUP`` the master) rather than killing them.
- **Long-lived objects frozen** once a worker has loaded Django (``gc.freeze``): the cyclic
  garbage collector then no longer walks the ~200,000 objects of the loaded code on every full
  collection, which paused a worker for about 70 ms every few thousand requests.
"""

from __future__ import annotations

import gc
import os
from typing import Any

bind = os.environ.get("WEB_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", str(2 * (os.cpu_count() or 1))))
worker_class = "gthread"
threads = 1
reuse_port = True
#: Seconds an idle keep-alive connection stays open (tills send a request every few seconds).
keepalive = 30


def post_worker_init(worker: Any) -> None:
    """Freeze what loading the application created, so that collections skip it."""
    gc.collect()
    gc.freeze()
