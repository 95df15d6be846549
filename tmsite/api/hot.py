"""The cached path: a hot answer served before DRF's machinery runs.

Most calls of the public data API ask again for an answer that is already cached (the token
list, a token). For those the whole DRF request cycle (request wrapper, content negotiation,
the key's database lookup, the throttle's reads and writes, the view) costs several times the
answer itself. ``cached_answer`` does the same checks from one cache round trip: it reads the
remembered API key (``tmsite.api.auth.key_remember``), the data version, the cached answer and
the key's throttle counters together, verifies the presented key against the stored hash,
counts the request (one increment) and answers 200 or 304 with the same headers.

Anything else falls through to DRF by returning ``None``: no key (sessions, anonymous), a key
not yet remembered, an answer not cached or stale, a request over its rate (DRF answers the
429), a key whose last use is due to be recorded, a method other than GET, an ``Accept`` the
API cannot serve.
"""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse

from tmsite.api import throttling
from tmsite.api.auth import KEY_ENTRY, LAST_USED_RESOLUTION, key_from_request, key_matches
from tmsite.api.caching import VERSION_KEY, answer_from, response_key
from tmsite.api.models import ApiKey
from tmsite.api.renderers import acceptable

PLANS = tuple(ApiKey.Plan.values)  # (the enum builds this list on every access)


def cached_answer(request: HttpRequest, *, allow: str) -> HttpResponse | None:
    """The cached answer to this request, checked and counted; ``None`` to take the full path."""
    if request.method != "GET" or not settings.API_CACHE_TTL:
        return None
    if not acceptable(request.META.get("HTTP_ACCEPT")):
        return None  # DRF answers 406
    key = key_from_request(request)
    prefix = key.partition(".")[0] if key else ""
    if not key or not prefix:
        return None
    now = time.time()
    buckets = {plan: throttling.bucket_for_key(prefix=prefix, plan=plan) for plan in PLANS}
    entry_key, answer_key = KEY_ENTRY.format(prefix=prefix), response_key(request)
    counter_keys = sorted({name for bucket in buckets.values() for name in bucket.keys(now)})
    keys = [entry_key, VERSION_KEY, answer_key, *counter_keys]
    durations = {bucket.limit_and_duration[1] for bucket in buckets.values()}
    counter = next(iter(buckets.values())).keys(now)[1]
    if len(durations) == 1:  # every plan counts in the same window: count while reading
        found, counted = throttling.read_and_count(keys, counter, 2 * durations.pop())
    else:
        found, counted = cache.get_many(keys), False
    entry, answer = found.get(entry_key), found.get(answer_key)
    response = _checked(request, key, now, entry, answer, found, buckets, counted=counted, allow=allow)
    if response is None and counted:
        throttling.uncount(counter)
    return response


def _checked(
    request: HttpRequest,
    key: str,
    now: float,
    entry: ApiKey | None,
    answer: Any,
    found: dict[str, Any],
    buckets: dict[str, throttling.Bucket],
    *,
    counted: bool,
    allow: str,
) -> HttpResponse | None:
    version = found.get(VERSION_KEY)
    if entry is None or answer is None or version is None or answer[0] != version:
        return None
    if not key_matches(entry, key):
        return None  # e.g. a wrong secret: DRF answers 401 and counts it against the client IP
    expiry, last_used = entry.expiry_date, entry.last_used_at
    if (expiry is not None and expiry.timestamp() <= now) or last_used is None:
        return None
    if now - last_used.timestamp() > LAST_USED_RESOLUTION:
        return None  # DRF records the use
    bucket = buckets.get(entry.plan)
    if bucket is None:
        return None
    decision = throttling.decide(bucket, now, found)  # from the counts before this request
    if not decision.allowed:
        return None
    if not counted:
        throttling.count(bucket, now, found)
    return answer_from(request, answer, {**decision.headers, "Allow": allow})
