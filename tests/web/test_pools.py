"""The two gunicorn pools of the deployment (``WEB_POOL``), run for real: a staff request that is
stuck never delays a till, nor another staff member; the tills' pool refuses staff pages (and the
staff pool the API); and a request past ``WEB_TIMEOUT`` is cut off, in both kinds of worker.

The stuck request is ``tests.web.blocking_wsgi``'s: it waits for a file the test creates. The
assertions are on order and completion; the timeouts only stop a broken run.
"""

from __future__ import annotations

import http.client
import os
import signal
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.database import database_url

BASE_DIR = Path(__file__).resolve().parent.parent.parent
GUNICORN = Path(sys.executable).parent / "gunicorn"
API = "/api/v1/campaigns/"  # 401 without a token: answered by the API itself, no database
STAFF = "/"  # the dashboard: a staff page, which sends the signed-out to sign in (302)
WAIT = 60  # seconds; only a broken run waits this long


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def get(port: int, path: str, timeout: float = 10) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


@contextmanager
def pool(name: str, tmp_path: Path, workers: int = 1, timeout: int = 60):
    """A gunicorn pool started as the README's deployment starts it; yields its port."""
    port = free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "loyalty_site.settings",
        "DJANGO_SECURE": "0",
        "DATABASE_URL": database_url(),
        "WEB_POOL": name,
        "WEB_TIMEOUT": str(timeout),
        "WEB_CONCURRENCY": str(workers),
        "WEB_BIND": f"127.0.0.1:{port}",
    }
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    command = [str(GUNICORN), "tests.web.blocking_wsgi", "-c", "python:loyalty_site.gunicorn_conf"]
    server = subprocess.Popen(  # noqa: S603 - fixed command
        command, cwd=BASE_DIR, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        probe = API if name == "tills" else STAFF
        deadline = time.monotonic() + WAIT
        while True:
            assert server.poll() is None, server.stderr.read().decode()
            assert time.monotonic() < deadline, f"the {name} pool did not start"
            try:
                get(port, probe, timeout=2)
                break
            except OSError:
                time.sleep(0.2)
        yield port
    finally:
        server.send_signal(signal.SIGINT)  # quick shutdown: a held request is not waited for
        try:
            server.wait(timeout=WAIT)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


class StuckRequest(threading.Thread):
    """A GET that the server holds until :meth:`release` (or for ever)."""

    def __init__(self, port: int, path: str, flag: Path) -> None:
        super().__init__(daemon=True)
        self.port, self.flag = port, flag
        self.path = f"{path}?block={flag}"
        self.status: int | None = None
        self.error: Exception | None = None

    def run(self) -> None:
        try:
            self.status = get(self.port, self.path, timeout=WAIT)
        except (OSError, http.client.HTTPException) as exc:
            self.error = exc

    def start_and_wait_until_stuck(self) -> StuckRequest:
        self.start()
        started = self.flag.with_name(self.flag.name + ".started")
        deadline = time.monotonic() + WAIT
        while not started.exists():
            assert self.is_alive(), f"the request ended early: {self.status} {self.error}"
            assert time.monotonic() < deadline, "the request never reached the application"
            time.sleep(0.05)
        return self

    def release(self) -> None:
        self.flag.touch()
        self.join(WAIT)


def test_tills_and_other_staff_are_answered_while_a_staff_request_is_stuck(tmp_path):
    with pool("staff", tmp_path, workers=2) as staff, pool("tills", tmp_path) as tills:
        # Each pool refuses the other's URLs: no staff request can occupy a till's worker.
        assert get(tills, STAFF) == 404
        assert get(tills, "/admin/") == 404
        assert get(tills, "/portal/x/") == 404
        assert get(staff, API) == 404
        assert get(staff, "/admin/") == 302

        stuck = StuckRequest(staff, STAFF, tmp_path / "release").start_and_wait_until_stuck()

        assert get(tills, API) == 401  # the till is answered...
        assert get(staff, STAFF) == 302  # ...and so is another staff member (the idle worker)
        assert stuck.is_alive()  # ...while the first staff request is still held
        assert stuck.status is None

        stuck.release()
        assert (stuck.status, stuck.error) == (302, None)


@pytest.mark.parametrize(("name", "path"), [("staff", STAFF), ("tills", API)])
def test_a_request_past_web_timeout_is_cut_off_and_the_pool_serves_on(tmp_path, name, path):
    with pool(name, tmp_path, timeout=2) as port:
        stuck = StuckRequest(port, path, tmp_path / "never").start_and_wait_until_stuck()
        stuck.join(WAIT)  # gunicorn aborts the worker: a 500, or the connection just closes
        assert not stuck.is_alive(), "the request was never cut off"
        assert stuck.status == 500 or isinstance(stuck.error, ConnectionError)
        deadline = time.monotonic() + WAIT
        while True:  # the master starts a new worker, which answers
            try:
                assert get(port, path) in {302, 401}
                break
            except OSError:
                assert time.monotonic() < deadline, "the pool stopped serving"
                time.sleep(0.2)
