"""Cached hot responses, ETag / Last-Modified and 304s.

A cached answer lives under its URL and carries the *data version* it was built under, a
token in the cache that ``data_version_bump()`` replaces whenever new grades land
(``ratings.services.ratings_compute`` calls it), so every cached list and detail is stale at
once; entries also expire after ``API_CACHE_TTL`` seconds for data the indexer moves in
between (candles, whale transfers). The ETag is a hash of the body, so a 304 is only ever sent
for the exact bytes the client holds. The version is kept inside the entry rather than in its
key so that ``tmsite.api.hot`` can read the answer, the version, the API key and the throttle
counters in one cache round trip.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse, HttpResponseNotModified
from django.utils.http import http_date, parse_http_date_safe

from tmsite.api.renderers import render_json

VERSION_KEY = "api:data-version"

# (data version, body, ETag, built at in Unix seconds, Allow, route label); the last two let
# the WSGI edge (tmsite.api.edge) answer it with the view's headers and metrics label.
CachedAnswer = tuple[str, bytes, str, int, str, str]


def data_version() -> str:
    version = cache.get(VERSION_KEY)
    if version is None:
        cache.add(VERSION_KEY, uuid.uuid4().hex, None)
        version = cache.get(VERSION_KEY) or "0"
    return version


def data_version_bump() -> str:
    """New grades landed: every cached API answer is stale. Returns the new version."""
    version = uuid.uuid4().hex
    cache.set(VERSION_KEY, version, None)
    return version


def response_key(request: HttpRequest) -> str:
    """Cache key of the answer to this URL (scheme, host, path and query string)."""
    return "api:resp:" + hashlib.sha256(request.build_absolute_uri().encode()).hexdigest()


def etag_matches(header: str, etag: str) -> bool:
    candidates = {tag.strip().removeprefix("W/") for tag in header.split(",")}
    return "*" in candidates or etag in candidates


def not_modified(meta: Mapping[str, Any], etag: str, built_at: int) -> bool:
    """The client's copy (``If-None-Match``, else ``If-Modified-Since``, from ``request.META``
    or the WSGI environ) is this answer: a 304 is due."""
    if_none_match = meta.get("HTTP_IF_NONE_MATCH")
    if if_none_match:
        return etag_matches(if_none_match, etag)
    since = meta.get("HTTP_IF_MODIFIED_SINCE")
    since_at = parse_http_date_safe(since) if since else None
    return since_at is not None and built_at <= since_at


def etag_for(body: bytes) -> str:
    """The ETag of an answer's bytes (a hash: a 304 only ever stands for these bytes)."""
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def answer_from(request: HttpRequest, entry: CachedAnswer, extra_headers: dict[str, str] | None = None) -> HttpResponse:
    """The answer ``entry`` holds, or a 304 when the client's copy (ETag or date) matches it."""
    body, etag, built_at = entry[1:4]
    headers = {
        "ETag": etag,
        "Last-Modified": http_date(built_at),
        "Cache-Control": f"private, max-age={settings.API_CACHE_TTL}",
        **(extra_headers or {}),
    }
    if not_modified(request.META, etag, built_at):
        return HttpResponseNotModified(headers=headers)
    return HttpResponse(body, content_type="application/json", headers=headers)


def answer_entry(version: str, body: bytes, *, allow: str, route: str) -> CachedAnswer:
    """An answer built now, in the form the cache keeps it (with its ETag and time)."""
    return (version, body, etag_for(body), int(time.time()), allow, route)


def answer_store(key: str, entry: CachedAnswer) -> None:
    cache.set(key, entry, settings.API_CACHE_TTL)


def cached_json(request: HttpRequest, build: Callable[[], Any], *, allow: str = "", route: str = "") -> HttpResponse:
    """``build()``'s JSON, from the cache when fresh; 304 when the client's copy matches.
    ``allow`` and ``route`` (the view's ``Allow`` header and metrics label) are kept with it."""
    if not settings.API_CACHE_TTL:  # caching off: build every answer, still with an ETag
        return answer_from(request, answer_entry("", render_json(build()), allow=allow, route=route))
    key = response_key(request)
    found = cache.get_many([key, VERSION_KEY])
    version = found.get(VERSION_KEY) or data_version()
    entry = found.get(key)
    if entry is None or entry[0] != version:
        entry = answer_entry(version, render_json(build()), allow=allow, route=route)
        answer_store(key, entry)
    return answer_from(request, entry)
