"""Settings of the loyalty platform: one file, every difference between environments from env vars.

Defaults give a working single-machine install: an embedded PostgreSQL server
(loyalty_site.embedded_pg: started on the first connection, data in var/pgdata), the django-q2
ORM broker.

Environment variables
    DJANGO_DEBUG            "1" for development (default off).
    DJANGO_SECRET_KEY       required in production; the default is flagged by ``check --deploy``.
    DJANGO_SECRET_KEY_FALLBACKS  earlier keys after a rotation, comma-separated.
    DJANGO_ALLOWED_HOSTS    comma separated (default "localhost,127.0.0.1").
    DJANGO_CSRF_TRUSTED_ORIGINS  comma separated origins, e.g. "https://loyalty.example.com".
    DJANGO_SECURE           "1" forces HTTPS-only cookies, HSTS and the SSL redirect
                            (default: on unless DEBUG).
    DATABASE_URL            e.g. postgres://postgres@127.0.0.1:5432/loyalty: that PostgreSQL server
                            (default: the embedded server, database "loyalty").
    DB_LOCK_TIMEOUT_MS      PostgreSQL lock_timeout for every connection (default 5000).
    REDIS_URL               switches the django-q2 broker from the ORM to Redis (see README).
    CACHE_URL               redis://... : one cache shared by the web processes (resolved API
                            tokens, and the rate limits); default: a local-memory cache per process.
    RATE_LIMIT_STORE        "database" (default without CACHE_URL) or "cache" (default with it):
                            where rate-limit counters live; both are shared by all web processes.
    Q_WORKERS               worker processes per django-q2 cluster (default 2).
    Q_STOP_GRACE_SECONDS    after SIGTERM, workers still busy are killed after this (default 20).
    RUN_ABANDONED_AFTER_SECONDS  a run with no worker heartbeat for this long is abandoned
                            (default 300).
    ARTIFACTS_DIR           where trained models are saved (default BASE_DIR/var/artifacts).
    ALLOCATION_PRICING_CHUNKS  > 1: the allocation's pricing passes fan out over that many
                            django-q2 tasks (docs/allocation.md, "Fan-out"); default 0 (in-process).
    ALLOCATION_PRICING_QUEUES  comma-separated queue names: chunk i always goes to queue
                            i mod count (one queue per worker process bounds its memory).
    ALLOCATION_FANOUT_DIR   folder every worker machine shares for the chunks' arrays
                            (default ARTIFACTS_DIR/fanout).
    MEDIA_ROOT              uploaded import files and finished exports (default BASE_DIR/var/media).
    EXPORT_SYNC_MAX_ROWS    admin exports with more rows become background jobs (default 2000).
    EXPORT_KEEP_DAYS        finished export files are deleted after this many days (default 2).
    WEB_POOL                "tills" (the POS API only), "staff" (everything else) or "all"
                            (default): which URLs this web process serves (README, deployment).
    DJANGO_EMAIL_BACKEND    default: the console backend (prints mail); SMTP or an ESP through
                            django-anymail (docs/delivery.md), with EMAIL_HOST/PORT/HOST_USER/
                            HOST_PASSWORD/USE_TLS or ANYMAIL (JSON) for their settings.
    SITE_URL                absolute address of the site in e-mails (default http://localhost:8000).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import dj_database_url
from csp.constants import NONCE, NONE, SELF
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    """Read a boolean environment variable ("1", "true", "yes", "on" are true)."""
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str) -> list[str]:
    """Read a comma-separated environment variable into a list without empty items."""
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DJANGO_DEBUG", False)
SECRET_KEY = os.environ.get(
    "DJANGO_SECRET_KEY", "django-insecure-dev-only-key-set-DJANGO_SECRET_KEY-in-production"
)
# Earlier keys, still accepted after a rotation (signed values, sessions, sealed webhook secrets
# until ``manage.py reseal_secrets``); comma-separated.
SECRET_KEY_FALLBACKS = env_list("DJANGO_SECRET_KEY_FALLBACKS", "")
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "import_export",
    "axes",
    "csp",
    "retailers",
    "customers",
    "campaigns",
    "optimizer",
    "loyalty_site.site",
    # After retailers, whose ``qcluster`` command (stops cleanly on SIGTERM) replaces this one's.
    "django_q",
]

MIDDLEWARE = [
    # A till's token-authenticated API request takes a short stack of its own (TILL_MIDDLEWARE).
    "loyalty_site.middleware.TillFastPathMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    # Before anything reads the path or the query string: a %00 is a 400, never a 500.
    "loyalty_site.middleware.RefuseNulBytesMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Pages show times in their retailer's zone; reset after every request.
    "retailers.web.RetailerTimeZoneMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # A domain error no page handled becomes its status page (loyalty_site.error_pages).
    "loyalty_site.error_pages.DomainErrorMiddleware",
    # Last, as django-axes requires: turns a locked-out sign-in into the lockout page.
    "axes.middleware.AxesMiddleware",
]

#: Which URLs this web process serves. Production runs two gunicorn pools (README, deployment):
#: "tills" serves only the POS API, so no staff request ever occupies a till's worker; "staff"
#: serves everything else. "all" (one pool) is for development and small installs.
WEB_POOL = os.environ.get("WEB_POOL", "all")
_URLCONFS = {
    "all": "loyalty_site.urls",
    "tills": "loyalty_site.urls_tills",
    "staff": "loyalty_site.urls_staff",
}
if WEB_POOL not in _URLCONFS:
    raise ValueError(f"WEB_POOL must be one of {', '.join(_URLCONFS)}, not {WEB_POOL!r}")
ROOT_URLCONF = _URLCONFS[WEB_POOL]
WSGI_APPLICATION = "loyalty_site.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "retailers.context_processors.staff",
                "csp.context_processors.nonce",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
DB_LOCK_TIMEOUT_MS = int(os.environ.get("DB_LOCK_TIMEOUT_MS", "5000"))
# Persistent connections. Health checks (one "SELECT 1" round trip before each request's first
# query) are off, as in Django's default: after a database restart each web process's first
# request fails once (the till retries with its Idempotency-Key) and reconnects. Set
# DB_CONN_HEALTH_CHECKS=1 to trade that round trip for never failing that request.
_CONN_HEALTH_CHECKS = os.environ.get("DB_CONN_HEALTH_CHECKS", "0") == "1"
DATABASES: dict[str, dict[str, Any]]
if os.environ.get("DATABASE_URL"):
    DATABASES = {
        "default": dict(
            dj_database_url.config(conn_max_age=60, conn_health_checks=_CONN_HEALTH_CHECKS)
        )
    }
    if DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        raise ImproperlyConfigured("DATABASE_URL must name a PostgreSQL database (postgres://...)")
else:
    # No server configured: PostgreSQL from the pgserver wheel, started on the first connection.
    DATABASES = {
        "default": {
            "ENGINE": "loyalty_site.embedded_pg",
            "NAME": "loyalty",
            "USER": "postgres",
            "PGDATA": str(BASE_DIR / "var" / "pgdata"),
            "CONN_MAX_AGE": 60,
            "CONN_HEALTH_CHECKS": _CONN_HEALTH_CHECKS,
        }
    }
# Bounded lock waits: a blocked request fails fast (and is answered 409/503) rather than hanging a
# worker.
DATABASES["default"].setdefault("OPTIONS", {})["options"] = f"-c lock_timeout={DB_LOCK_TIMEOUT_MS}"
# Prepared statements for the tills' hot SQL paths only (loyalty_site.hot_sql asks for them
# explicitly; Django's ORM binds client-side and never prepares). Set DB_PREPARED_STATEMENTS=0
# behind a pooler that cannot keep them (PgBouncer < 1.21).
if os.environ.get("DB_PREPARED_STATEMENTS", "1") == "1":
    DATABASES["default"]["OPTIONS"]["prepare_threshold"] = 2**31 - 1
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Auth -----------------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "retailers:dashboard"
LOGOUT_REDIRECT_URL = "login"
# django-axes first: it refuses sign-ins of a locked-out username+IP before the password check.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# Lock a username+IP pair out after 5 failed sign-ins for 15 minutes (staff pages and admin).
AXES_FAILURE_LIMIT = 5
AXES_COOLOFF_TIME = 0.25  # hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"

# --- Time and language ----------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Static and uploaded files --------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT: Path | None = BASE_DIR / "staticfiles"  # settings_test sets None
STATICFILES_DIRS = [BASE_DIR / "static"]
STATICFILES_FINDERS = [
    "django.contrib.staticfiles.finders.FileSystemFinder",
    "django.contrib.staticfiles.finders.AppDirectoriesFinder",
]
MEDIA_URL = "media/"
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", BASE_DIR / "var" / "media"))
ARTIFACTS_DIR = Path(os.environ.get("ARTIFACTS_DIR", BASE_DIR / "var" / "artifacts"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024

# --- Security -------------------------------------------------------------------------------
SECURE = env_bool("DJANGO_SECURE", not DEBUG)
SESSION_COOKIE_SECURE = SECURE
CSRF_COOKIE_SECURE = SECURE
SECURE_SSL_REDIRECT = SECURE
SECURE_HSTS_SECONDS = 31_536_000 if SECURE else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE
SECURE_HSTS_PRELOAD = SECURE
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_CONTENT_TYPE_NOSNIFF = True
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
#: Content-Security-Policy on every response (django-csp): scripts and styles only from this
#: site, or inline with the response's nonce (``{{ CSP_NONCE }}``: the admin's own templates,
#: Swagger UI's initialiser); no inline ``style`` attributes or event handlers, no eval, no
#: other origin. Images may be ``data:`` URIs (Swagger UI's icons). The portal's QR codes are
#: inline SVG, and so are the staff pages' charts (loyalty_site/charts.py: no chart script).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF, NONCE],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

# --- Email ----------------------------------------------------------------------------------
EMAIL_BACKEND = os.environ.get(
    "DJANGO_EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend"
)
DEFAULT_FROM_EMAIL = os.environ.get("DJANGO_DEFAULT_FROM_EMAIL", "loyalty@localhost")
# SMTP: DJANGO_EMAIL_BACKEND=django.core.mail.backends.smtp.EmailBackend and the EMAIL_* below.
# An ESP through django-anymail: DJANGO_EMAIL_BACKEND=anymail.backends.<esp>.EmailBackend and its
# credentials as JSON in ANYMAIL (e.g. {"MAILGUN_API_KEY": "..."}); docs/delivery.md.
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "25"))
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = os.environ.get("EMAIL_USE_TLS", "") == "1"
EMAIL_TIMEOUT = int(os.environ.get("EMAIL_TIMEOUT", "30"))
EMAIL_FILE_PATH = os.environ.get("EMAIL_FILE_PATH", str(BASE_DIR / "sent_mail"))
ANYMAIL: dict[str, Any] = json.loads(os.environ.get("ANYMAIL", "{}"))
#: Absolute address of the site, for links in e-mails (portal, unsubscribe).
SITE_URL = os.environ.get("SITE_URL", "http://localhost:8000").rstrip("/")
#: Offer e-mails: a claimed batch not finished after this many seconds is taken over (its
#: worker died); a message is tried this many times before its delivery is failed for good.
DELIVERY_LEASE_SECONDS = int(os.environ.get("DELIVERY_LEASE_SECONDS", "600"))
DELIVERY_MAX_ATTEMPTS = int(os.environ.get("DELIVERY_MAX_ATTEMPTS", "3"))
#: "off": the per-message commits of a batch do not wait for the disk (faster; a PostgreSQL
#: crash, not a worker's, may then repeat the last messages). docs/delivery.md.
DELIVERY_SYNCHRONOUS_COMMIT = os.environ.get("DELIVERY_SYNCHRONOUS_COMMIT", "on")

# --- django-q2 ------------------------------------------------------------------------------
# timeout < retry on every queue (django-q2 re-delivers a task only after `retry` seconds, so a
# task still running at `retry` would run twice); attempts are bounded; schedules missed during
# downtime do not fire as a backlog. Solver and scoring tasks go to the "long" queue, served by
# workers started with Q_CLUSTER_NAME=long.
REDIS_URL = os.environ.get("REDIS_URL", "")
Q_CLUSTER: dict[str, Any] = {
    "name": "loyalty",
    "workers": int(os.environ.get("Q_WORKERS", "2")),
    "timeout": 600,
    "retry": 720,
    "max_attempts": 3,
    "catch_up": False,
    "save_limit": 1000,
    "queue_limit": 50,
    "label": "Background tasks",
    "ALT_CLUSTERS": {
        "long": {"timeout": 3600, "retry": 3900, "max_attempts": 2},
    },
}
if REDIS_URL:
    Q_CLUSTER["redis"] = REDIS_URL
else:
    Q_CLUSTER["orm"] = "default"
#: The resolved API tokens live in the cache. Per process by default: each web process then
#: learns of a revoked token only when its cached copy expires (10 s). A shared Redis cache makes
#: it exact, at the price of cache round trips per API request.
CACHE_URL = os.environ.get("CACHE_URL", "")
if CACHE_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": CACHE_URL,
            "KEY_PREFIX": "loyalty",
        }
    }
#: Where the rate-limit counters (API tokens, portal pages) live: "database" (one table shared
#: by every web process, the default) or "cache" (the default with CACHE_URL: Redis). Never per
#: process unless RATE_LIMIT_STORE=cache without CACHE_URL (development only).
RATE_LIMIT_STORE = os.environ.get("RATE_LIMIT_STORE", "cache" if CACHE_URL else "database")
if RATE_LIMIT_STORE not in ("database", "cache"):
    raise ImproperlyConfigured(
        f"RATE_LIMIT_STORE must be 'database' or 'cache', not {RATE_LIMIT_STORE!r}"
    )
#: Queue name for long-running tasks (scoring, solving, bulk imports).
LONG_TASK_CLUSTER = "long"
#: Allocation pricing fan-out (docs/allocation.md, "Fan-out"): chunk count (0 or 1: in the
#: solving process), the shared folder of the chunks' arrays, and how long the master waits for
#: one pass's chunks before failing the run (keep it within the default queue's ``timeout``).
ALLOCATION_PRICING_CHUNKS = int(os.environ.get("ALLOCATION_PRICING_CHUNKS", "0"))
ALLOCATION_FANOUT_DIR = Path(os.environ.get("ALLOCATION_FANOUT_DIR", ARTIFACTS_DIR / "fanout"))
ALLOCATION_PRICING_WAIT_SECONDS = float(os.environ.get("ALLOCATION_PRICING_WAIT_SECONDS", "600"))
#: Comma-separated django-q2 queue names for the chunks (chunk i -> queue i mod count), each
#: served by workers started with that Q_CLUSTER_NAME; empty: the default queue.
ALLOCATION_PRICING_QUEUES = [
    q.strip() for q in os.environ.get("ALLOCATION_PRICING_QUEUES", "").split(",") if q.strip()
]
#: A running run whose worker has not beaten for this many seconds is abandoned: it no longer
#: blocks new runs and can be restarted from its page (workers beat every fifth of it).
RUN_ABANDONED_AFTER_SECONDS = int(os.environ.get("RUN_ABANDONED_AFTER_SECONDS", "300"))
#: After SIGTERM, `qcluster` interrupts its running tasks and kills the workers still alive after
#: this many seconds: keep the supervisor's stop timeout above it.
Q_STOP_GRACE_SECONDS = int(os.environ.get("Q_STOP_GRACE_SECONDS", "20"))

# --- django-import-export -------------------------------------------------------------------
IMPORT_EXPORT_USE_TRANSACTIONS = True
IMPORT_EXPORT_SKIP_ADMIN_LOG = False
#: Files with more data rows than this are imported by a background task, not in the request.
IMPORT_SYNC_MAX_ROWS = int(os.environ.get("IMPORT_SYNC_MAX_ROWS", "2000"))
#: Admin exports of more rows than this are written by a background task (``ExportJob``) and
#: downloaded from the job's page when ready; smaller ones are answered in the request.
# A transactions import that writes at least this many lines loads them as a partition of their
# own (customers.line_partitions); smaller ones insert row by row into the live partition.
IMPORT_PARTITION_MIN_LINES = int(os.environ.get("IMPORT_PARTITION_MIN_LINES", "100000"))
EXPORT_SYNC_MAX_ROWS = int(os.environ.get("EXPORT_SYNC_MAX_ROWS", "2000"))
#: A finished export file can be downloaded for this many days; the daily schedule deletes it.
EXPORT_KEEP_DAYS = int(os.environ.get("EXPORT_KEEP_DAYS", "2"))

# --- REST framework -------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    # JSON only, and no deeper than any real request (loyalty_site/api_parsers.py).
    "DEFAULT_PARSER_CLASSES": ["loyalty_site.api_parsers.BoundedJSONParser"],
    # One error body for every API error (loyalty_site/api_errors.py).
    "EXCEPTION_HANDLER": "loyalty_site.api_errors.api_exception_handler",
    # Per API token and scope (campaigns.api.throttles.TokenScopedThrottle).
    "DEFAULT_THROTTLE_RATES": {
        "pos_read": os.environ.get("API_RATE_READ", "6000/min"),
        "pos_write": os.environ.get("API_RATE_WRITE", "3000/min"),
    },
}
#: POS API requests with a larger body are refused with 413 (baskets are small).
API_MAX_BODY_BYTES = int(os.environ.get("API_MAX_BODY_BYTES", str(256 * 1024)))
#: Customer portal: secret links expire after this many days; page views per IP per minute.
# Webhooks (docs/webhooks.md): request timeout, retry backoff and when retries stop, and how long
# a rotated secret keeps signing. Plain http:// to 127.0.0.1/localhost only when allowed (tests).
WEBHOOK_TIMEOUT_SECONDS = float(os.environ.get("WEBHOOK_TIMEOUT_SECONDS", "10"))
WEBHOOK_RETRY_BASE_SECONDS = int(os.environ.get("WEBHOOK_RETRY_BASE_SECONDS", "60"))
WEBHOOK_RETRY_MAX_SECONDS = int(os.environ.get("WEBHOOK_RETRY_MAX_SECONDS", str(4 * 3600)))
WEBHOOK_GIVE_UP_SECONDS = int(os.environ.get("WEBHOOK_GIVE_UP_SECONDS", str(24 * 3600)))
WEBHOOK_SECRET_GRACE_SECONDS = int(os.environ.get("WEBHOOK_SECRET_GRACE_SECONDS", str(24 * 3600)))
WEBHOOK_KEEP_DAYS = int(os.environ.get("WEBHOOK_KEEP_DAYS", "30"))
WEBHOOK_ALLOW_LOCAL_HTTP = os.environ.get("WEBHOOK_ALLOW_LOCAL_HTTP", "") == "1"
PORTAL_LINK_DAYS = int(os.environ.get("PORTAL_LINK_DAYS", "90"))
PORTAL_RATE_PER_MINUTE = int(os.environ.get("PORTAL_RATE_PER_MINUTE", "30"))
#: An allocation for a week more than this many weeks after its scores' as-of date is warned
#: about on the form and the proposal; the allocation form offers this many weeks ahead.
SCORES_MAX_AGE_WEEKS = int(os.environ.get("SCORES_MAX_AGE_WEEKS", "4"))
ALLOCATION_WEEKS_OFFERED = int(os.environ.get("ALLOCATION_WEEKS_OFFERED", "8"))
SPECTACULAR_SETTINGS = {
    "TITLE": "Loyalty platform API",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI assets are served by the app itself (no CDN): the platform works offline.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Two models have a "state" field: name their enums explicitly.
    "ENUM_NAME_OVERRIDES": {
        "CampaignStateEnum": "campaigns.models.CampaignState",
        "BonusStateEnum": "campaigns.models.BonusState",
    },
}

#: ``LOG_LEVEL`` filters at the handler too: Django's own loggers (``django.request`` logs every
#: 4xx as a warning) propagate to it past the root logger's level.
LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler", "level": LOG_LEVEL}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    # The embedded server's start and stop (every pg_ctl call at INFO) only when they fail.
    "loggers": {"pgserver": {"level": "WARNING"}},
}
