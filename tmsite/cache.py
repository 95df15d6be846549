"""The Redis cache (``monitoring.cache.RedisCache``), degraded to misses while Redis is unreachable.

Pages, API answers and throttle counters are all rebuilt from PostgreSQL when the cache
misses, so a Redis restart or a network blip should make the site slower, not answer 500.
Every read then misses and every write is dropped (``add`` reports the key as not added, so
a lock is never believed held); one warning per ``_WARN_EVERY`` seconds says so. ``/readyz``
still reports the cache down: its probe's write does not read back.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from django.core.cache.backends.base import DEFAULT_TIMEOUT
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from monitoring.cache import RedisCache  # Django's, counting hits and misses for /metrics

logger = logging.getLogger(__name__)

_UNREACHABLE = (RedisConnectionError, RedisTimeoutError)
_WARN_EVERY = 10.0  # seconds between warnings while Redis stays down


class ResilientRedisCache(RedisCache):
    _warned_at = 0.0

    def _degraded(self, operation: str, error: Exception, fallback: Any) -> Any:
        now = time.monotonic()
        if now - ResilientRedisCache._warned_at >= _WARN_EVERY:
            ResilientRedisCache._warned_at = now
            logger.warning("cache unreachable, %s served as a miss: %s", operation, error)
        return fallback

    def _guard(self, operation: str, call: Callable[[], Any], fallback: Any) -> Any:
        try:
            return call()
        except _UNREACHABLE as error:
            return self._degraded(operation, error, fallback)

    def add(self, key: Any, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None) -> bool:
        return bool(
            self._guard("add", lambda: super(ResilientRedisCache, self).add(key, value, timeout, version), False)
        )

    def get(self, key: Any, default: Any = None, version: int | None = None) -> Any:
        return self._guard("get", lambda: super(ResilientRedisCache, self).get(key, default, version), default)

    def set(self, key: Any, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None) -> None:
        self._guard("set", lambda: super(ResilientRedisCache, self).set(key, value, timeout, version), None)

    def touch(self, key: Any, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None) -> bool:
        return bool(self._guard("touch", lambda: super(ResilientRedisCache, self).touch(key, timeout, version), False))

    def delete(self, key: Any, version: int | None = None) -> bool:
        return bool(self._guard("delete", lambda: super(ResilientRedisCache, self).delete(key, version), False))

    def get_many(self, keys: Any, version: int | None = None) -> dict[str, Any]:
        return dict(self._guard("get_many", lambda: super(ResilientRedisCache, self).get_many(keys, version), {}))

    def has_key(self, key: Any, version: int | None = None) -> bool:
        return bool(self._guard("has_key", lambda: super(ResilientRedisCache, self).has_key(key, version), False))

    def set_many(self, data: dict[str, Any], timeout: Any = DEFAULT_TIMEOUT, version: int | None = None) -> list[Any]:
        return list(
            self._guard(
                "set_many", lambda: super(ResilientRedisCache, self).set_many(data, timeout, version), list(data)
            )
        )

    def delete_many(self, keys: Any, version: int | None = None) -> None:
        self._guard("delete_many", lambda: super(ResilientRedisCache, self).delete_many(keys, version), None)
