"""The cached path (tmsite.api.hot): a cached answer to a known key is served without the
database, with the same headers, still counted, and stops at once for a revoked key or owner."""

from __future__ import annotations

import time

from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from tests.api.conftest import Market, key_make
from tmsite.api import services, throttling
from wallets.models import User

TOKENS = "/api/v1/tokens/?ordering=-trader_grade"


def test_cached_answer_needs_no_query_and_keeps_the_headers(market: Market, api: APIClient) -> None:
    first = api.get(TOKENS)  # checks the key in the database, builds and caches the answer
    with CaptureQueriesContext(connection) as queries:
        again = api.get(TOKENS)
        detail = api.get(market.url("ALPHA"))
        detail_again = api.get(market.url("ALPHA"))
    # only the detail's first build: the token with its rating (the key is remembered)
    assert len(queries) == 1, [q["sql"] for q in queries]
    assert again.status_code == 200 and again.content == first.content
    for header in ("ETag", "Last-Modified", "Cache-Control", "Content-Type", "Allow", "X-RateLimit-Limit"):
        assert again[header] == first[header], header
    assert int(again["X-RateLimit-Remaining"]) == int(first["X-RateLimit-Remaining"]) - 1
    assert detail_again.content == detail.content and detail_again["ETag"] == detail["ETag"]
    assert api.get(TOKENS, HTTP_IF_NONE_MATCH=first["ETag"]).status_code == 304
    assert api.get(TOKENS, HTTP_ACCEPT="text/html").status_code == 406  # as DRF answers it


def test_revoked_key_or_inactive_owner_stops_at_once(market: Market, alice: User) -> None:
    key, secret = key_make(alice, name="soon revoked")
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=secret)
    assert [client.get(TOKENS).status_code for _ in range(2)] == [200, 200]  # the second from the cache
    services.api_key_revoke(key=key)
    assert client.get(TOKENS).status_code == 401
    _, secret = key_make(alice, name="owner leaves")
    client.credentials(HTTP_X_API_KEY=secret)
    assert [client.get(TOKENS).status_code for _ in range(2)] == [200, 200]
    alice.is_active = False
    alice.save()
    assert client.get(TOKENS).status_code == 401


def test_known_prefix_with_a_wrong_secret_is_401(market: Market, alice: User, api: APIClient) -> None:
    _, secret = key_make(alice, name="real")
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=secret)
    assert [client.get(TOKENS).status_code for _ in range(2)] == [200, 200]
    client.credentials(HTTP_X_API_KEY=secret[:-4] + "abcd")
    answer = client.get(TOKENS)
    assert answer.status_code == 401 and answer.json()["error"]["code"] == "authentication_failed"


@override_settings(API_PLAN_RATES={"free": "3/min", "pro": "6/min", "session": "3/min", "anon": "1/min"})
def test_cached_answers_count_against_the_plan(market: Market, api: APIClient) -> None:
    answers = [api.get(TOKENS) for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert [a["X-RateLimit-Remaining"] for a in answers] == ["2", "1", "0", "0"]
    limited = answers[-1]
    assert 1 <= int(limited["Retry-After"]) <= 120 and limited.json()["error"]["code"] == "throttled"


def test_redis_reads_and_counts_in_one_round_trip(redis_url: str) -> None:
    """On Redis the cached path's read and its throttle count are one pipeline (see hot.py)."""
    bucket = throttling.bucket_for_key(prefix="pipetest", plan="free")
    keys = list(bucket.keys(time.time()))
    counts, counted = throttling.read_and_count(keys, keys[1], 120)
    again, counted_again = throttling.read_and_count(keys, keys[1], 120)
    assert counted and counted_again
    assert keys[1] not in counts and again[keys[1]] == 1  # each read sees the counts before its own
    throttling.uncount(keys[1])
    assert throttling.read_and_count(keys, keys[1], 120)[0][keys[1]] == 1


@override_settings(
    CACHES={
        "default": {
            "BACKEND": "tmsite.cache.ResilientRedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",  # nothing listens there
            "OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2},
        }
    }
)
def test_answers_from_the_database_while_redis_is_unreachable(market: Market, alice: User) -> None:
    _, secret = key_make(alice, name="redis down")
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=secret)
    answers = [client.get(TOKENS) for _ in range(2)] + [client.get(market.url("ALPHA"))]
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert answers[0].content == answers[1].content


def test_the_remembered_key_never_holds_the_owners_password_hash(market: Market, alice: User) -> None:
    from django.core.cache import cache

    from tmsite.api.auth import KEY_ENTRY

    stored_hash = alice.password
    assert stored_hash
    key, secret = key_make(alice, name="remembered")
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=secret)
    assert client.get(TOKENS).status_code == 200
    entry = cache.get(KEY_ENTRY.format(prefix=key.prefix))
    assert entry is not None and entry.owner.pk == alice.pk
    assert "password" not in entry.owner.__dict__  # left out of the cache
    # Saving the cached owner (as a view might) keeps the stored password.
    entry.owner.first_name = "Alice"
    entry.owner.save()
    alice.refresh_from_db()
    assert alice.first_name == "Alice" and alice.password == stored_hash
