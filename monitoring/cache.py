"""Django's cache backends, counting hits and misses for ``/metrics``.

Only reads are counted (``get``, ``get_many``, and what builds on them such as
``get_or_set``); one counter increment per key read, no extra round trip.
"""

from __future__ import annotations

from typing import Any

from django.core.cache.backends import locmem, redis

from monitoring.metrics import CACHE_REQUESTS

_MISSING = object()
_HIT = CACHE_REQUESTS.labels("hit")
_MISS = CACHE_REQUESTS.labels("miss")


class _CountingGet:
    def get(self, key: Any, default: Any = None, version: int | None = None) -> Any:
        value = super().get(key, _MISSING, version=version)  # type: ignore[misc]
        if value is _MISSING:
            _MISS.inc()
            return default
        _HIT.inc()
        return value


class RedisCache(_CountingGet, redis.RedisCache):
    def get_many(self, keys: Any, version: int | None = None) -> dict[Any, Any]:
        keys = list(keys)
        found: dict[Any, Any] = super().get_many(keys, version=version)
        if found:
            _HIT.inc(len(found))
        if len(keys) > len(found):
            _MISS.inc(len(keys) - len(found))
        return found


class LocMemCache(_CountingGet, locmem.LocMemCache):
    """``get_many`` is a loop over ``get`` here, so it is counted there."""
