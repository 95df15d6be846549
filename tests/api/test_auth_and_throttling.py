"""API keys (hashed, by header, revocable), who may call what, and per-key plan throttling."""

from __future__ import annotations

import time

import pytest
from django.test import override_settings
from rest_framework.test import APIClient

from tests.api.conftest import Market, key_make
from tmsite.api.models import ApiKey
from wallets.models import User

TOKENS = "/api/v1/tokens/"
RATE_HEADERS = {"X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"}


def test_data_needs_a_key_or_a_session(market: Market) -> None:
    answer = APIClient().get(TOKENS)
    assert answer.status_code == 401
    assert answer["WWW-Authenticate"] == "Api-Key"
    assert answer.json()["error"]["code"] == "not_authenticated"
    assert RATE_HEADERS <= set(answer.headers)  # counted against the client IP too


@pytest.mark.parametrize("header", ["authorization", "x-api-key"])
def test_key_in_either_header(market: Market, alice_key: str, header: str) -> None:
    client = APIClient()
    if header == "authorization":
        client.credentials(HTTP_AUTHORIZATION=f"Api-Key {alice_key}")
    else:
        client.credentials(HTTP_X_API_KEY=alice_key)
    answer = client.get(TOKENS)
    assert answer.status_code == 200, answer.content
    assert len(answer.json()["data"]) == 5
    assert answer["X-RateLimit-Limit"] == "60" and answer["X-RateLimit-Remaining"] == "59"


def test_wrong_revoked_or_expired_key_is_401(market: Market, alice: User, alice_key: str) -> None:
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=alice_key[:-2] + "xx")
    assert client.get(TOKENS).status_code == 401
    client.credentials(HTTP_X_API_KEY="no-dot-at-all")
    assert client.get(TOKENS).status_code == 401
    key, secret = key_make(alice, name="old")
    client.credentials(HTTP_X_API_KEY=secret)
    assert client.get(TOKENS).status_code == 200
    key.revoked = True
    key.save()
    answer = client.get(TOKENS)
    assert answer.status_code == 401 and "revoked" in answer.json()["error"]["message"]
    expired, secret = key_make(alice, name="expired")
    ApiKey.objects.filter(pk=expired.pk).update(expiry_date="2020-01-01T00:00:00Z")
    client.credentials(HTTP_X_API_KEY=secret)
    assert client.get(TOKENS).status_code == 401


def test_keys_are_stored_hashed_and_record_use(market: Market, alice: User, api: APIClient) -> None:
    key, secret = key_make(alice, name="check")
    stored = ApiKey.objects.get(pk=key.pk)
    assert secret.startswith(stored.prefix + ".")
    secret_part = secret.split(".", 1)[1]
    assert secret_part not in stored.hashed_key and secret_part not in stored.id
    assert stored.last_used_at is None
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=secret)
    client.get(TOKENS)
    assert ApiKey.objects.get(pk=key.pk).last_used_at is not None


def test_key_management_needs_the_session_not_a_key(market: Market, api: APIClient, alice_session: APIClient) -> None:
    assert api.get("/api/v1/keys/").status_code in (401, 403)
    assert api.post("/api/v1/keys/", {"name": "escalate"}, format="json").status_code in (401, 403)
    assert alice_session.get("/api/v1/keys/").status_code == 200


@override_settings(API_PLAN_RATES={"free": "2/s", "pro": "4/s", "session": "3/s", "anon": "1/s"})
def test_throttled_per_key_by_plan_then_recovers(market: Market, alice: User, bob: User) -> None:
    free, pro = APIClient(), APIClient()
    free.credentials(HTTP_X_API_KEY=key_make(alice)[1])
    pro.credentials(HTTP_X_API_KEY=key_make(bob, plan=ApiKey.Plan.PRO)[1])
    codes = [free.get(TOKENS).status_code for _ in range(3)]
    assert codes == [200, 200, 429]
    limited = free.get(TOKENS)
    assert limited.status_code == 429
    assert limited.json()["error"]["code"] == "throttled"
    assert int(limited["Retry-After"]) >= 1
    assert limited["X-RateLimit-Limit"] == "2" and limited["X-RateLimit-Remaining"] == "0"
    # another key has its own bucket and its plan's rate
    assert [pro.get(TOKENS).status_code for _ in range(5)] == [200, 200, 200, 200, 429]
    # a second key of the same user is a separate bucket as well
    other = APIClient()
    other.credentials(HTTP_X_API_KEY=key_make(alice, name="second")[1])
    assert other.get(TOKENS).status_code == 200
    time.sleep(int(limited["X-RateLimit-Reset"]) + 0.1)
    recovered = free.get(TOKENS)
    assert recovered.status_code == 200
    assert recovered["X-RateLimit-Remaining"] == "1"


def test_swap_endpoints_keep_their_own_rules(market: Market) -> None:
    """The public data API's auth does not leak onto the swap widget's endpoints."""
    answer = APIClient().get("/api/v1/swap/quote", {"sellToken": "bad"})
    assert answer.status_code == 400
