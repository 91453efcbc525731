"""Secrets the platform must read back, sealed at rest (the webhook endpoints' signing secrets).

A webhook secret cannot be kept as a hash, as an API key is: every delivery is signed with it
(HMAC-SHA256). So the database keeps it as a Fernet token (the ``cryptography`` library:
AES-128-CBC with an HMAC-SHA256 tag, a fresh IV each time) under a key derived from
``SECRET_KEY``: a copy of the database alone, e.g. a leaked backup, yields no secret, as it yields
no working portal link (docs/delivery.md). This module only derives the keys and names the error;
the cryptography is the library's.

Key rotation: a new ``DJANGO_SECRET_KEY`` with the old one in ``DJANGO_SECRET_KEY_FALLBACKS``
still opens every token (``MultiFernet`` tries the keys in order, current first);
``manage.py reseal_secrets`` then seals each one under the new key, after which the fallback can
go. A token no key opens raises :class:`SecretUnreadable`, which says so.
"""

from __future__ import annotations

import base64
import functools

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.utils.crypto import salted_hmac

#: Separates this key from every other use of ``SECRET_KEY`` (sessions, signing, portal links).
_KEY_SALT = "loyalty_site.sealing"


class SecretUnreadable(Exception):
    """A sealed secret opens under none of the keys (``SECRET_KEY`` and its fallbacks)."""


@functools.lru_cache(maxsize=8)
def _box(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet(
        [
            Fernet(
                base64.urlsafe_b64encode(
                    salted_hmac(_KEY_SALT, "fernet", key, algorithm="sha256").digest()
                )
            )
            for key in keys
        ]
    )


def _current() -> MultiFernet:
    return _box((settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS))


def seal(plaintext: str) -> str:
    """``plaintext`` as a token only ``SECRET_KEY`` (or, after a rotation, a fallback) opens."""
    return _current().encrypt(plaintext.encode()).decode("ascii")


def _unreadable(exc: InvalidToken) -> SecretUnreadable:
    return SecretUnreadable(
        "a stored secret opens under none of the keys: DJANGO_SECRET_KEY was changed without "
        "the old key in DJANGO_SECRET_KEY_FALLBACKS (see docs/webhooks.md, 'Secrets')"
    )


def unseal(token: str) -> str:
    """The plaintext of a token made by :func:`seal`.

    Raises:
        SecretUnreadable: no key opens it (or it was not made by :func:`seal`).
    """
    try:
        return _current().decrypt(token.encode("ascii")).decode()
    except InvalidToken as exc:
        raise _unreadable(exc) from exc


def reseal(token: str) -> str:
    """The same secret sealed under the current ``SECRET_KEY`` (after a key rotation).

    Raises:
        SecretUnreadable: no key opens it.
    """
    try:
        return _current().rotate(token.encode("ascii")).decode("ascii")
    except InvalidToken as exc:
        raise _unreadable(exc) from exc
