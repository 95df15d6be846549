"""The API edge (tmsite.api.edge): cached answers served in front of Django, over real Redis.

Calls go through WSGI, as under the production server: the edge in front of Django's own
WSGI handler. What a client sees must not depend on which of the two answered."""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import orjson
import pytest
from django.core.cache import cache
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.test import RequestFactory, override_settings

from ratings.models import TokenRating
from tests.api.conftest import Market, key_make
from tmsite.api import services
from tmsite.api.caching import data_version, data_version_bump, response_key
from tmsite.api.edge import ApiEdge, ApiHandler
from wallets.models import User

TOKENS = "/api/v1/tokens/"
QUERY = "ordering=-trader_grade"


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return orjson.loads(self.body)


class CountingDjango:
    """Django's WSGI handlers (the full stack and the API's), counting the calls that reach
    either (what the edge passed on)."""

    def __init__(self) -> None:
        self.full, self.api = WSGIHandler(), ApiHandler()
        self.calls = 0

    def counted(self, handler: Any) -> Any:
        def app(environ: dict[str, Any], start_response: Any) -> Any:
            self.calls += 1
            return handler(environ, start_response)

        return app


@contextmanager
def _test_database_kept() -> Iterator[None]:
    """As Django's test client does: the request signals must not close the test's connection."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


def call(app: Any, path: str, query: str = "", **headers: str) -> Answer:
    environ = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "SERVER_NAME": "testserver",
        "SERVER_PORT": "80",
        "HTTP_HOST": "testserver",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(b""),
        "wsgi.errors": io.StringIO(),
        "wsgi.version": (1, 0),
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
        **{"HTTP_" + name.upper(): value for name, value in headers.items()},
    }
    started: dict[str, Any] = {}

    def start_response(status: str, response_headers: list[tuple[str, str]], *_: Any) -> None:
        started["status"], started["headers"] = int(status[:3]), dict(response_headers)

    with _test_database_kept():
        chunks = app(environ, start_response)
        body = b"".join(chunks)
        if hasattr(chunks, "close"):
            chunks.close()
    return Answer(started["status"], started["headers"], body)


@pytest.fixture
def edge(redis_url: str, market: Market) -> Iterator[tuple[ApiEdge, CountingDjango]]:
    cache.clear()
    django = CountingDjango()
    app = ApiEdge(django.counted(django.full), api_app=django.counted(django.api))
    yield app, django
    app.redis.close()
    cache.clear()


@pytest.fixture
def secret(alice: User) -> str:
    return key_make(alice, name="edge")[1]


# Remaining counts down per call; Reset counts down the window's seconds and may tick between calls
PER_CALL = {"X-RateLimit-Remaining", "X-RateLimit-Reset", "Date", "Server"}


def test_edge_answers_like_the_full_path_without_reaching_django(
    edge: tuple[ApiEdge, CountingDjango], secret: str, market: Market
) -> None:
    app, django = edge
    auth = {"authorization": f"Api-Key {secret}"}
    etags = []
    for path, query in ((TOKENS, QUERY), (market.url("ALPHA"), "")):
        full = [call(app, path, query, **auth) for _ in range(3)]  # learn headers and key, build, read
        calls = django.calls
        served = [call(app, path, query, **auth) for _ in range(2)]
        assert django.calls == calls  # both answered by the edge
        same = {k: v for k, v in full[0].headers.items() if k not in PER_CALL}  # the full stack's
        for answer in full[1:] + served:
            assert answer.status == 200 and answer.body == full[0].body
            assert {k: v for k, v in answer.headers.items() if k not in PER_CALL} == same
            reset = int(full[0].headers["X-RateLimit-Reset"]) - int(answer.headers["X-RateLimit-Reset"])
            assert 0 <= reset <= 1  # the same window, read a moment later
        etags.append(full[0].headers["ETag"])
        remaining = [int(a.headers["X-RateLimit-Remaining"]) for a in full + served]
        assert remaining == list(range(remaining[0], remaining[0] - 5, -1))  # every call counted once
    # the key in the other header, and a 304 for the copy the client holds
    again = call(app, TOKENS, QUERY, x_api_key=secret, if_none_match=etags[0])
    assert again.status == 304 and again.body == b"" and again.headers["ETag"] == etags[0]


def test_new_grades_are_served_at_once(edge: tuple[ApiEdge, CountingDjango], secret: str, market: Market) -> None:
    app, _ = edge
    auth = {"x_api_key": secret}
    before = [call(app, TOKENS, QUERY, **auth) for _ in range(4)][-1]
    assert before.json()["data"][0]["symbol"] == "ALPHA"
    TokenRating.objects.filter(token=market.tokens["DELTA"]).update(trader_grade=99.0)
    data_version_bump()  # what grading does when it lands
    after = call(app, TOKENS, QUERY, **auth)
    assert after.json()["data"][0]["symbol"] == "DELTA"
    assert call(app, TOKENS, QUERY, **auth).body == after.body


def test_revoked_key_stops_on_the_next_call(edge: tuple[ApiEdge, CountingDjango], alice: User, market: Market) -> None:
    app, django = edge
    key, secret = key_make(alice, name="soon revoked")
    assert [call(app, TOKENS, QUERY, x_api_key=secret).status for _ in range(4)] == [200] * 4
    calls = django.calls
    services.api_key_revoke(key=key)
    refused = call(app, TOKENS, QUERY, x_api_key=secret)
    assert refused.status == 401 and django.calls == calls + 1
    # a wrong secret on a known prefix is refused too
    _, secret = key_make(alice, name="real")
    assert [call(app, TOKENS, QUERY, x_api_key=secret).status for _ in range(4)] == [200] * 4
    assert call(app, TOKENS, QUERY, x_api_key=secret[:-4] + "abcd").status == 401


@override_settings(API_PLAN_RATES={"free": "5/min", "pro": "6/min", "session": "3/min", "anon": "1/min"})
def test_edge_calls_count_against_the_plan(edge: tuple[ApiEdge, CountingDjango], secret: str) -> None:
    app, _ = edge
    answers = [call(app, TOKENS, QUERY, x_api_key=secret) for _ in range(6)]
    assert [a.status for a in answers] == [200] * 5 + [429]
    assert [a.headers["X-RateLimit-Remaining"] for a in answers] == ["4", "3", "2", "1", "0", "0"]
    assert 1 <= int(answers[-1].headers["Retry-After"]) <= 120


def test_sessions_cors_and_redis_down_take_the_full_path(
    edge: tuple[ApiEdge, CountingDjango], secret: str, alice: User
) -> None:
    app, django = edge
    for _ in range(4):
        call(app, TOKENS, QUERY, x_api_key=secret)
    calls = django.calls
    call(app, TOKENS, QUERY, x_api_key=secret, cookie="sessionid=x")
    call(app, TOKENS, QUERY, x_api_key=secret, origin="https://example.com")
    assert django.calls == calls + 2
    address = app.redis.address
    app.redis.address = ("127.0.0.1", 1)  # nothing listens there
    app.redis.close()
    assert call(app, TOKENS, QUERY, x_api_key=secret).status == 200 and django.calls == calls + 3
    app.redis.address = address  # Redis is back, but the edge stands aside for a second
    assert call(app, TOKENS, QUERY, x_api_key=secret).status == 200 and django.calls == calls + 4
    app.redis.down_until = 0.0  # the second is over
    assert call(app, TOKENS, QUERY, x_api_key=secret).status == 200 and django.calls == calls + 4


@override_settings(API_CACHE_TTL=0)
def test_uncached_calls_are_checked_and_counted_once(edge: tuple[ApiEdge, CountingDjango], secret: str) -> None:
    """Caching off: the edge checks and counts; once the key and the API's headers are known
    (three calls through Django), the list is built by the edge, page after page, with the
    view's own bytes."""
    app, django = edge
    answers = [call(app, TOKENS, QUERY, x_api_key=secret) for _ in range(5)]
    assert [a.status for a in answers] == [200] * 5 and django.calls == 3
    assert all(a.body == answers[0].body for a in answers)
    small = [call(app, TOKENS, f"{QUERY}&page_size=2", x_api_key=secret).json() for _ in range(2)]
    assert small[0] == small[1] and len(small[0]["data"]) == 2 and small[0]["meta"]["next"]
    second = call(app, TOKENS, small[0]["meta"]["next"].partition("?")[2], x_api_key=secret).json()
    assert [t["symbol"] for t in small[0]["data"] + second["data"]] == [
        t["symbol"] for t in answers[0].json()["data"][:4]
    ]
    assert call(app, TOKENS, "trader_grade_min=abc", x_api_key=secret).status == 400  # the full path's
    assert django.calls == 4
    answers += [call(app, TOKENS, QUERY, x_api_key=secret)]
    remaining = [int(a.headers["X-RateLimit-Remaining"]) for a in answers]
    assert remaining[:5] == list(range(remaining[0], remaining[0] - 5, -1))
    assert remaining[5] == remaining[4] - 5  # the four calls between counted too
    assert call(app, TOKENS, QUERY, x_api_key=secret[:-4] + "abcd").status == 401


