"""``CACHE_URL``: web processes share one rate-limit counter in Redis and see a revoked token
at once.

Each "web process" is a real separate Python process with ``CACHE_URL`` pointing at Redis. Runs
when ``REDIS_URL`` is set (CI sets it), on a database index of its own; the token test also needs
PostgreSQL (the processes share the test database).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from tests.database import database_url

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


def process_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "loyalty_site.settings",
            "CACHE_URL": cache_url(),
            "API_RATE_WRITE": "5/day",  # one window for the whole test
            **extra,
        }
    )
    return env


def web_process(script: str, *args: str, **env: str) -> object:
    result = subprocess.run(  # noqa: S603 - fixed command
        [sys.executable, "-c", script, *args],
        cwd=BASE_DIR,
        env=process_env(**env),
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


def test_the_cache_store_without_a_cache_url_counts_per_process():
    """The development-only combination (the default without CACHE_URL is the database store,
    shared: tests/test_rate_limit.py)."""
    token = str(uuid.uuid4().int % 10**9)
    alone = {"CACHE_URL": "", "RATE_LIMIT_STORE": "cache"}
    assert web_process(THROTTLE, token, **alone) == [True, True, True]
    assert web_process(THROTTLE, token, **alone) == [True, True, True]


# A long-lived web process: authenticates each key it reads, answers true/false.
AUTHENTICATE = """
import json, sys, django
django.setup()
from campaigns.services.tokens import api_token_authenticate
for line in sys.stdin:
    print(json.dumps(api_token_authenticate(line.strip()) is not None), flush=True)
"""
REVOKE = """
import json, sys, django
django.setup()
from campaigns.models import ApiToken
from campaigns.services.tokens import api_token_revoke
api_token_revoke(token=ApiToken.objects.get(prefix=sys.argv[1]))
print(json.dumps(True))
"""


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("shared", "after_revoke"), [(True, False), (False, True)])
def test_a_token_revoked_in_one_process_is_refused_by_another(retailer, shared, after_revoke):
    """Shared cache: refused at once. Per-process cache: still accepted from the other process's
    cached copy (for up to ``CACHE_SECONDS``), as documented."""
    from campaigns.services.tokens import api_token_create

    key = api_token_create(retailer=retailer, name="till").key
    env = process_env(DATABASE_URL=database_url(), CACHE_URL=cache_url() if shared else "")
    other = subprocess.Popen(  # noqa: S603 - fixed command
        [sys.executable, "-c", AUTHENTICATE],
        cwd=BASE_DIR,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:

        def authenticate() -> bool:
            other.stdin.write(key + "\n")
            other.stdin.flush()
            return json.loads(other.stdout.readline())

        assert authenticate() is True
        web_process(
            REVOKE, key.split(".")[0], DATABASE_URL=env["DATABASE_URL"], CACHE_URL=env["CACHE_URL"]
        )
        assert authenticate() is after_revoke
    finally:
        other.stdin.close()
        other.wait(timeout=30)
