"""Watchlists and API keys belong to their owner: another user's are 404, never 403."""

from __future__ import annotations

import re

from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from tests.api.conftest import CHAIN, Market
from tmsite.api.models import ApiKey
from wallets.models import User, Watchlist

LISTS = "/api/v1/watchlists/"


def test_watchlists_need_a_user(market: Market) -> None:
    assert APIClient().get(LISTS).status_code == 401
    assert APIClient().post(LISTS, {"name": "x"}, format="json").status_code == 401


def test_watchlist_read_write_with_a_key(market: Market, api: APIClient) -> None:
    created = api.post(LISTS, {"name": "majors"}, format="json")
    assert created.status_code == 201
    watchlist = created.json()["data"]
    assert watchlist["name"] == "majors" and watchlist["items"] == []
    url = f"{LISTS}{watchlist['id']}/"
    alpha = market.tokens["ALPHA"]
    body = {"chain_id": CHAIN, "address": alpha.address.lower()}
    assert api.post(f"{url}items/", body, format="json").status_code == 200
    again = api.post(f"{url}items/", body, format="json").json()["data"]  # adding twice keeps one
    assert [item["token"]["symbol"] for item in again["items"]] == ["ALPHA"]
    assert again["items"][0]["token"]["trader_grade"] == 81.0
    assert api.patch(url, {"name": "blue chips"}, format="json").json()["data"]["name"] == "blue chips"
    assert [w["name"] for w in api.get(LISTS).json()["data"]] == ["blue chips"]
    assert api.delete(f"{url}items/{CHAIN}/{alpha.address}/").status_code == 204
    assert api.get(url).json()["data"]["items"] == []
    assert api.delete(url).status_code == 204
    assert api.get(url).status_code == 404


def test_watchlist_errors_name_the_field(market: Market, api: APIClient) -> None:
    api.post(LISTS, {"name": "one"}, format="json")
    duplicate = api.post(LISTS, {"name": "one"}, format="json")
    assert duplicate.status_code == 400 and list(duplicate.json()["error"]["fields"]) == ["name"]
    watchlist = api.get(LISTS).json()["data"][0]
    missing = api.post(f"{LISTS}{watchlist['id']}/items/", {"chain_id": CHAIN}, format="json")
    assert missing.status_code == 400 and list(missing.json()["error"]["fields"]) == ["address"]
    unknown = api.post(
        f"{LISTS}{watchlist['id']}/items/", {"chain_id": CHAIN, "address": "0x" + "ab" * 20}, format="json"
    )
    assert unknown.status_code == 404


def test_another_users_watchlist_is_404(market: Market, alice: User, api: APIClient, bob_session: APIClient) -> None:
    watchlist = Watchlist.objects.create(owner=alice, name="private")
    url = f"{LISTS}{watchlist.pk}/"
    alpha = market.tokens["ALPHA"]
    assert bob_session.get(LISTS).json()["data"] == []
    assert bob_session.get(url).status_code == 404
    assert bob_session.patch(url, {"name": "mine"}, format="json").status_code == 404
    assert (
        bob_session.post(f"{url}items/", {"chain_id": CHAIN, "address": alpha.address}, format="json").status_code
        == 404
    )
    assert bob_session.delete(f"{url}items/{CHAIN}/{alpha.address}/").status_code == 404
    assert bob_session.delete(url).status_code == 404
    assert Watchlist.objects.get(pk=watchlist.pk).name == "private"
    assert api.get(url).status_code == 200  # alice's key sees it


def test_watchlist_detail_query_count(market: Market, alice: User, api: APIClient) -> None:
    watchlist = Watchlist.objects.create(owner=alice, name="all")
    for token in market.tokens.values():
        watchlist.items.create(token=token)
    api.get(LISTS)  # the key (with its owner) is read from the database once, then remembered
    with CaptureQueriesContext(connection) as queries:
        assert len(api.get(f"{LISTS}{watchlist.pk}/").json()["data"]["items"]) == 5
    # the watchlist (owner checked); its items joined with token and rating
    assert len(queries) == 2, [q["sql"] for q in queries]


def test_api_keys_over_the_session(
    market: Market, alice: User, alice_session: APIClient, bob_session: APIClient
) -> None:
    created = alice_session.post("/api/v1/keys/", {"name": "bot"}, format="json")
    assert created.status_code == 201
    data = created.json()["data"]
    assert data["plan"] == "free" and data["key"].startswith(data["prefix"] + ".")
    listed = alice_session.get("/api/v1/keys/").json()["data"]
    assert [k["prefix"] for k in listed] == [data["prefix"]] and "key" not in listed[0]
    assert bob_session.get("/api/v1/keys/").json()["data"] == []
    assert bob_session.delete(f"/api/v1/keys/{data['prefix']}/").status_code == 404
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=data["key"])
    assert client.get("/api/v1/tokens/").status_code == 200
    assert alice_session.delete(f"/api/v1/keys/{data['prefix']}/").status_code == 204
    assert client.get("/api/v1/tokens/").status_code == 401
    assert ApiKey.objects.get(prefix=data["prefix"]).revoked


def test_api_keys_page_creates_once_and_revokes(market: Market, alice: User, bob: User) -> None:
    assert Client().get("/account/api-keys/").status_code == 302  # sign in first
    page = Client()
    page.force_login(alice)
    assert page.get("/account/api-keys/").status_code == 200
    created = page.post("/account/api-keys/", {"name": "laptop"})
    assert created.status_code == 201 and created["Cache-Control"] == "no-store"
    shown = re.search(rb'data-testid="new-api-key">([^<]+)<', created.content)
    assert shown is not None
    secret = shown.group(1).decode()
    key = ApiKey.objects.get(owner=alice)
    assert secret.startswith(key.prefix + ".")
    assert secret.encode() not in page.get("/account/api-keys/").content  # shown once only
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {secret}")
    assert client.get("/api/v1/tokens/").status_code == 200
    other = Client()
    other.force_login(bob)
    assert other.post(f"/account/api-keys/{key.prefix}/revoke/").status_code == 404
    assert not ApiKey.objects.get(pk=key.pk).revoked
    assert page.post(f"/account/api-keys/{key.prefix}/revoke/").status_code == 302
    assert ApiKey.objects.get(pk=key.pk).revoked
    assert client.get("/api/v1/tokens/").status_code == 401
    assert b"revoked" in page.get("/account/api-keys/").content


def test_admin_creates_keys_for_users(market: Market, admin_user: User, alice: User) -> None:
    admin = Client()
    admin.force_login(admin_user)
    answer = admin.post(
        "/admin/publicapi/apikey/add/", {"name": "partner", "owner": alice.pk, "plan": "pro"}, follow=True
    )
    assert answer.status_code == 200
    key = ApiKey.objects.get(owner=alice, name="partner")
    assert key.plan == "pro" and key.prefix.encode() in answer.content
    assert admin.get("/admin/publicapi/apikey/").status_code == 200
