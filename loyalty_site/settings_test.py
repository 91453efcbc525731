"""Test settings: the real settings, tasks run in-process, fast hashing, plain static storage."""

from .settings import *  # noqa: F403
from .settings import Q_CLUSTER, STORAGES

Q_CLUSTER = Q_CLUSTER | {"sync": True}
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES = {
    **STORAGES,
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
SECURE_SSL_REDIRECT = False
STATIC_ROOT = None  # tests never collect static files; WhiteNoise would warn about the folder
