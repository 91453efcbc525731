"""Per-retailer API tokens: ``Authorization: Token <prefix>.<secret>``.

``request.auth`` is the :class:`~campaigns.models.ApiToken`; ``request.user`` is a
:class:`TokenUser` standing for the till, which belongs to the token's retailer only.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AnonymousUser
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions
from rest_framework.permissions import BasePermission

from campaigns.models import ApiToken
from campaigns.services.tokens import api_token_authenticate


class TokenUser(AnonymousUser):
    """The acting till: authenticated, no staff rights, one retailer."""

    def __init__(self, token: ApiToken) -> None:
        self.token = token
        self.retailer = token.retailer

    @property
    def is_authenticated(self) -> bool:  # type: ignore[override]
        return True

    def __str__(self) -> str:
        return f"API token {self.token.prefix}"


class ApiTokenAuthentication(authentication.BaseAuthentication):
    """Resolve the token's retailer; unknown, malformed or revoked keys are answered 401."""

    keyword = "Token"

    def authenticate(self, request: Any) -> tuple[TokenUser, ApiToken] | None:
        # From META as DRF's get_authorization_header reads it, without building
        # request.headers (a dict of every header, a few percent of a till's request).
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if isinstance(header, bytes):
            header = header.decode("latin-1")
        header = header.split()
        if not header or header[0] != self.keyword:
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Send 'Authorization: Token <prefix>.<secret>'.")
        token = api_token_authenticate(header[1])
        if token is None:
            raise exceptions.AuthenticationFailed("Invalid or revoked API token.")
        return TokenUser(token), token

    def authenticate_header(self, request: Any) -> str:
        return self.keyword


class HasApiToken(BasePermission):
    """Only requests authenticated by an active API token."""

    def has_permission(self, request: Any, view: Any) -> bool:
        return isinstance(request.auth, ApiToken)


class ApiTokenScheme(OpenApiAuthenticationExtension):
    """Describe the token header in the OpenAPI schema."""

    target_class = "campaigns.api.authentication.ApiTokenAuthentication"
    name = "ApiToken"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Token <prefix>.<secret>` (created in the admin, shown once).",
        }
