from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.site.factories import candles_make, rating_make, token_make
from tmsite.api.caching import data_version_bump
from wallets.services import watchlist_token_set

pytestmark = pytest.mark.django_db


def symbols(response) -> list[str]:  # type: ignore[no-untyped-def]
    return re.findall(r'<tr data-symbol="([^"]+)"', response.content.decode())


@pytest.fixture
def rated_market():  # type: ignore[no-untyped-def]
    tokens = {}
    for i, (trader, investor, signal, price, flags) in enumerate(
        [
            (85, 40, "bullish", 2.0, []),
            (20, 90, "bearish", 0.1, ["thin_liquidity"]),
            (55, 55, "neutral", 10.0, []),
        ],
        start=1,
    ):
        token = token_make(i, price=price)
        rating_make(token, trader=trader, investor=investor, signal=signal, risk_flags=flags)
        tokens[token.symbol] = token
    unrated = token_make(9, price=0.5)
    candles_make(unrated)
    tokens[unrated.symbol] = unrated
    return tokens


def test_ratings_page_lists_every_token_with_units_and_fully_diluted_label(client, rated_market) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/ratings/")
    assert response.status_code == 200
    assert sorted(symbols(response)) == ["TK1", "TK2", "TK3", "TK9"]
    body = response.content.decode()
    assert "fully diluted" in body
    assert "as of block time" in body
    assert "not rated" in body  # TK9 has market data but no rating yet


def test_default_order_is_trader_grade_best_first_with_unrated_last(client, rated_market) -> None:  # type: ignore[no-untyped-def]
    assert symbols(client.get("/ratings/")) == ["TK1", "TK3", "TK2", "TK9"]


@pytest.mark.parametrize(
    ("sort", "direction", "expected"),
    [
        ("investor_grade", "desc", ["TK2", "TK3", "TK1", "TK9"]),
        ("price", "asc", ["TK2", "TK9", "TK1", "TK3"]),
        ("market_cap", "desc", ["TK3", "TK1", "TK9", "TK2"]),
        ("token", "asc", ["TK1", "TK2", "TK3", "TK9"]),
    ],
)
def test_sorting_by_a_column_orders_rows(client, rated_market, sort, direction, expected) -> None:  # type: ignore[no-untyped-def]
    assert symbols(client.get("/ratings/", {"sort": sort, "dir": direction})) == expected


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"trader_min": 50}, ["TK1", "TK3"]),
        ({"trader_min": 50, "trader_max": 60}, ["TK3"]),
        ({"investor_min": 80}, ["TK2"]),
        ({"signal": "bearish"}, ["TK2"]),
        ({"risk": "any"}, ["TK2"]),
        ({"risk": "none"}, ["TK1", "TK3", "TK9"]),
        ({"q": "tk3"}, ["TK3"]),
        ({"mcap_min": 1_000_000, "mcap_max": 3_000_000}, ["TK1"]),
    ],
)
def test_filters_narrow_the_table(client, rated_market, params, expected) -> None:  # type: ignore[no-untyped-def]
    assert symbols(client.get("/ratings/", params)) == expected


def test_invalid_filter_values_are_ignored_not_an_error(client, rated_market) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/ratings/", {"trader_min": "lots", "sort": "nonsense", "page": "x"})
    assert response.status_code == 200
    assert len(symbols(response)) == 4


def test_unrated_token_falls_back_to_candle_volume_and_market_cap(client, rated_market) -> None:  # type: ignore[no-untyped-def]
    body = client.get("/ratings/", {"q": "TK9"}).content.decode()
    row = body[body.index('data-symbol="TK9"') :]
    assert "$500.00k" in row  # 0.5 USD x 1,000,000 whole tokens, fully diluted
    assert re.search(r'data-col="volume_24h">\$2[0-9]\.\d\dk', row)  # 24 hourly candles of ~1k USD


def test_htmx_request_renders_only_the_table(client, rated_market) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/ratings/", {"sort": "price"}, headers={"HX-Request": "true"})
    body = response.content.decode()
    assert body.lstrip().startswith('<div id="ratings-table"')
    assert "<html" not in body
    assert response["Vary"] and "HX-Request" in response["Vary"]


def test_sort_links_carry_real_hrefs_and_push_the_url(client, rated_market) -> None:  # type: ignore[no-untyped-def]
    body = client.get("/ratings/").content.decode()
    assert 'href="?sort=price&amp;dir=desc"' in body
    assert 'hx-push-url="true"' in body


def test_table_pages_through_tokens(client, rated_market, settings) -> None:  # type: ignore[no-untyped-def]
    settings.RATINGS_PAGE_SIZE = 3
    first, second = client.get("/ratings/"), client.get("/ratings/", {"page": 2})
    assert symbols(first) == ["TK1", "TK3", "TK2"]
    assert symbols(second) == ["TK9"]
    assert "page 2 of 2" in second.content.decode()


def test_moonshots_tab_is_a_placeholder(client, rated_market) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/ratings/", {"tab": "moonshots"})
    assert symbols(response) == []
    assert "Moonshots" in response.content.decode()


def test_watchlist_tab_asks_signed_out_visitors_to_sign_in(client, rated_market) -> None:  # type: ignore[no-untyped-def]
    body = client.get("/ratings/", {"tab": "watchlist"}).content.decode()
    assert "to keep a private list of tokens" in body


def test_watchlist_tab_shows_only_the_users_tokens(client, alice, bob, rated_market) -> None:  # type: ignore[no-untyped-def]
    watchlist_token_set(user=alice, token=rated_market["TK2"], watched=True)
    watchlist_token_set(user=bob, token=rated_market["TK3"], watched=True)
    client.force_login(alice)
    assert symbols(client.get("/ratings/", {"tab": "watchlist"})) == ["TK2"]


def test_query_count_does_not_grow_with_rows(client, alice, settings) -> None:  # type: ignore[no-untyped-def]
    def queries_for_page(**params: str) -> int:
        with CaptureQueriesContext(connection) as captured:
            response = client.get("/ratings/", {"sort": "volume_24h", "risk": "none", **params})
            assert response.status_code == 200
        return len(captured)

    settings.RATINGS_PAGE_SIZE = 10
    client.force_login(alice)
    token = token_make(1)
    rating_make(token, trader=50, investor=50)
    few = queries_for_page()
    for i in range(2, 40):
        t = token_make(i)
        if i % 2:
            rating_make(t, trader=i, investor=i)
        watchlist_token_set(user=alice, token=t, watched=True)
    data_version_bump()  # new grades landed: the table's columns are read afresh
    many = queries_for_page()
    # session, user, watchlist ids, market time, every token's filter and sort columns (on
    # PostgreSQL inside a transaction that turns JIT off: 3 more), the page's rows
    assert many == few <= 6 + (3 if connection.vendor == "postgresql" else 0)
    # The same rows under another address (an empty search box): session, user, watchlist ids,
    # market time; the rows were formatted by the request before
    assert queries_for_page(q="") == 4
    # Rows not shown before: those rows, in one query
    assert queries_for_page(page="2") == 5
