"""The API edge: cached public-API answers served in front of Django, at the WSGI layer.

Most calls of the public data API ask again for an answer that is already cached. Inside
Django such a call still pays the whole request cycle (twelve middleware, URL resolution,
the view's dispatch) and redis-py's client (~100-140 us of CPU per round trip, measured,
against ~20 us for the same pipeline written on a socket and parsed by hiredis), several
times the cost of the answer. ``ApiEdge`` wraps the WSGI application and answers those calls
itself, with the same checks as the full path:

- the API key (``Authorization: Api-Key <key>`` or ``X-API-Key``) must be one the full path
  remembered (``tmsite.api.auth.key_remember``) and match its stored hash; the remembered
  entry is read raw on every call, so a revoked key or a changed owner (their saves forget the
  entry) stops on the next call, as on the full path;
- the key's plan is counted (the same two-window counters as ``tmsite.api.throttling``) and
  the answer carries the same rate headers; a call over the rate goes to the full path, which
  answers the 429;
- the answer must be one the full path cached (``tmsite.api.caching.cached_json``) under the
  current data version and not older than ``API_CACHE_TTL``; 304 on a matching ``ETag`` or
  date, as ``caching.answer_from`` decides it.

All of that is one Redis round trip (key entry, data version, the two counters, the
increment). The answer's bytes are kept in the process (``API_EDGE_ENTRIES`` of them, oldest
dropped first) and only fetched from Redis the first time a process serves a URL or after
the data version moved. Headers the middleware adds to every API answer (security, CSP,
``Vary``...) are learned from the first answer of the full path the process passes on, so an
edge answer carries the same headers as the full path's (``tests/api/test_edge.py`` compares
them). Each call is logged and observed as the outermost middleware would.

An answer that is not cached (or with ``API_CACHE_TTL=0``) goes to Django with the key and
the rate decision already made, except on the routes the edge builds itself (``edge_routes``:
the token list and detail): there the edge sets the view up on the call and calls its own
``build()``, so the bytes are the view's, and caches the answer as the view would. Through
the request cycle, the middleware and DRF's dispatch, an uncached token detail cost ~1.3 ms
of CPU, ~3/4 of it around its one SQL statement, and an uncached list ~3.5 ms, ~45% of it
outside the view's build. The thread keeps its database connection between such calls rather
than checking one out of the pool each time; a full-path call on the same thread returns it to
the pool as usual, and a database error closes it and sends the call to the full path.

Anything else goes to Django unchanged: another method, a path outside ``/api/v1/``, no key,
cookies (session calls), an ``Origin`` (CORS), an ``Accept`` the API cannot serve, a key
not yet remembered or due to have its last use recorded, an answer not cached, Redis
unreachable.
"""

from __future__ import annotations

import copy
import socket
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

import hiredis
from django.conf import settings
from django.core.cache import caches
from django.core.exceptions import SuspiciousOperation
from django.core.handlers.wsgi import WSGIHandler, WSGIRequest
from django.db import DatabaseError, connection
from django.http import Http404, HttpRequest
from django.urls import resolve
from django.urls.resolvers import RoutePattern
from django.utils.http import http_date
from rest_framework.exceptions import APIException

from monitoring import metrics
from tmsite.api import throttling
from tmsite.api.auth import _HASHER, EDGE_KEY, KEY_ENTRY, LAST_USED_RESOLUTION, key_from_meta
from tmsite.api.caching import VERSION_KEY, CachedAnswer, answer_entry, answer_store, not_modified, response_key
from tmsite.api.models import ApiKey
from tmsite.api.renderers import acceptable, render_json
from tmsite.api.throttling import EDGE_RATE
from tmsite.middleware import request_log

StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]

# Headers an answer sets for itself; every other header of a full-path answer is the middleware's.
_OWN_HEADERS = frozenset(
    {
        "etag",
        "last-modified",
        "cache-control",
        "content-length",
        "allow",
        "date",
        "server",
        "set-cookie",
        "retry-after",
        "x-ratelimit-limit",
        "x-ratelimit-remaining",
        "x-ratelimit-reset",
    }
)


RETRY_AFTER_FAILURE = 1.0  # seconds the edge stands aside after Redis failed


class EdgeUnavailable(Exception):
    """Redis could not be asked: the call takes the full path."""


