"""Security settings and controls: deploy check, CSRF on every staff form, secure cookies and
HSTS in production, rate limits (sign-in, portal, API), secrets from the environment, portal
links (entropy, expiry, revocation) and the admin for staff only.

``tests/test_settings.py`` already pins ``check --deploy`` (clean with production env, W009 with
the default key) and the secure-cookie flags; this file checks what a client actually receives.
"""

from __future__ import annotations

import ast
import datetime as dt
import hashlib
import math
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from customers.models import PortalAccess
from customers.services.portal import (
    portal_access_resolve,
    portal_link_create,
    portal_link_revoke,
)
from loyalty_site import rate_limit
from retailers.models import Role
from tests.customers.factories import CustomerFactory
from tests.database import database_url
from tests.reliability.tenants import build_tenant
from tests.reliability.test_isolation import (
    CREDENTIAL_PARAMS,
    MAPPINGS,
    NON_OBJECT,
    admin_filler,
    walk,
)
from tests.retailers.factories import UserFactory

BASE_DIR = Path(__file__).resolve().parents[2]
PRODUCTION_ENV = {
    "DJANGO_SECRET_KEY": "k" * 20 + "-a-real-secret-key-from-the-environment-0123456789",
    "DJANGO_DEBUG": "0",
    "DJANGO_ALLOWED_HOSTS": "loyalty.example.com",
}


