"""Per-key rate limits by plan, counted in the default cache (Redis when ``REDIS_URL``).

The bucket is the API key when one authenticated the request, else the signed-in user
(session), else the client IP. Rates come from ``settings.API_PLAN_RATES``.

Counting is a sliding window over two fixed windows (the current one and the one before it,
weighted by how much of it still overlaps the sliding window): two counters per bucket, one
cache read and one increment per request, however high the rate. (DRF's own throttle keeps a
timestamp per request in one cache entry, so its cost grows with the rate: a pro key at full
speed rewrote a list of hundreds of floats on every call.)

Every answer carries ``X-RateLimit-Limit``, ``X-RateLimit-Remaining`` and
``X-RateLimit-Reset`` (seconds until the whole allowance is back); a 429 also carries
``Retry-After`` (seconds until the next request is allowed).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.cache import cache, caches
from django.core.cache.backends.redis import RedisCache
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

from tmsite.api.models import ApiKey

KEY_FORMAT = "api-throttle:{ident}:{window}"
# The decision of the API edge (tmsite.api.edge), which already counted the call, in the WSGI
# environ of a call it passed on (as ``tmsite.api.auth.EDGE_KEY``).
EDGE_RATE = "tmsite.api.rate"
UNREACHABLE = (RedisConnectionError, RedisTimeoutError)


@dataclass(frozen=True)
class Bucket:
    """One client's counters: ``ident`` names the client, ``rate`` is ``"60/min"``-style."""

    ident: str
    rate: str

    @property
    def limit_and_duration(self) -> tuple[int, int]:
        return _parse_rate(self.rate)

    def keys(self, now: float) -> tuple[str, str]:
        """Cache keys of the previous and current window at ``now``."""
        _, duration = self.limit_and_duration
        window = int(now // duration)
        return (
            KEY_FORMAT.format(ident=self.ident, window=window - 1),
            KEY_FORMAT.format(ident=self.ident, window=window),
        )


_RATES: dict[str, tuple[int, int]] = {}


def _parse_rate(rate: str) -> tuple[int, int]:
    """``"600/min"`` -> (600, 60): DRF's rate format (s, m, h, d by first letter)."""
    if rate not in _RATES:
        limit, period = rate.split("/")
        _RATES[rate] = (int(limit), {"s": 1, "m": 60, "h": 3600, "d": 86400}[period[0]])
    return _RATES[rate]


@dataclass(frozen=True)
class Decision:
    allowed: bool
    headers: dict[str, str]
    retry_after: float | None  # seconds; set when not allowed


def decide(bucket: Bucket, now: float, counts: dict[str, Any]) -> Decision:
    """Whether one more request fits, from the two windows' counts (read from the cache)."""
    limit, duration = bucket.limit_and_duration
    previous_key, current_key = bucket.keys(now)
    previous, current = int(counts.get(previous_key) or 0), int(counts.get(current_key) or 0)
    window_start = now // duration * duration
    elapsed = (now - window_start) / duration  # fraction of the current window gone, [0, 1)
    used = math.ceil(previous * (1.0 - elapsed)) + current
    allowed = used < limit
    if allowed:
        used += 1
    if used == 0:
        reset = 0.0
    elif current or allowed:  # the current window's requests count until the end of the next one
        reset = window_start + 2 * duration - now
    else:
        reset = window_start + duration - now
    retry_after = None
    if not allowed:
        if current < limit:  # a slot frees up as the previous window slides out
            needed = 1.0 - (limit - current - 1) / previous
            retry_after = (needed - elapsed) * duration
        else:  # only in the next window, once enough of this one has slid out
            retry_after = window_start + duration - now + (1.0 - (limit - 1) / current) * duration
        retry_after = max(retry_after, 0.001)  # sent rounded up: at least 1 s
    return Decision(
        allowed=allowed,
        headers={
            "X-RateLimit-Limit": str(limit),
            "X-RateLimit-Remaining": str(max(0, limit - used)),
            "X-RateLimit-Reset": str(max(0, math.ceil(reset))),
        },
        retry_after=retry_after,
    )


def count(bucket: Bucket, now: float, counts: dict[str, Any]) -> None:
    """Count one allowed request in the current window (atomic in Redis)."""
    _, duration = bucket.limit_and_duration
    _, current_key = bucket.keys(now)
    try:
        if current_key in counts:
            try:
                cache.incr(current_key)
                return
            except ValueError:  # expired between the read and the increment
                pass
        if not cache.add(current_key, 1, 2 * duration):  # another request started the window first
            cache.incr(current_key)
    except (ValueError, *UNREACHABLE):  # Redis down (tmsite.cache serves misses): not counted
        pass


def read_and_count(keys: list[str], counter: str, ttl: int) -> tuple[dict[str, Any], bool]:
    """``cache.get_many(keys)``, and on Redis one increment of ``counter`` in the same round
    trip (the values read are from before it); returns (values, whether it was counted).

    Every round trip is a wait of the one request a worker thread serves: reading and counting
    together halve them on the cached path. The pipeline goes through Django's own Redis
    client and serializer (private attributes of ``django.core.cache.backends.redis``, stable
    since Django 4.0); any other backend reads here and counts with ``count``.
    """
    backend = caches["default"]  # ``cache`` is a proxy to it
    if not isinstance(backend, RedisCache):
        return backend.get_many(keys), False
    client = backend._cache.get_client(None, write=True)  # type: ignore[attr-defined]  # one per pool
    names = [backend.make_and_validate_key(key) for key in keys]
    counter_name = backend.make_and_validate_key(counter)
    pipeline = client.pipeline(transaction=False)
    pipeline.mget(names)
    pipeline.incr(counter_name)
    pipeline.expire(counter_name, ttl)
    try:
        values, _, _ = pipeline.execute()
    except UNREACHABLE:  # as tmsite.cache does: a miss, and the request is not counted
        return {}, False
    loads = backend._cache._serializer.loads  # type: ignore[attr-defined]
    return {key: loads(value) for key, value in zip(keys, values, strict=True) if value is not None}, True


def uncount(counter: str) -> None:
    """Take back a ``read_and_count`` increment (the request went on to the full path)."""
    try:
        cache.decr(counter)
    except (ValueError, *UNREACHABLE):  # the window's counter expired meanwhile, or Redis is down
        pass


def bucket_for_key(*, prefix: str, plan: str) -> Bucket:
    """The bucket of an API key (its prefix is unique and never reused)."""
    return Bucket(ident=f"key:{prefix}", rate=settings.API_PLAN_RATES[plan])


def check(bucket: Bucket, now: float | None = None) -> Decision:
    """Decide and count in one call (the DRF path; the hot path batches the read itself)."""
    now = time.time() if now is None else now
    keys = bucket.keys(now)
    counts, counted = read_and_count(list(keys), keys[1], 2 * bucket.limit_and_duration[1])
    decision = decide(bucket, now, counts)
    if decision.allowed and not counted:
        count(bucket, now, counts)
    elif not decision.allowed and counted:
        uncount(keys[1])
    return decision


class PlanRateThrottle(BaseThrottle):
    def allow_request(self, request: Request, view: Any) -> bool:
        counted = request.META.get(EDGE_RATE)
        if counted is not None and isinstance(request.auth, ApiKey):
            self.decision = counted
            request._rate_headers = counted.headers
            return counted.allowed
        if isinstance(request.auth, ApiKey):
            bucket = bucket_for_key(prefix=request.auth.prefix, plan=request.auth.plan)
        elif request.user and request.user.is_authenticated:
            bucket = Bucket(ident=f"user:{request.user.pk}", rate=settings.API_PLAN_RATES["session"])
        else:
            bucket = Bucket(ident=f"ip:{self.get_ident(request)}", rate=settings.API_PLAN_RATES["anon"])
        self.decision = check(bucket)
        request._rate_headers = self.decision.headers  # set on the answer by ApiView
        return self.decision.allowed

    def wait(self) -> float | None:
        return self.decision.retry_after