class RespConnection:
    """One Redis connection per thread: commands pipelined on a socket, replies parsed by
    hiredis. Only what the edge sends (GET, MGET, INCR, EXPIRE, DECR); any error closes the
    socket and raises ``EdgeUnavailable``, and the next call connects again."""

    def __init__(self, url: str, timeout: float) -> None:
        parts = urlsplit(url)
        self.address = (parts.hostname or "127.0.0.1", parts.port or 6379)
        self.password = unquote(parts.password) if parts.password else None
        self.username = unquote(parts.username) if parts.username else None
        self.db = int(parts.path.strip("/") or 0)
        self.timeout = timeout
        self.local = threading.local()
        self.down_until = 0.0

    @staticmethod
    def pack(*args: str | bytes | int) -> bytes:
        out = [b"*%d\r\n" % len(args)]
        for arg in args:
            value = arg if isinstance(arg, bytes) else str(arg).encode()
            out.append(b"$%d\r\n%s\r\n" % (len(value), value))
        return b"".join(out)

    def _connect(self) -> socket.socket:
        sock = socket.create_connection(self.address, timeout=self.timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.local.sock, self.local.reader = sock, hiredis.Reader()
        setup = []
        if self.password:
            setup.append(self.pack("AUTH", *([self.username] if self.username else []), self.password))
        if self.db:
            setup.append(self.pack("SELECT", self.db))
        if setup:
            self._exchange(b"".join(setup), len(setup))
        return sock

    def _exchange(self, payload: bytes, replies: int) -> list[Any]:
        sock, reader = self.local.sock, self.local.reader
        sock.sendall(payload)
        out: list[Any] = []
        while len(out) < replies:
            chunk = sock.recv(262144)
            if not chunk:
                raise ConnectionError("Redis closed the connection")
            reader.feed(chunk)
            while len(out) < replies:
                reply = reader.gets()
                if reply is False:
                    break
                if isinstance(reply, hiredis.ReplyError):
                    raise ConnectionError(str(reply))
                out.append(reply)
        return out

    def pipeline(self, payload: bytes, replies: int) -> list[Any]:
        if self.down_until and time.monotonic() < self.down_until:
            raise EdgeUnavailable("Redis failed a moment ago")
        try:
            if getattr(self.local, "sock", None) is None:
                self._connect()
            return self._exchange(payload, replies)
        except (OSError, ConnectionError, hiredis.ProtocolError) as error:
            self.close()
            # Calls skip the edge for a second rather than each wait out a connect timeout.
            self.down_until = time.monotonic() + RETRY_AFTER_FAILURE
            raise EdgeUnavailable(str(error)) from error

    def close(self) -> None:
        sock = getattr(self.local, "sock", None)
        self.local.sock = None
        if sock is not None:
            sock.close()


@dataclass(frozen=True)
class KnownKey:
    """What the edge needs of a remembered API key, and the raw entry it was read from."""

    api_key: ApiKey
    entry_key: str
    raw: bytes
    hashed_key: str
    plan: str
    expires_at: float | None
    last_used_at: float


@dataclass(frozen=True)
class KnownAnswer:
    version: bytes  # the data version's raw cache value the answer was built under
    body: bytes
    etag: str
    built_at: int
    last_modified: str
    allow: str
    route: str

    @classmethod
    def of(cls, version: bytes, entry: CachedAnswer) -> KnownAnswer:
        _, body, etag, built_at, allow, route = entry[:6]
        return cls(version, body, etag, built_at, http_date(built_at), allow, route)


@dataclass(frozen=True)
class EdgeRoute:
    """A URL pattern of ``tmsite.api.urls`` whose uncached answer the edge builds itself: the
    view is set up on the call as Django would (path kwargs, a DRF request) and its own
    ``build()`` gives the envelope; any error it raises (404, 400...) sends the call to the
    full path, which answers it. The key, the rate and the ``Accept`` header were checked by
    the edge already; these views read nothing else of the call than its URL (were one to
    read ``request.user``, DRF's authentication would find the key as on the full path: the
    edge hands its checked key over only to the full path, as copying it cost a tenth of a
    built detail)."""

    pattern: RoutePattern
    view_class: type[Any]
    initkwargs: dict[str, Any]
    allow: str  # the view's Allow header and metrics label, read from Django once
    label: str
    query: bool  # whether a query string is the view's (filters, cursor) or sent to the full path

    @classmethod
    def of(cls, route: str, sample: str, *, query: bool) -> EdgeRoute:
        match = resolve(f"/api/v1/{sample}")
        view_class, initkwargs = match.func.view_class, match.func.view_initkwargs  # type: ignore[attr-defined]
        view = view_class(**initkwargs)
        view.setup(HttpRequest())  # (adds HEAD, as for a call)
        allow = ", ".join(view.allowed_methods)
        label = match.view_name or match.route
        return cls(RoutePattern(route, is_endpoint=True), view_class, initkwargs, allow, label, query)

    def match(self, path: str, query: str) -> dict[str, Any] | None:
        if query and (not self.query or "format=" in query):  # (DRF's format override: the full path)
            return None
        found = self.pattern.match(path)
        return None if found is None else found[2]

    def build(self, environ: dict[str, Any], kwargs: dict[str, Any]) -> Any:
        view = self.view_class(**self.initkwargs)
        request = WSGIRequest(environ)
        view.setup(request, **kwargs)
        view.format_kwarg = None
        view.request = view.initialize_request(request, **kwargs)
        return view.build()


def edge_routes() -> list[EdgeRoute]:
    """The token list and detail: the calls a client repeats most, with the answers that cost
    the most to build."""
    from tmsite.api import urls

    return [
        EdgeRoute.of("tokens/", "tokens/", query=True),
        EdgeRoute.of(urls.TOKEN, "tokens/1/0x0000000000000000000000000000000000000000/", query=False),
    ]


class ApiHandler(WSGIHandler):
    """Django's WSGI handler with ``settings.API_MIDDLEWARE`` instead of ``MIDDLEWARE``, for the
    API calls the edge checked and passed on. The full stack costs ~0.55 ms of CPU a call,
    this one ~0.25 ms (measured on a fixed-bytes view), a third of an uncached token detail."""

    def load_middleware(self, is_async: bool = False) -> None:
        full = settings.MIDDLEWARE
        settings.MIDDLEWARE = settings.API_MIDDLEWARE  # read once, here, as the process starts
        try:
            super().load_middleware(is_async)
        finally:
            settings.MIDDLEWARE = full


class ApiEdge:
    def __init__(self, app: WSGIApp, *, entries: int | None = None, api_app: WSGIApp | None = None) -> None:
        self.app = app
        self.api_app = api_app if api_app is not None else ApiHandler()
        backend = caches["default"]
        self.make_key: Callable[[str], str] = backend.make_key
        self.loads: Callable[[bytes], Any] = backend._cache._serializer.loads  # type: ignore[attr-defined]
        self.redis = RespConnection(settings.REDIS_URL, settings.REDIS_TIMEOUT)
        self.entries = entries if entries is not None else settings.API_EDGE_ENTRIES
        self.answers: dict[tuple[str, ...], tuple[str, KnownAnswer]] = {}
        self.keys: dict[str, KnownKey] = {}
        self.middleware_headers: list[tuple[str, str]] | None = None
        self.version_key = self.make_key(VERSION_KEY)
        self.prefix = "/api/v1/"
        self.ssl_header = settings.SECURE_PROXY_SSL_HEADER[0] if settings.SECURE_PROXY_SSL_HEADER else None
        self.routes = edge_routes()
        self.windows: dict[tuple[str, str, int], tuple[tuple[str, str], str, bytes]] = {}
        self.durations: dict[tuple[str, str], Any] = {}  # (route, status) -> its latency histogram

    # --- WSGI -----------------------------------------------------------------------------

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        started = time.perf_counter()
        key = self._eligible(environ)
        if key is not None:
            try:
                served = self._serve(environ, key, started)
            except EdgeUnavailable:
                served = None
            if served is not None:
                status, headers, body = served
                start_response(status, headers)
                return [body]
            if EDGE_KEY in environ:
                return self.api_app(environ, self._learning(start_response))
            return self.app(environ, start_response)
        return self.app(environ, start_response)

    def _eligible(self, environ: dict[str, Any]) -> str | None:
        """The API key of a call the edge may answer, else ``None``."""
        if (
            environ.get("REQUEST_METHOD") != "GET"
            or not environ.get("PATH_INFO", "").startswith(self.prefix)
            or "HTTP_COOKIE" in environ
            or "HTTP_ORIGIN" in environ
        ):
            return None
        if not acceptable(environ.get("HTTP_ACCEPT")):
            return None
        return key_from_meta(environ)

    def _learning(self, start_response: StartResponse) -> StartResponse:
        """``start_response`` that keeps the middleware's headers of a cached JSON answer."""

        def wrapped(status: str, headers: list[tuple[str, str]], *args: Any) -> Any:
            if self.middleware_headers is None and status.startswith("200"):
                names = {name.lower() for name, _ in headers}
                if "etag" in names and "x-ratelimit-limit" in names:
                    self.middleware_headers = [
                        (name, value) for name, value in headers if name.lower() not in _OWN_HEADERS
                    ]
            return start_response(status, headers, *args)

        return wrapped

    # --- the answer -----------------------------------------------------------------------

    def _serve(self, environ: dict[str, Any], key: str, started: float) -> tuple[str, list, bytes] | None:
        """The edge's answer, or ``None`` for the full path: with the checked key and the rate
        decision left in ``environ`` when this call was counted here (``EDGE_KEY``, ``EDGE_RATE``)."""
        prefix = key.partition(".")[0]
        known = self.keys.get(prefix)
        if known is None:
            return self._learn_key(prefix)
        caching = bool(settings.API_CACHE_TTL) and self.middleware_headers is not None
        url = (
            environ.get("wsgi.url_scheme", "http"),
            environ.get(self.ssl_header, "") if self.ssl_header else "",
            environ.get("HTTP_HOST") or environ.get("SERVER_NAME", ""),
            environ["PATH_INFO"],
            environ.get("QUERY_STRING", ""),
        )
        local = self.answers.get(url) if caching else None
        now = time.time()
        bucket, limit_keys, current, payload = self._counting(known, prefix, now)
        commands = 3
        answer_key = ""
        if caching and local is None:
            answer_key = response_key(WSGIRequest(environ))
            payload += RespConnection.pack("GET", self.make_key(answer_key))
            commands += 1
        replies = self.redis.pipeline(payload, commands)
        raw_entry, version, raw_previous, raw_current = replies[0]
        decision = None
        if raw_entry != known.raw:
            self.keys.pop(prefix, None)  # changed or forgotten: the full path decides
        elif known.hashed_key == _HASHER.encode(key, "") and self._usable(known, now):
            counts = {limit_keys[0]: raw_previous or 0, limit_keys[1]: raw_current or 0}
            decision = throttling.decide(bucket, now, counts)
        if decision is None or not decision.allowed:  # the full path answers the 401 or 429
            self.redis.pipeline(RespConnection.pack("DECR", current), 1)
            return None
        answer = None
        if caching:
            answer = local[1] if local is not None else self._learn_answer(url, answer_key, replies[3], version)
            if answer is not None and (answer.version != version or now - answer.built_at >= settings.API_CACHE_TTL):
                self.answers.pop(url, None)  # stale: the full path rebuilds it, the next call reads it
                answer = None
        if answer is None and self.middleware_headers is not None:
            answer = self._build(environ, url, answer_key, version, caching=caching)
        if answer is None:  # counted here: the full path takes the key and the decision as they are
            environ[EDGE_KEY], environ[EDGE_RATE] = copy.copy(known.api_key), decision
            return None
        return self._respond(environ, answer, decision.headers, started)

    def _build(
        self, environ: dict[str, Any], url: tuple[str, ...], answer_key: str, version: bytes | None, *, caching: bool
    ) -> KnownAnswer | None:
        """The answer of an ``edge_routes`` URL built here, cached as ``caching.cached_json``
        would; ``None`` for the full path (another URL, a 404 or bad address, a database error)."""
        path, query = environ["PATH_INFO"][len(self.prefix) :], environ.get("QUERY_STRING", "")
        for route in self.routes:
            kwargs = route.match(path, query)
            if kwargs is not None:
                break
        else:
            return None
        try:
            current = self.loads(version) if caching and version is not None else ""
            body = render_json(route.build(environ, kwargs))
        except (Http404, APIException, ValueError, SuspiciousOperation):
            return None  # the full path answers it (404, 400)
        except DatabaseError:
            connection.close()  # a broken connection is not kept: the full path opens another
            return None
        if caching and not current:
            return None  # no data version yet: the full path sets one
        entry = answer_entry(current, body, allow=route.allow, route=route.label)
        answer = KnownAnswer.of(version or b"", entry)
        if caching:
            answer_key = answer_key or response_key(WSGIRequest(environ))  # (not asked for: was in memory)
            answer_store(answer_key, entry)
            self._remember(url, answer_key, answer)
        return answer

    def _counting(
        self, known: KnownKey, prefix: str, now: float
    ) -> tuple[throttling.Bucket, tuple[str, str], str, bytes]:
        """The key's bucket, its two window counters (as ``throttling`` names them and as
        Redis keys the current one), and the pipeline that reads the key entry, the data
        version and both counters and counts this call, packed once per key and window (a
        minute for every plan) rather than on every call."""
        bucket = throttling.bucket_for_key(prefix=prefix, plan=known.plan)
        duration = bucket.limit_and_duration[1]
        window = (prefix, known.plan, int(now // duration))
        found = self.windows.get(window)
        if found is None:
            limit_keys = bucket.keys(now)
            previous, current = self.make_key(limit_keys[0]), self.make_key(limit_keys[1])
            payload = b"".join(
                (
                    RespConnection.pack("MGET", known.entry_key, self.version_key, previous, current),
                    RespConnection.pack("INCR", current),
                    RespConnection.pack("EXPIRE", current, 2 * duration),
                )
            )
            if len(self.windows) >= self.entries:
                self.windows.clear()  # (windows of past minutes and of keys no longer used)
            found = self.windows[window] = (limit_keys, current, payload)
        return bucket, *found

    def _usable(self, known: KnownKey, now: float) -> bool:
        if known.expires_at is not None and known.expires_at <= now:
            return False
        return now - known.last_used_at <= LAST_USED_RESOLUTION  # else the full path records the use

    def _respond(
        self, environ: dict[str, Any], answer: KnownAnswer, rate_headers: dict[str, str], started: float
    ) -> tuple[str, list, bytes]:
        headers = [
            ("ETag", answer.etag),
            ("Last-Modified", answer.last_modified),
            ("Cache-Control", f"private, max-age={settings.API_CACHE_TTL}"),
            *rate_headers.items(),
            ("Allow", answer.allow),
            *(self.middleware_headers or ()),
        ]
        if not_modified(environ, answer.etag, answer.built_at):
            status, body = "304 Not Modified", b""
            headers = [(name, value) for name, value in headers if name.lower() != "content-type"]
        else:
            status, body = "200 OK", answer.body
            headers.append(("Content-Length", str(len(body))))
        self._observe(environ, answer.route, status[:3], started)
        return status, headers, body

    def _observe(self, environ: dict[str, Any], route: str, status: str, started: float) -> None:
        """As the outermost middleware would: the latency metric and the request's log line."""
        histogram = self.durations.get((route, status))
        if histogram is None:
            histogram = self.durations[(route, status)] = metrics.HTTP_REQUEST_DURATION.labels(route, "GET", status)
        histogram.observe(time.perf_counter() - started)
        path, query = environ["PATH_INFO"], environ.get("QUERY_STRING")
        request_log("GET", path, f"{path}?{query}" if query else path, int(status), started)

    # --- learning (the first call of a key or a URL in this process) -----------------------

    def _learn_key(self, prefix: str) -> None:
        """Read the remembered key once; the call itself takes the full path."""
        entry_key = self.make_key(KEY_ENTRY.format(prefix=prefix))
        (raw,) = self.redis.pipeline(RespConnection.pack("GET", entry_key), 1)
        if raw is None:
            return None
        try:
            api_key = self.loads(raw)
        except Exception:  # noqa: BLE001  (an entry of another release: the full path rewrites it)
            return None
        if api_key.revoked or not api_key.owner.is_active or api_key.last_used_at is None:
            return None
        self.keys[prefix] = KnownKey(
            api_key=api_key,
            entry_key=entry_key,
            raw=raw,
            hashed_key=api_key.hashed_key,
            plan=api_key.plan,
            expires_at=api_key.expiry_date.timestamp() if api_key.expiry_date else None,
            last_used_at=api_key.last_used_at.timestamp(),
        )
        return None

    def _learn_answer(self, url: tuple[str, ...], answer_key: str, raw: bytes | None, version: bytes | None) -> Any:
        if raw is None or version is None:
            return None
        try:
            entry, current = self.loads(raw), self.loads(version)
        except Exception:  # noqa: BLE001  (an entry of another release: the full path rewrites it)
            return None
        if not isinstance(entry, tuple) or len(entry) < 6 or entry[0] != current:
            return None
        answer = KnownAnswer.of(version, entry)
        self._remember(url, answer_key, answer)
        return answer

    def _remember(self, url: tuple[str, ...], answer_key: str, answer: KnownAnswer) -> None:
        if len(self.answers) >= self.entries:
            try:
                self.answers.pop(next(iter(self.answers)), None)  # the oldest
            except (StopIteration, RuntimeError):  # another thread changed the dict meanwhile
                pass
        self.answers[url] = (answer_key, answer)


def edge_wrap(app: WSGIApp) -> WSGIApp:
    """``app`` behind the edge when it can run: a Redis cache, and not turned off."""
    if not (settings.API_EDGE and settings.REDIS_URL):
        return app
    return ApiEdge(app)
