from __future__ import annotations

import json
import re

import pytest

from tests.site.factories import candles_make, holder_make, rating_make, token_make, whale_make
from wallets.models import TokenFundamentals

pytestmark = pytest.mark.django_db


def page_url(token) -> str:  # type: ignore[no-untyped-def]
    return f"/tokens/{token.chain_id}/{token.address}/"


def test_token_page_shows_grades_contributions_holders_whales_and_fundamentals(client) -> None:  # type: ignore[no-untyped-def]
    token = token_make(1, price=2.0)
    rating_make(token, trader=81, investor=64, signal="bullish")
    candles_make(token)
    whale_make(token, n=2)
    holder_make(token, "0x" + "c" * 40, 250_000)  # a quarter of the 1,000,000 supply
    TokenFundamentals.objects.create(token=token, description="An example token.", website="https://example.com")
    body = client.get(page_url(token)).content.decode()
    for expected in (
        "Trader Grade",
        "Return over 24h",  # a top contributing data point
        "+4.2",
        "25.00%",  # holder share of total supply
        "$100.00k",  # whale transfer value in USD at the time
        "An example token.",
        "Model rules-v0",
        "Hourly volatility",
        "Volume by hour of day",
        'id="chart-data"',
        "fully diluted",
    ):
        assert expected in body, expected
    assert "<script>" not in body  # CSP-friendly: data in application/json blocks only
    # Buy opens the swap widget for this token.
    assert f'href="/swap/?buy={token.address}"' in body


def test_token_page_of_an_unrated_token_says_so(client) -> None:  # type: ignore[no-untyped-def]
    token = token_make(2)
    body = client.get(page_url(token)).content.decode()
    assert "Not rated yet" in body


def test_token_page_matches_a_lower_cased_address(client) -> None:  # type: ignore[no-untyped-def]
    token = token_make(0xABC)
    token.address = "0x" + "AbC" * 13 + "d"
    token.save()
    assert client.get(f"/tokens/{token.chain_id}/{token.address.lower()}/").status_code == 200


def test_unknown_token_is_404(client) -> None:  # type: ignore[no-untyped-def]
    assert client.get("/tokens/31337/0x" + "0" * 40 + "/").status_code == 404


def test_candles_endpoint_returns_bars_since_a_time_for_the_live_chart(client) -> None:  # type: ignore[no-untyped-def]
    token = token_make(3)
    candles_make(token, hours=10)
    every = client.get(page_url(token) + "candles.json", {"interval": "1h"}).json()
    assert every["unit"] == "USD" and len(every["candles"]) == 10
    last = every["candles"][-1]["time"]
    recent = client.get(page_url(token) + "candles.json", {"interval": "1h", "since": last}).json()
    assert [bar["time"] for bar in recent["candles"]] == [last]


def test_live_price_and_whale_parts_render_alone_for_polling(client) -> None:  # type: ignore[no-untyped-def]
    token = token_make(4)
    whale_make(token)
    price = client.get(page_url(token), {"part": "token-price"}, headers={"HX-Request": "true"}).content.decode()
    assert price.lstrip().startswith('<section id="token-price"') and 'hx-trigger="every 10s"' in price
    whales = client.get(page_url(token), {"part": "whale-feed"}, headers={"HX-Request": "true"}).content.decode()
    assert whales.lstrip().startswith('<div id="whale-feed"') and "$100.00k" in whales


@pytest.mark.chain
def test_token_page_of_an_indexed_market_shows_its_candles_and_holders(client, registered_market) -> None:  # type: ignore[no-untyped-def]
    from market.models import Token
    from market.services import chain_index_to_head, rpc_client

    chain_index_to_head(chain_id=registered_market.chain_id, rpc=rpc_client(registered_market.url))
    alpha = Token.objects.get(chain_id=registered_market.chain_id, address=registered_market.tokens["ALPHA"])
    response = client.get(page_url(alpha))
    assert response.status_code == 200
    chart = re.search(r'<script id="chart-data" type="application/json">(.*?)</script>', response.content.decode())
    assert chart and json.loads(chart.group(1))["candles"], "indexed swaps give the chart bars"
    assert "No balances indexed." not in response.content.decode(), "indexed balances give top holders"
    listing = client.get("/ratings/", {"q": "ALPHA"}).content.decode()
    assert 'data-symbol="ALPHA"' in listing
