"""The documented web command (``gunicorn -c python:loyalty_site.gunicorn_conf``) serves, and each
worker listens on a socket of its own, so that the kernel spreads the tills' connections."""

from __future__ import annotations

import http.client
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

BASE_DIR = Path(__file__).resolve().parent.parent
GUNICORN = Path(sys.executable).parent / "gunicorn"
LISTEN = "0A"  # TCP_LISTEN in /proc/net/tcp


def listening_sockets(port: int) -> int:
    """How many sockets listen on 127.0.0.1:``port`` (one per worker with SO_REUSEPORT)."""
    rows = Path("/proc/net/tcp").read_text().splitlines()[1:]
    local = f"0100007F:{port:04X}"
    return sum(1 for row in rows if row.split()[1] == local and row.split()[3] == LISTEN)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def get(port: int, path: str) -> int | None:
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        conn.request("GET", path)
        return conn.getresponse().status
    except OSError:
        return None


@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="reads Linux's socket table")
def test_gunicorn_config_serves_with_a_listening_socket_per_worker():
    port = free_port()
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "loyalty_site.settings", "DJANGO_SECURE": "0"}
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    server = subprocess.Popen(  # noqa: S603 - fixed command
        [
            str(GUNICORN),
            "loyalty_site.wsgi",
            "--config",
            "python:loyalty_site.gunicorn_conf",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "2",
        ],
        cwd=BASE_DIR,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        # A request without a token is refused by the API itself: the app is loaded and serving.
        while get(port, "/api/v1/campaigns/") != 401 or listening_sockets(port) < 2:
            assert server.poll() is None, server.stderr.read().decode()
            assert time.monotonic() < deadline, "no two workers listening on sockets of their own"
            time.sleep(0.2)
        assert listening_sockets(port) == 2
    finally:
        server.terminate()
        server.wait(timeout=30)
