"""API key authentication: ``Authorization: Api-Key <key>`` or ``X-API-Key: <key>``.

A request carrying a key is authenticated as the key's owner with ``request.auth`` set to the
``ApiKey``; a wrong, revoked or expired key is a 401 (never a silent fall back to anonymous).
Keys are checked against their stored hash by the library (``rest_framework_api_key``).
"""

from __future__ import annotations

from typing import Any, cast

from django.conf import settings
from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from tmsite.api.models import ApiKey

KEYWORD = "Api-Key"
KEY_INVALID = "API key is not valid, revoked or expired"
LAST_USED_RESOLUTION = 60  # seconds; last_used_at is written at most once a minute per key


def key_from_request(request: Request) -> str | None:
    keyword, _, key = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    if keyword.lower() == KEYWORD.lower() and key.strip():
        return key.strip()
    return request.META.get(settings.API_KEY_HEADER, "").strip() or None


class ApiKeyAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request: Request) -> tuple[Any, ApiKey] | None:
        key = key_from_request(request)
        if key is None:
            return None
        try:
            api_key = cast(ApiKey, ApiKey.objects.get_from_key(key))
        except ApiKey.DoesNotExist:
            raise exceptions.AuthenticationFailed(KEY_INVALID) from None
        if api_key.has_expired or not api_key.owner.is_active:
            raise exceptions.AuthenticationFailed(KEY_INVALID)
        now = timezone.now()
        if api_key.last_used_at is None or (now - api_key.last_used_at).total_seconds() > LAST_USED_RESOLUTION:
            ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
        return api_key.owner, api_key

    def authenticate_header(self, request: Request) -> str:
        return KEYWORD


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = "tmsite.api.auth.ApiKeyAuthentication"
    name = ["ApiKeyAuth", "ApiKeyHeader"]

    def get_security_definition(self, auto_schema: Any) -> list[dict[str, str]]:
        return [
            {"type": "apiKey", "in": "header", "name": "Authorization", "description": "Api-Key <key>"},
            {"type": "apiKey", "in": "header", "name": "X-API-Key"},
        ]
