"""The ratings table filters and sorts in memory (ratings/page_index.py): every filter, order
and direction must list the same tokens in the same order as the database query that
defines the table (``ratings_rows``), ties, NULLs and the database's own text order included."""

from __future__ import annotations

import itertools
import re
from datetime import timedelta

import pytest
from django.test import Client

from market.models import Token
from ratings.models import RiskFlag
from ratings.page_index import ratings_index
from ratings.page_selectors import SORT_KEYS, RatingsQuery, ratings_market_time, ratings_rows
from tests.site.factories import MARKET_TIME, candles_make, rating_make, token_make
from tmsite.api.caching import data_version_bump

pytestmark = pytest.mark.django_db

FILTERS: list[dict[str, object]] = [
    {},
    {"search": "tk1"},
    {"search": "0x" + "0" * 39 + "3"},  # an exact address, any case
    {"signal": "bullish"},
    {"risk": "none"},
    {"risk": "any"},
    {"risk": "mintable"},
    {"trader_min": 40.0, "trader_max": 70.0},
    {"investor_min": 50.0},
    {"mcap_min": 100_000.0, "mcap_max": 5_000_000.0},
    {"signal": "neutral", "risk": "none", "trader_min": 10.0},
]


@pytest.fixture
def market() -> list[Token]:
    """Tied grades and prices, unrated tokens (with and without candles), a token without a
    price, symbols that differ only in case or repeat, flags in the rating and as rows."""
    tokens = []
    grades = [50, 50, 80, 20, 50, 65, 80, 5]
    for i, grade in enumerate(grades, start=1):
        token = token_make(i, price=[1.0, 2.0, 1.0, 0.5][i % 4])
        flags = [["mintable"], [], ["thin_liquidity", "mintable"], []][i % 4]
        rating_make(
            token,
            trader=grade,
            investor=100 - grade if i % 3 else grade,
            signal=["bullish", "bearish", "neutral"][i % 3],
            risk_flags=flags,
            price_usd=None if i == 5 else token.price_usd,
            price_change_24h=None if i == 6 else float(i % 3),
        )
        for code in flags:
            RiskFlag.objects.create(
                token=token,
                code=code,
                severity="high",
                detail="test",
                detected_at=MARKET_TIME,
                checked_at=MARKET_TIME,
                active=i != 3,  # an inactive flag does not count for the code filter
            )
        tokens.append(token)
    for i in (20, 21, 22):
        token = token_make(i, price=0.25)
        if i != 22:
            candles_make(token)
        tokens.append(token)
    Token.objects.filter(pk=tokens[-1].pk).update(price_usd=None)  # no price at all: NULL columns
    lower = token_make(30, price=3.0)
    Token.objects.filter(pk=lower.pk).update(symbol="tk1b", name="lower case")
    twin = token_make(31, price=3.0)
    Token.objects.filter(pk=twin.pk).update(symbol="TK2")  # the same symbol as another token
    Token.objects.filter(pk=tokens[0].pk).update(market_updated_at=MARKET_TIME + timedelta(minutes=5))
    data_version_bump()
    return tokens


def test_every_filter_and_order_matches_the_database(market: list[Token]) -> None:
    as_of = ratings_market_time()
    index = ratings_index(as_of=as_of)
    checked = 0
    for params, sort, descending in itertools.product(FILTERS, SORT_KEYS, (True, False)):
        query = RatingsQuery(sort=sort, descending=descending, **params)  # type: ignore[arg-type]
        expected = list(ratings_rows(query=query, as_of=as_of).values_list("pk", flat=True))
        assert [int(pk) for pk in index.pk[index.positions(query)]] == expected, (params, sort, descending)
        checked += bool(expected)
    assert checked > len(SORT_KEYS) * 2 * 8  # most combinations list something


def test_watchlist_restriction_matches_the_database(market: list[Token]) -> None:
    as_of = ratings_market_time()
    ids = frozenset(token.pk for token in market[::3])
    query = RatingsQuery(sort="price", descending=False, token_ids=ids)
    expected = list(ratings_rows(query=query, as_of=as_of).values_list("pk", flat=True))
    index = ratings_index(as_of=as_of)
    assert [int(pk) for pk in index.pk[index.positions(query)]] == expected


def test_pages_show_new_grades_and_prices_without_a_restart(client: Client, market: list[Token]) -> None:
    """The in-memory columns follow the data version and the market time."""

    def first_row(params: dict[str, str]) -> str:
        return re.findall(r'<tr data-symbol="([^"]+)"', client.get("/ratings/", params).content.decode())[0]

    assert first_row({"sort": "price"}) in {"tk1b", "TK2"}  # $3.00, the highest price
    Token.objects.filter(pk=market[3].pk).update(price_usd=9.0, market_updated_at=MARKET_TIME + timedelta(hours=1))
    market[3].rating.delete()  # unrated now: its row shows the token's own (new) price
    data_version_bump()
    assert first_row({"sort": "price"}) == market[3].symbol
    assert first_row({"sort": "price", "dir": "asc"}) != market[3].symbol
