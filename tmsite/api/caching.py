"""Cached hot responses, ETag / Last-Modified and 304s.

A cached answer lives under a key that includes the *data version*, a token in the cache
that ``data_version_bump()`` replaces whenever new grades land (``ratings.services.
ratings_compute`` calls it), so every cached list and detail is invalidated at once; entries
also expire after ``API_CACHE_TTL`` seconds for data the indexer moves in between (candles,
whale transfers). The ETag is a hash of the body, so a 304 is only ever sent for the exact
bytes the client holds.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.http import HttpResponse, HttpResponseNotModified
from django.utils.http import http_date, parse_http_date_safe
from rest_framework.request import Request

from tmsite.api.renderers import render_json

VERSION_KEY = "api:data-version"


def data_version() -> str:
    version = cache.get(VERSION_KEY)
    if version is None:
        cache.add(VERSION_KEY, uuid.uuid4().hex, None)
        version = cache.get(VERSION_KEY) or "0"
    return version


def data_version_bump() -> None:
    """New grades landed: every cached API answer is stale."""
    cache.set(VERSION_KEY, uuid.uuid4().hex, None)


def _etag_matches(header: str, etag: str) -> bool:
    candidates = {tag.strip().removeprefix("W/") for tag in header.split(",")}
    return "*" in candidates or etag in candidates


def cached_json(request: Request, build: Callable[[], Any]) -> HttpResponse:
    """``build()``'s JSON, from the cache when fresh; 304 when the client's copy matches."""
    ttl = settings.API_CACHE_TTL
    key = "api:resp:" + hashlib.sha256(f"{data_version()}|{request.build_absolute_uri()}".encode()).hexdigest()
    entry = cache.get(key) if ttl else None
    if entry is None:
        body = render_json(build())
        entry = (body, '"' + hashlib.sha256(body).hexdigest()[:32] + '"', int(time.time()))
        if ttl:
            cache.set(key, entry, ttl)
    body, etag, built_at = entry
    headers = {"ETag": etag, "Last-Modified": http_date(built_at), "Cache-Control": f"private, max-age={ttl}"}
    if_none_match = request.headers.get("If-None-Match")
    since = parse_http_date_safe(request.headers.get("If-Modified-Since", ""))
    if (if_none_match and _etag_matches(if_none_match, etag)) or (
        not if_none_match and since is not None and built_at <= since
    ):
        return HttpResponseNotModified(headers=headers)
    return HttpResponse(body, content_type="application/json", headers=headers)
