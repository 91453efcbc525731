"""The settings promises: env-driven configuration, safe django-q2 queues, deploy checks."""

from __future__ import annotations

import os
import runpy
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
SETTINGS_FILE = BASE_DIR / "loyalty_site" / "settings.py"
PRODUCTION_ENV = {
    "DJANGO_SECRET_KEY": "k" * 20 + "-a-real-secret-key-from-the-environment-0123456789",
    "DJANGO_DEBUG": "0",
    "DJANGO_ALLOWED_HOSTS": "loyalty.example.com",
}
ENV_KEYS = (
    "DATABASE_URL",
    "REDIS_URL",
    "DJANGO_DEBUG",
    "DJANGO_SECURE",
    "DJANGO_SECRET_KEY",
)


def load_settings(monkeypatch: pytest.MonkeyPatch, **env: str) -> dict:
    """Evaluate settings.py in a fresh namespace under the given environment."""
    for key in ENV_KEYS:
        monkeypatch.delenv(key, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return runpy.run_path(str(SETTINGS_FILE))


def test_settings_default_to_embedded_postgres_and_orm_broker(monkeypatch):
    conf = load_settings(monkeypatch)
    db = conf["DATABASES"]["default"]
    assert db["ENGINE"] == "loyalty_site.embedded_pg"
    assert db["PGDATA"] == str(BASE_DIR / "var" / "pgdata")
    assert "lock_timeout=" in db["OPTIONS"]["options"]
    assert conf["Q_CLUSTER"]["orm"] == "default"
    assert "redis" not in conf["Q_CLUSTER"]
    assert conf["DEBUG"] is False


def test_settings_database_url_selects_postgres_with_bounded_lock_waits(monkeypatch):
    conf = load_settings(monkeypatch, DATABASE_URL="postgres://postgres@127.0.0.1:5432/x")
    db = conf["DATABASES"]["default"]
    assert db["ENGINE"] == "django.db.backends.postgresql"
    assert "lock_timeout=" in db["OPTIONS"]["options"]


def test_settings_refuse_a_database_url_that_is_not_postgres(monkeypatch):
    with pytest.raises(ImproperlyConfigured, match="PostgreSQL"):
        load_settings(monkeypatch, DATABASE_URL="sqlite:////tmp/loyalty.sqlite3")


def test_settings_redis_url_switches_broker(monkeypatch):
    conf = load_settings(monkeypatch, REDIS_URL="redis://127.0.0.1:6379/0")
    assert conf["Q_CLUSTER"]["redis"] == "redis://127.0.0.1:6379/0"
    assert "orm" not in conf["Q_CLUSTER"]


@pytest.mark.parametrize("redis", ["", "redis://127.0.0.1:6379/0"])
def test_q_cluster_every_queue_times_out_before_retry_with_bounded_attempts(monkeypatch, redis):
    """A task still running when `retry` passes would be delivered twice; attempts must end."""
    q = load_settings(monkeypatch, REDIS_URL=redis)["Q_CLUSTER"]
    queues = {"default": q, **{name: {**q, **alt} for name, alt in q["ALT_CLUSTERS"].items()}}
    assert "long" in queues
    for name, conf in queues.items():
        assert conf["timeout"] < conf["retry"], name
        assert 0 < conf["max_attempts"] <= 5, name
    assert q["catch_up"] is False  # no backlog of missed schedules after downtime
    assert queues["long"]["timeout"] > q["timeout"]


def test_settings_secure_defaults_when_debug_off(monkeypatch):
    conf = load_settings(monkeypatch, **PRODUCTION_ENV)
    assert conf["SESSION_COOKIE_SECURE"]
    assert conf["CSRF_COOKIE_SECURE"]
    assert conf["SECURE_HSTS_SECONDS"] >= 31_536_000
    dev = load_settings(monkeypatch, DJANGO_DEBUG="1")
    assert dev["DEBUG"] is True
    assert dev["SESSION_COOKIE_SECURE"] is False


def run_python(args: list[str], extra_env: dict[str, str]) -> subprocess.CompletedProcess:
    """Run Python in a deployment's environment: none of the test run's DJANGO_* variables (the
    browser tests set DJANGO_ALLOW_ASYNC_UNSAFE for the whole session, which check --deploy
    rightly flags)."""
    env = {k: v for k, v in os.environ.items() if k not in ENV_KEYS and not k.startswith("DJANGO_")}
    env.update({"DJANGO_SETTINGS_MODULE": "loyalty_site.settings", **extra_env})
    return subprocess.run(  # noqa: S603 - fixed command
        [sys.executable, *args],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def run_deploy_check(extra_env: dict[str, str]) -> subprocess.CompletedProcess:
    return run_python(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], extra_env)


def test_check_deploy_is_clean_with_production_settings():
    result = run_deploy_check(PRODUCTION_ENV)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_check_deploy_flags_the_default_secret_key():
    env = {k: v for k, v in PRODUCTION_ENV.items() if k != "DJANGO_SECRET_KEY"}
    result = run_deploy_check(env)
    assert result.returncode != 0
    assert "security.W009" in result.stdout + result.stderr


@pytest.mark.parametrize(("level", "shown"), [("INFO", True), ("ERROR", False)])
def test_log_level_also_filters_djangos_request_warnings(level, shown):
    code = (
        "import django, logging; django.setup(); "
        "logging.getLogger('django.request').warning('Conflict: /api/v1/redemptions/')"
    )
    result = run_python(["-c", code], {"LOG_LEVEL": level})
    assert result.returncode == 0, result.stderr
    assert ("Conflict: /api/v1/redemptions/" in result.stderr) is shown