def test_calls_passed_on_keep_their_user_and_errors(
    edge: tuple[ApiEdge, CountingDjango], alice: User, bob: User, market: Market
) -> None:
    """Checked calls the edge passes on run with the API's middleware: the key's owner is the
    user (their own watchlists, another's are 404) and errors keep their envelope."""
    from wallets.services import watchlist_default_ensure, watchlist_token_set

    app, _ = edge
    _, secret = key_make(alice, name="lists")
    watchlist_token_set(user=alice, token=market.tokens["ALPHA"], watched=True)
    alice_list = watchlist_default_ensure(user=alice)
    theirs = watchlist_default_ensure(user=bob)
    calls = [call(app, "/api/v1/watchlists/", x_api_key=secret) for _ in range(3)]  # learn, then checked
    assert [a.status for a in calls] == [200] * 3
    assert [w["name"] for w in calls[-1].json()["data"]] == [alice_list.name]  # hers only
    mine = call(app, f"/api/v1/watchlists/{alice_list.pk}/", x_api_key=secret).json()["data"]
    assert [item["token"]["symbol"] for item in mine["items"]] == ["ALPHA"]
    assert call(app, f"/api/v1/watchlists/{theirs.pk}/", x_api_key=secret).status == 404
    missing = call(app, "/api/v1/tokens/31337/0x" + "ab" * 20 + "/", x_api_key=secret)
    assert missing.status == 404 and missing.json()["error"]["code"] == "not_found"
    bad = call(app, TOKENS, "trader_grade_min=abc", x_api_key=secret)
    assert bad.status == 400 and list(bad.json()["error"]["fields"]) == ["trader_grade_min"]