def run_with_production_settings(code: str, tmp_path: Path, **extra: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_URL"))}
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "loyalty_site.settings",
            "DATABASE_URL": database_url(),
            **PRODUCTION_ENV,
            **extra,
        }
    )
    result = subprocess.run(  # noqa: S603
        [sys.executable, "-c", "import django; django.setup()\n" + code],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_production_answers_redirect_to_https_with_hsts_and_secure_cookies(tmp_path):
    code = """
from django.test import Client
from django.test.utils import override_settings
from django.conf import settings as s
# Only the static storage differs (no collectstatic manifest in a test checkout).
override_settings(STORAGES={**s.STORAGES, "staticfiles": {
    "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}).enable()
c = Client(SERVER_NAME="loyalty.example.com")
plain = c.get("/accounts/login/")
print("plain", plain.status_code, plain.headers.get("Location"))
secure = c.get("/accounts/login/", secure=True)
print("status", secure.status_code)
print("hsts", secure.headers.get("Strict-Transport-Security"))
print("frame", secure.headers.get("X-Frame-Options"))
print("nosniff", secure.headers.get("X-Content-Type-Options"))
morsel = secure.cookies["csrftoken"]
print("csrf_secure", bool(morsel["secure"]), morsel["samesite"])
from django.conf import settings
print("session", settings.SESSION_COOKIE_SECURE, settings.SESSION_COOKIE_HTTPONLY)
"""
    out = dict(
        line.split(" ", 1) for line in run_with_production_settings(code, tmp_path).splitlines()
    )
    assert out["plain"] == "301 https://loyalty.example.com/accounts/login/"
    assert out["status"] == "200"
    hsts = out["hsts"]
    assert "max-age=31536000" in hsts
    assert "includeSubDomains" in hsts
    assert "preload" in hsts
    assert out["frame"] == "DENY"
    assert out["nosniff"] == "nosniff"
    assert out["csrf_secure"].startswith("True")
    assert out["session"] == "True True"


def test_check_deploy_is_clean_with_production_env_and_postgres_url(tmp_path):
    """The production shape: PostgreSQL URL and the env secret (no database connection needed)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "loyalty_site.settings",
            **PRODUCTION_ENV,
            "DATABASE_URL": "postgres://loyalty@db.invalid:5432/loyalty",
        }
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_secret_key_comes_only_from_the_environment(tmp_path):
    out = run_with_production_settings(
        "from django.conf import settings; print(settings.SECRET_KEY)", tmp_path
    )
    assert out.strip() == PRODUCTION_ENV["DJANGO_SECRET_KEY"]
    # settings.py: SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "django-insecure-..."), and
    # no other secret-looking setting is a literal.
    tree = ast.parse((BASE_DIR / "loyalty_site" / "settings.py").read_text())
    for node in ast.walk(tree):
        if not isinstance(node, ast.Assign):
            continue
        names = [t.id for t in node.targets if isinstance(t, ast.Name)]
        if "SECRET_KEY" in names:
            call = node.value
            assert isinstance(call, ast.Call)
            assert ast.unparse(call.func) == "os.environ.get"
            assert call.args[0].value == "DJANGO_SECRET_KEY"
            assert call.args[1].value.startswith("django-insecure-")  # flagged by check --deploy
        elif any(word in n for n in names for word in ("SECRET", "PASSWORD", "TOKEN", "API_KEY")):
            assert not isinstance(node.value, ast.Constant), f"literal {names} in settings.py"


# --- CSRF on every staff form (found by the URL walk) -----------------------------------------


#: Views that must take a POST without a CSRF token, and why (each has its own tests).
CSRF_EXEMPT = {
    # RFC 8058 one-click unsubscribe: the mail provider POSTs without cookies; the signed token in
    # the URL is the credential, and it can only withdraw that customer's consent
    # (tests/campaigns/test_delivery_pages.py).
    "unsubscribe",
}


def test_every_staff_post_is_refused_without_a_csrf_token(db):
    cache.clear()
    a, b = build_tenant("csrfa"), build_tenant("csrfb")
    client = Client(enforce_csrf_checks=True)
    client.force_login(a.staff)
    refused, failures = 0, []
    for route in walk():
        if route.name.startswith("api") or route.text.startswith("api/"):
            continue  # token auth only, no session: CSRF does not apply (see the API tests)
        if "logout" in route.name or route.name in CSRF_EXEMPT:
            continue
        fills = [{}]
        if route.params:
            filler = next(
                (
                    t[route.name or route.text]
                    for t in (MAPPINGS, CREDENTIAL_PARAMS, NON_OBJECT)
                    if (route.name or route.text) in t
                ),
                None,
            ) or admin_filler(route)
            assert filler is not None, f"no filler for {route.text}"
            fills = filler(b, a)  # A's own objects: the forms would otherwise act
        for values in fills:
            values.pop("_combo", None)
            path = route.path(values)
            response = client.post(path, {"comment": "x", "decision": "approve"})
            if response.status_code == 403 and b"CSRF" in response.content:
                refused += 1
            elif response.status_code not in (404, 405) and not (
                300 <= response.status_code < 400 and "login" in response.headers["Location"]
            ):
                failures.append(f"POST {path} [{route.name}] -> {response.status_code}")
    assert not failures, "POSTs accepted without a CSRF token:\n  " + "\n  ".join(failures)
    assert refused >= 100, refused
    print(f"CSRF: {refused} staff POST endpoints refused without a token")


# --- Rate limits --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_admin_sign_in_is_locked_out_after_five_failures(retailer, make_staff):
    user = make_staff(retailer, Role.ADMIN)
    client = Client(REMOTE_ADDR="10.1.2.3")
    url = reverse("admin:login")
    statuses = [
        client.post(url, {"username": user.username, "password": "wrong"}).status_code
        for _ in range(5)
    ]
    assert statuses[-1] == 429
    right = client.post(url, {"username": user.username, "password": "pw-Secret-123"})
    assert right.status_code == 429
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_portal_is_rate_limited_per_address(retailer, settings, monkeypatch):
    cache.clear()
    # 5 s into a minute, whatever the real time: a slow machine never splits the 32 requests
    # over two of the limiter's fixed windows (which made this test fail under load).
    monkeypatch.setattr(rate_limit, "time", SimpleNamespace(time=lambda: 60_000_000 + 5.0))
    settings.PORTAL_RATE_PER_MINUTE = 30
    link = portal_link_create(customer=CustomerFactory(retailer=retailer))
    client = Client(REMOTE_ADDR="10.9.9.9")
    statuses = [client.get(link.path).status_code for _ in range(31)]
    assert statuses[:30] == [200] * 30
    assert statuses[30] == 429
    # Guessing links is throttled the same way (unknown tokens count too).
    assert client.get("/portal/" + "y" * 43 + "/").status_code == 429
    cache.clear()


@pytest.mark.django_db
def test_api_is_throttled_per_token_with_retry_after(api_client, retailer, monkeypatch):
    from types import SimpleNamespace

    from campaigns.api.throttles import TokenScopedThrottle
    from loyalty_site import rate_limit
    from tests.campaigns.rewards_factories import token_client

    cache.clear()
    # 10 s into a minute, whatever the real time: the seven requests fall in one window.
    monkeypatch.setattr(rate_limit, "time", SimpleNamespace(time=lambda: 60_000_000 + 10.0))
    monkeypatch.setattr(TokenScopedThrottle, "THROTTLE_RATES", {"pos_read": "5/min"})
    client, _, _ = token_client(api_client, retailer)
    statuses = [client.get("/api/v1/campaigns/").status_code for _ in range(6)]
    assert statuses == [200] * 5 + [429]
    last = client.get("/api/v1/campaigns/")
    assert last.status_code == 429
    assert last.headers["Retry-After"] == "50"
    assert last.json()["error"]["code"]
    cache.clear()


# --- Portal links and API keys ------------------------------------------------------------------


@pytest.mark.django_db
def test_portal_links_are_unguessable_and_only_hashed_in_the_database(retailer):
    customer = CustomerFactory(retailer=retailer)
    tokens = [portal_link_create(customer=customer).token for _ in range(200)]
    assert len(set(tokens)) == 200
    alphabet = 64  # token_urlsafe: base64url
    assert min(len(t) for t in tokens) * math.log2(alphabet) >= 128
    stored = set(PortalAccess.objects.values_list("token_hash", flat=True))
    assert stored == {hashlib.sha256(t.encode()).hexdigest() for t in tokens}
    assert not stored & set(tokens)


@pytest.mark.django_db
def test_portal_links_expire_and_can_be_revoked(retailer, client):
    cache.clear()
    customer = CustomerFactory(retailer=retailer)
    link = portal_link_create(customer=customer, days=1)
    assert client.get(link.path).status_code == 200
    later = timezone.now() + dt.timedelta(days=1, seconds=1)
    assert portal_access_resolve(token=link.token, now=later) is None
    PortalAccess.objects.filter(pk=link.access.pk).update(expires_at=timezone.now())
    assert client.get(link.path).status_code == 404
    fresh = portal_link_create(customer=customer)
    assert client.get(fresh.path).status_code == 200
    portal_link_revoke(access=fresh.access)
    assert client.get(fresh.path).status_code == 404
    cache.clear()


@pytest.mark.django_db
def test_portal_page_is_not_cached_nor_leaked_as_referrer(retailer, client):
    cache.clear()
    link = portal_link_create(customer=CustomerFactory(retailer=retailer))
    response = client.get(link.path)
    assert "no-store" in response.headers["Cache-Control"]
    assert response.headers["Referrer-Policy"] == "no-referrer"
    cache.clear()


@pytest.mark.django_db
def test_api_keys_have_128_bits_and_only_a_hash_is_stored(retailer):
    from campaigns.models import ApiToken
    from campaigns.services.tokens import api_token_create

    keys = [api_token_create(retailer=retailer, name=f"t{i}").key for i in range(50)]
    secrets_ = [k.split(".", 1)[1] for k in keys]
    assert min(len(s) for s in secrets_) * 6 >= 128
    hashes = set(ApiToken.objects.values_list("key_hash", flat=True))
    assert not hashes & set(secrets_)


# --- Admin for staff only -----------------------------------------------------------------------


@pytest.mark.django_db
def test_admin_is_for_staff_only(retailer, make_staff):
    from retailers.models import Membership

    non_staff = UserFactory(is_staff=False)
    Membership.objects.create(user=non_staff, retailer=retailer, role=Role.ADMIN)
    client = Client()
    client.force_login(non_staff)
    for path in ("/admin/", "/admin/customers/customer/", "/admin/campaigns/campaign/"):
        response = client.get(path)
        assert response.status_code == 302, path
        assert response.headers["Location"].startswith("/admin/login/")
    anonymous = Client().get("/admin/customers/customer/")
    assert anonymous.headers["Location"].startswith("/admin/login/")
    # A staff user without any retailer sees no tenant data in the admin.
    loner = UserFactory(is_staff=True)
    client.force_login(loner)
    assert client.get("/admin/customers/customer/").status_code == 403
