"""Cached answers with ETag / Last-Modified and 304; invalidation when grades land; the
OpenAPI schema; CORS allow-list; orjson output."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.test import override_settings
from rest_framework.test import APIClient

from ratings.models import TokenRating
from tests.api.conftest import Market
from tmsite.api.caching import data_version_bump

TOKENS = "/api/v1/tokens/"


def test_etag_and_304(market: Market, api: APIClient) -> None:
    first = api.get(TOKENS)
    etag, modified = first["ETag"], first["Last-Modified"]
    assert etag.startswith('"') and modified.endswith("GMT")
    same = api.get(TOKENS, HTTP_IF_NONE_MATCH=etag)
    assert same.status_code == 304 and same.content == b"" and same["ETag"] == etag
    assert "X-RateLimit-Remaining" in same  # still counted
    assert api.get(TOKENS, HTTP_IF_NONE_MATCH='"other"').status_code == 200
    assert api.get(TOKENS, HTTP_IF_MODIFIED_SINCE=modified).status_code == 304
    assert api.get(TOKENS, HTTP_IF_MODIFIED_SINCE="Thu, 01 Jan 2015 00:00:00 GMT").status_code == 200


def test_cached_until_new_grades_land(market: Market, api: APIClient) -> None:
    before = api.get(TOKENS)
    TokenRating.objects.filter(token=market.tokens["RUG"]).update(trader_grade=99.0)
    cached = api.get(TOKENS)
    assert cached.content == before.content  # served from the cache
    data_version_bump()  # what ratings_compute does after storing new grades
    fresh = api.get(TOKENS)
    assert fresh.json()["data"][0]["symbol"] == "RUG"
    assert fresh["ETag"] != before["ETag"]
    assert api.get(TOKENS, HTTP_IF_NONE_MATCH=before["ETag"]).status_code == 200


def test_cache_never_crosses_auth(market: Market, api: APIClient) -> None:
    assert api.get(TOKENS).status_code == 200
    assert APIClient().get(TOKENS).status_code == 401  # a cached answer is not served to anonymous


@pytest.mark.django_db
def test_ratings_compute_bumps_the_version_on_commit() -> None:
    import inspect

    from ratings import services

    assert "transaction.on_commit(graded_data_published)" in inspect.getsource(services.ratings_compute)
    assert "data_version_bump()" in inspect.getsource(services.graded_data_published)


def test_schema_validates_without_warnings(db) -> None:
    out = StringIO()
    call_command("spectacular", "--validate", "--fail-on-warn", stdout=out)
    schema = out.getvalue()
    for path in ("/api/v1/tokens/", "/api/v1/tokens/{chain_id}/{address}/ohlcv/hourly/", "/api/v1/watchlists/"):
        assert path in schema
    assert "ApiKeyAuth" in schema and "X-API-Key" in schema
    assert "A rated token" in schema  # the example


def test_schema_gives_every_answer_an_example_and_its_headers(db) -> None:
    out = StringIO()
    call_command("spectacular", "--format", "openapi-json", stdout=out)
    paths = json.loads(out.getvalue())["paths"]
    data_api = {path: ops for path, ops in paths.items() if "/swap/" not in path}  # the swap widget's own rules
    operations = [(path, method, op) for path, ops in data_api.items() for method, op in ops.items()]
    assert len(operations) >= 20
    for path, method, op in operations:
        for code, response in op["responses"].items():
            assert {"X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"} <= set(response["headers"])
            if code in ("200", "201"):
                assert response["content"]["application/json"]["examples"], (method, path)
        assert "Retry-After" in op["responses"]["429"]["headers"]
    tokens = paths["/api/v1/tokens/"]["get"]
    assert "ETag" in tokens["responses"]["200"]["headers"] and "304" in tokens["responses"]
    assert {"If-None-Match", "If-Modified-Since"} <= {p["name"] for p in tokens["parameters"]}
    assert "304" not in paths["/api/v1/watchlists/"]["get"]["responses"]  # private answers are not cached


def test_docs_pages(market: Market, api: APIClient) -> None:
    client = APIClient()
    assert client.get("/api/docs/").status_code == 200
    assert client.get("/api/docs/redoc/").status_code == 200


@override_settings(CORS_ALLOWED_ORIGINS=["https://app.example.com"])
def test_cors_allow_list(market: Market, alice_key: str) -> None:
    client = APIClient()
    preflight = client.options(
        TOKENS,
        HTTP_ORIGIN="https://app.example.com",
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="GET",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="x-api-key",
    )
    assert preflight["Access-Control-Allow-Origin"] == "https://app.example.com"
    assert "x-api-key" in preflight["Access-Control-Allow-Headers"]
    answer = client.get(TOKENS, HTTP_ORIGIN="https://app.example.com", HTTP_X_API_KEY=alice_key)
    assert answer["Access-Control-Allow-Origin"] == "https://app.example.com"
    assert "x-ratelimit-remaining" in answer["Access-Control-Expose-Headers"]
    assert "Access-Control-Allow-Origin" not in client.get(
        TOKENS, HTTP_ORIGIN="https://evil.example", HTTP_X_API_KEY=alice_key
    )


def test_json_is_compact_orjson(market: Market, api: APIClient) -> None:
    answer = api.get(market.url("ALPHA"))
    assert answer["Content-Type"] == "application/json"
    assert answer.content.startswith(b'{"data":{"chain_id":31337,')
