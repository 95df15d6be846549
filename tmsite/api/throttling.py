"""Per-key rate limits by plan, counted in the default cache (Redis when ``REDIS_URL``).

The bucket is the API key when one authenticated the request, else the signed-in user
(session), else the client IP. Rates come from ``settings.API_PLAN_RATES``. Every answer
carries ``X-RateLimit-Limit``, ``X-RateLimit-Remaining`` and ``X-RateLimit-Reset`` (seconds
until a slot frees up); a 429 also carries ``Retry-After``.
"""

from __future__ import annotations

import math
from typing import Any

from django.conf import settings
from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle

from tmsite.api.models import ApiKey


class PlanRateThrottle(SimpleRateThrottle):
    cache_format = "api-throttle:%(scope)s:%(ident)s"

    def __init__(self) -> None:  # rates are read per request, not at import time
        pass

    def allow_request(self, request: Request, view: Any) -> bool:
        if isinstance(request.auth, ApiKey):
            self.scope, ident = request.auth.plan, f"key:{request.auth.pk}"
        elif request.user and request.user.is_authenticated:
            self.scope, ident = "session", f"user:{request.user.pk}"
        else:
            self.scope, ident = "anon", f"ip:{self.get_ident(request)}"
        self.rate = settings.API_PLAN_RATES[self.scope]
        self.num_requests, self.duration = self.parse_rate(self.rate)
        self.key = self.cache_format % {"scope": self.scope, "ident": ident}
        self.history = self.cache.get(self.key, [])
        self.now = self.timer()
        while self.history and self.history[-1] <= self.now - self.duration:
            self.history.pop()
        allowed = len(self.history) < self.num_requests
        if allowed:
            self.history.insert(0, self.now)
            self.cache.set(self.key, self.history, self.duration)
        oldest = self.history[-1] if self.history else self.now
        request._rate_headers = {  # set on the answer by ApiView
            "X-RateLimit-Limit": str(self.num_requests),
            "X-RateLimit-Remaining": str(max(0, self.num_requests - len(self.history))),
            "X-RateLimit-Reset": str(max(0, math.ceil(oldest + self.duration - self.now))),
        }
        return allowed

    def get_cache_key(self, request: Request, view: Any) -> str | None:  # unused: allow_request builds the key
        return None
