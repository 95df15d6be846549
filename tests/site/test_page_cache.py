"""The rendered parts cached by ratings.page_parts: fresh after a grading run or a new market
block, and never carrying one user's state to another."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from market.models import Token
from tests.site.factories import MARKET_TIME, rating_make, token_make
from wallets.services import watchlist_token_set


def _watch_buttons(body: str) -> dict[str, bool]:
    """Symbol -> pressed, for every watchlist button on the page."""
    buttons = re.findall(r'aria-pressed="(true|false)"\s+data-testid="watch-(TK\d+)"', body)
    return {symbol: pressed == "true" for pressed, symbol in buttons}


def _csrf(body: str) -> str:
    match = re.search(r'"X-CSRFToken": "([^"]+)"', body)
    assert match
    return match.group(1)


@pytest.mark.chain
@pytest.mark.django_db(transaction=True)
def test_cached_pages_show_new_grades_right_after_a_grading_run(registered_market, tmp_path, settings) -> None:  # type: ignore[no-untyped-def]
    from market.services import chain_index_to_head, index_sources_sync, rpc_client
    from ratings.models import TokenRating
    from ratings.services import ratings_compute

    settings.VAR_DIR = tmp_path  # no social feed
    chain_id = registered_market.chain_id
    index_sources_sync(chain_id=chain_id)
    chain_index_to_head(chain_id=chain_id, rpc=rpc_client(registered_market.url))
    alpha = Token.objects.get(chain_id=chain_id, address=registered_market.tokens["ALPHA"])
    token_url = f"/tokens/{chain_id}/{alpha.address}/"
    client = Client()
    before = client.get("/ratings/", {"q": "ALPHA"}).content.decode()
    assert "not rated" in before
    assert client.get("/ratings/", {"q": "ALPHA"}).content.decode().count("not rated") == 1  # now cached
    assert "Not rated yet" in client.get(token_url).content.decode()

    ratings_compute(chain_id=chain_id)  # its commit replaces the data version

    rating = TokenRating.objects.get(token=alpha)
    after = client.get("/ratings/", {"q": "ALPHA"}).content.decode()
    row = after[after.index('data-symbol="ALPHA"') :]
    assert "not rated" not in row
    assert f'<span class="grade">{rating.trader_grade:.0f}</span>' in row
    computed = rating.computed_at.strftime("%Y-%m-%d %H:%M")
    assert f'data-testid="graded-at">{computed} UTC' in after  # when the shown grades were computed
    page = client.get(token_url).content.decode()
    assert f'data-testid="trader-grade">{rating.trader_grade:.0f}<' in page
    assert f'computed for market time <time datetime="{rating.computed_at.isoformat()}"' in page


@pytest.mark.chain
@pytest.mark.django_db(transaction=True)
def test_first_page_of_each_order_is_served_from_the_cache_after_a_grading_run(  # type: ignore[no-untyped-def]
    registered_market, tmp_path, settings, monkeypatch
) -> None:
    from market.services import chain_index_to_head, index_sources_sync, rpc_client
    from ratings import page_index
    from ratings.models import TokenRating
    from ratings.tasks import compute_grades_task

    settings.VAR_DIR = tmp_path  # no social feed
    chain_id = registered_market.chain_id
    index_sources_sync(chain_id=chain_id)
    chain_index_to_head(chain_id=chain_id, rpc=rpc_client(registered_market.url))
    alpha = Token.objects.get(chain_id=chain_id, address=registered_market.tokens["ALPHA"])
    client = Client()
    assert "not rated" in client.get("/ratings/").content.decode()

    # The scheduled grading run; its commit queues the warm-up, run in-process here.
    compute_grades_task(chain_id)

    # A web process other than the worker that warmed the pages: no table columns in memory.
    monkeypatch.setattr(page_index, "_current", None)
    grade = TokenRating.objects.get(token=alpha).trader_grade
    htmx = {"HX-Request": "true"}  # a header click swaps the table only
    for params, headers in (({}, {}), ({"sort": "price", "dir": "desc"}, {}), ({"sort": "token", "dir": "asc"}, htmx)):
        with CaptureQueriesContext(connection) as queries:
            body = client.get("/ratings/", params, headers=headers).content.decode()
        assert len(queries) == 1  # the market time: the page came rendered from the cache
        row = body[body.index('data-symbol="ALPHA"') :]
        row = row[: row.index("</tr>")]
        assert f'<span class="grade">{grade:.0f}</span>' in row  # the new grades
        assert "not rated" not in row
    assert page_index._current is None  # nothing was built for them
    with CaptureQueriesContext(connection) as queries:
        client.get("/ratings/", {"sort": "price", "dir": "desc", "page": "2"})  # not warmed: built here
    assert len(queries) > 1


@pytest.mark.django_db
def test_cached_pages_show_new_prices_when_the_market_moves(client) -> None:  # type: ignore[no-untyped-def]
    token = token_make(1, price=2.0)
    page = f"/tokens/{token.chain_id}/{token.address}/"
    assert 'data-col="price">$2.00<' in client.get("/ratings/").content.decode()
    assert 'data-testid="price">$2.00<' in client.get(page).content.decode()
    # What the indexer writes for a block that moved the price.
    Token.objects.filter(pk=token.pk).update(
        price_usd=3.0, market_block=101, market_updated_at=MARKET_TIME + timedelta(minutes=1)
    )
    assert 'data-col="price">$3.00<' in client.get("/ratings/").content.decode()
    body = client.get(page).content.decode()
    assert 'data-testid="price">$3.00<' in body
    assert "Market state at block 101" in body


@pytest.mark.django_db
def test_watchlist_state_is_never_served_to_another_user_from_the_cache(alice, bob) -> None:  # type: ignore[no-untyped-def]
    tokens = [token_make(i) for i in (1, 2, 3)]
    for i, token in enumerate(tokens):
        rating_make(token, trader=90 - i, investor=50)
    watchlist_token_set(user=alice, token=tokens[1], watched=True)
    anonymous, as_alice, as_bob = Client(), Client(), Client()
    as_alice.force_login(alice)
    as_bob.force_login(bob)
    token_page = f"/tokens/{tokens[1].chain_id}/{tokens[1].address}/"

    first_anonymous = anonymous.get("/ratings/").content.decode()  # fills the cache, no stars
    assert _watch_buttons(first_anonymous) == {}
    assert _watch_buttons(as_alice.get("/ratings/").content.decode()) == {"TK1": False, "TK2": True, "TK3": False}
    assert _watch_buttons(as_bob.get("/ratings/").content.decode()) == {"TK1": False, "TK2": False, "TK3": False}
    again = anonymous.get("/ratings/").content.decode()
    assert _watch_buttons(again) == {} and "Sign out" not in again
    assert _watch_buttons(as_alice.get("/ratings/", headers={"HX-Request": "true"}).content.decode())["TK2"]

    assert _watch_buttons(as_alice.get(token_page).content.decode()) == {"TK2": True}
    assert _watch_buttons(as_bob.get(token_page).content.decode()) == {"TK2": False}
    assert "Sign in to watch" in anonymous.get(token_page).content.decode()
    assert "Sign in to watch" not in as_bob.get(token_page).content.decode()

    # The CSRF token and the signed-in header are each visitor's own, around the cached part.
    other = Client().get("/ratings/").content.decode()
    assert _csrf(other) != _csrf(again)
    assert "alice" in as_alice.get("/ratings/").content.decode()
    assert "alice" not in as_bob.get("/ratings/").content.decode()
