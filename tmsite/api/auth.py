"""API key authentication: ``Authorization: Api-Key <key>`` or ``X-API-Key: <key>``.

A request carrying a key is authenticated as the key's owner with ``request.auth`` set to the
``ApiKey``; a wrong, revoked or expired key is a 401 (never a silent fall back to anonymous).
Keys are checked against their stored hash by the library (``rest_framework_api_key``).

A key that passed is remembered in the cache (``key_remember``: the ``ApiKey`` row, which
holds the key's hash, never the key, with its owner minus the password hash) for
``KEY_ENTRY_TTL``: later calls check the presented key against that hash without the
database, here and on the cached path (``tmsite.api.hot``). Saving or deleting the key or its owner forgets it at once
(``tmsite.api.apps``), so a revoked key or a deactivated owner stops working on the next call.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any, cast

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone
from django.utils.crypto import constant_time_compare
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions
from rest_framework.request import Request
from rest_framework_api_key.crypto import KeyGenerator

from tmsite.api.models import ApiKey

KEYWORD = "Api-Key"
KEY_INVALID = "API key is not valid, revoked or expired"
LAST_USED_RESOLUTION = 60  # seconds; last_used_at is written at most once a minute per key
KEY_ENTRY = "api:key:{prefix}"
KEY_ENTRY_TTL = 300  # seconds a checked key is remembered; saves and deletes forget it at once
_HASHER = KeyGenerator.preferred_hasher  # the library's SHA-512 of the whole key
# The key the API edge (tmsite.api.edge) already checked, in the WSGI environ of a call it
# passed on; no client header can set it (they all arrive with the HTTP_ prefix).
EDGE_KEY = "tmsite.api.key"


def key_remember(api_key: ApiKey) -> None:
    """Cache the key row and its owner, minus the owner's password hash: the cache never holds
    a credential of the user's. The field is left *deferred*, not blanked, so code that reads
    it loads it from the database and a ``save()`` of the cached owner never overwrites it."""
    entry, owner = copy.copy(api_key), copy.copy(api_key.owner)
    owner.__dict__.pop("password", None)
    entry.owner = owner
    cache.set(KEY_ENTRY.format(prefix=api_key.prefix), entry, KEY_ENTRY_TTL)


def key_entries_forget(prefixes: list[str]) -> None:
    cache.delete_many([KEY_ENTRY.format(prefix=prefix) for prefix in prefixes])


def key_matches(api_key: ApiKey | None, key: str) -> bool:
    """``key`` is this remembered key's (its hash matches) and it is still usable."""
    if api_key is None or api_key.revoked or not api_key.owner.is_active:
        return False
    return constant_time_compare(api_key.hashed_key, _HASHER.encode(key, ""))


def key_from_request(request: Request) -> str | None:
    return key_from_meta(request.META)


def key_from_meta(meta: Mapping[str, Any]) -> str | None:
    """The API key a request's headers (``request.META`` or the WSGI environ) carry, if any."""
    keyword, _, key = meta.get("HTTP_AUTHORIZATION", "").partition(" ")
    if keyword.lower() == KEYWORD.lower() and key.strip():
        return key.strip()
    return meta.get(settings.API_KEY_HEADER, "").strip() or None


class ApiKeyAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request: Request) -> tuple[Any, ApiKey] | None:
        checked = request.META.get(EDGE_KEY)
        if checked is not None:
            return checked.owner, checked
        key = key_from_request(request)
        if key is None:
            return None
        api_key = cache.get(KEY_ENTRY.format(prefix=key.partition(".")[0]))
        remember = False
        if not key_matches(api_key, key):
            try:
                api_key = cast(ApiKey, ApiKey.objects.get_from_key(key))
            except ApiKey.DoesNotExist:
                raise exceptions.AuthenticationFailed(KEY_INVALID) from None
            remember = True
        assert api_key is not None
        if api_key.has_expired or not api_key.owner.is_active:
            raise exceptions.AuthenticationFailed(KEY_INVALID)
        now = timezone.now()
        if api_key.last_used_at is None or (now - api_key.last_used_at).total_seconds() > LAST_USED_RESOLUTION:
            ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
            api_key.last_used_at, remember = now, True
        if remember:
            key_remember(api_key)
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
