"""``CACHE_URL``: web processes share one rate-limit counter and see a revoked token at once.

Each "web process" is a real separate Python process with ``CACHE_URL`` pointing at Redis. Runs
when ``REDIS_URL`` is set (CI sets it), on a database index of its own.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

BASE_DIR = Path(__file__).resolve().parent.parent

pytestmark = [
    pytest.mark.redis,
    pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="set REDIS_URL to test on Redis"),
]

# Three writes with one token, as a web process would count them (limit 5 per day).
THROTTLE = """
import json, sys, django
django.setup()
from types import SimpleNamespace
from campaigns.api.throttles import TokenScopedThrottle
request = SimpleNamespace(auth=SimpleNamespace(pk=int(sys.argv[1])), META={})
view = SimpleNamespace(throttle_scope="pos_write")
print(json.dumps([TokenScopedThrottle().allow_request(request, view) for _ in range(3)]))
"""


def cache_url() -> str:
    base = os.environ["REDIS_URL"].rsplit("/", 1)[0]
    return f"{base}/14"  # not the broker's database


def web_process(script: str, *args: str) -> object:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "loyalty_site.settings",
            "CACHE_URL": cache_url(),
            "API_RATE_WRITE": "5/day",  # one window for the whole test
        }
    )
    result = subprocess.run(  # noqa: S603 - fixed command
        [sys.executable, "-c", script, *args],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_two_web_processes_share_one_rate_limit_counter():
    token = str(uuid.uuid4().int % 10**9)  # a counter no other run has touched
    first = web_process(THROTTLE, token)
    second = web_process(THROTTLE, token)
    assert first == [True, True, True]
    assert second == [True, True, False]  # the 6th request across both processes


def test_without_a_cache_url_each_process_counts_alone():
    token = str(uuid.uuid4().int % 10**9)
    env_script = "import os; os.environ.pop('CACHE_URL')\n" + THROTTLE
    assert web_process(env_script, token) == [True, True, True]
    assert web_process(env_script, token) == [True, True, True]
