from __future__ import annotations

import pytest

from tests.site.factories import token_make
from wallets.models import Watchlist, WatchlistItem

pytestmark = pytest.mark.django_db


def test_star_button_adds_and_removes_a_token_with_htmx(alice_client, alice) -> None:  # type: ignore[no-untyped-def]
    token = token_make(1)
    added = alice_client.post(f"/watchlist/{token.pk}/", {"watched": "1"}, headers={"HX-Request": "true"})
    assert added.status_code == 200 and 'aria-pressed="true"' in added.content.decode()
    assert WatchlistItem.objects.filter(watchlist__owner=alice, token=token).count() == 1
    removed = alice_client.post(f"/watchlist/{token.pk}/", {"watched": "0"}, headers={"HX-Request": "true"})
    assert 'aria-pressed="false"' in removed.content.decode()
    assert not WatchlistItem.objects.filter(watchlist__owner=alice).exists()


def test_star_form_without_javascript_redirects_back(alice_client) -> None:  # type: ignore[no-untyped-def]
    token = token_make(2)
    response = alice_client.post(f"/watchlist/{token.pk}/", {"watched": "1", "next": "/ratings/?tab=watchlist"})
    assert response.status_code == 302 and response["Location"] == "/ratings/?tab=watchlist"


def test_star_refuses_an_offsite_next_url(alice_client) -> None:  # type: ignore[no-untyped-def]
    token = token_make(3)
    response = alice_client.post(f"/watchlist/{token.pk}/", {"watched": "1", "next": "https://evil.example/"})
    assert response["Location"] == "/ratings/"


def test_adding_twice_keeps_one_row(alice_client, alice) -> None:  # type: ignore[no-untyped-def]
    token = token_make(4)
    for _ in range(2):
        alice_client.post(f"/watchlist/{token.pk}/", {"watched": "1"})
    assert WatchlistItem.objects.filter(watchlist__owner=alice).count() == 1


def test_signed_out_visitor_is_sent_to_sign_in(client) -> None:  # type: ignore[no-untyped-def]
    token = token_make(5)
    response = client.post(f"/watchlist/{token.pk}/", {"watched": "1"})
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_owner_sees_their_watchlist(alice_client, alice) -> None:  # type: ignore[no-untyped-def]
    token = token_make(6)
    alice_client.post(f"/watchlist/{token.pk}/", {"watched": "1"})
    watchlist = Watchlist.objects.get(owner=alice)
    response = alice_client.get(f"/watchlists/{watchlist.pk}/")
    assert response.status_code == 200 and "TK6" in response.content.decode()


def test_another_users_watchlist_is_404(client, alice, bob) -> None:  # type: ignore[no-untyped-def]
    watchlist = Watchlist.objects.create(owner=alice)
    client.force_login(bob)
    assert client.get(f"/watchlists/{watchlist.pk}/").status_code == 404


def test_admin_lists_watchlists_wallets_and_fundamentals_with_search(admin_client) -> None:  # type: ignore[no-untyped-def]
    for path in (
        "/admin/wallets/watchlist/?q=alice",
        "/admin/wallets/linkedwallet/?q=0xabc",
        "/admin/wallets/tokenfundamentals/?q=TK",
        "/admin/wallets/user/?q=alice",
    ):
        assert admin_client.get(path).status_code == 200, path