@override_settings(API_CACHE_TTL=0)
def test_uncached_token_detail_is_built_by_the_edge_as_the_view_builds_it(
    edge: tuple[ApiEdge, CountingDjango], secret: str, market: Market
) -> None:
    """Caching off: once the key and the API's headers are known, a token detail is built by
    the edge with the view's own function: same bytes and headers, counted, new grades at once."""
    app, django = edge
    auth = {"x_api_key": secret}
    path = market.url("ALPHA")
    full = [call(app, path, **auth) for _ in range(3)]  # record the key's use, learn it, learn the headers
    assert django.calls == 3
    built = [call(app, path.lower(), **auth), call(app, path, **auth)]  # any letter case
    assert django.calls == 3  # both built by the edge
    per_call = PER_CALL | {"Last-Modified"}  # (the second it was built)
    same = {k: v for k, v in full[2].headers.items() if k not in per_call}
    for answer in built:
        assert answer.status == 200 and answer.body == full[2].body
        assert {k: v for k, v in answer.headers.items() if k not in per_call} == same
        reset = int(full[2].headers["X-RateLimit-Reset"]) - int(answer.headers["X-RateLimit-Reset"])
        assert 0 <= reset <= 1
    remaining = [int(a.headers["X-RateLimit-Remaining"]) for a in full + built]
    assert remaining == list(range(remaining[0], remaining[0] - 5, -1))
    TokenRating.objects.filter(token=market.tokens["ALPHA"]).update(trader_grade=12.5)
    assert call(app, path, **auth).json()["data"]["trader_grade"] == 12.5 and django.calls == 3
    # what the edge cannot build goes to Django, which answers it
    missing = call(app, "/api/v1/tokens/31337/0x" + "ab" * 20 + "/", **auth)
    assert missing.status == 404 and missing.json()["error"]["code"] == "not_found"
    assert call(app, "/api/v1/tokens/31337/not-an-address/", **auth).status in (400, 404)
    assert call(app, path, "format=json", **auth).status == 200
    assert django.calls == 6


def test_a_token_detail_not_cached_is_built_and_cached_by_the_edge(
    edge: tuple[ApiEdge, CountingDjango], secret: str, market: Market
) -> None:
    app, django = edge
    auth = {"x_api_key": secret}
    path = market.url("BETA")
    for _ in range(3):
        call(app, path, **auth)  # learn key and headers; the answer is cached
    TokenRating.objects.filter(token=market.tokens["BETA"]).update(trader_grade=44.0)
    data_version_bump()  # what grading does when it lands
    calls = django.calls
    fresh = call(app, path, **auth)
    assert fresh.json()["data"]["trader_grade"] == 44.0 and django.calls == calls  # built here
    app.answers.clear()  # another process: reads what this one cached
    assert call(app, path, **auth).body == fresh.body and django.calls == calls
    # the entry is the one the view would have cached: the current data version, these bytes
    entry = cache.get(response_key(RequestFactory().get(path, HTTP_HOST="testserver")))
    assert entry[0] == data_version() and entry[1] == fresh.body and entry[2] == fresh.headers["ETag"]
