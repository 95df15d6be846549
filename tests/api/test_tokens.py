"""Token list filters, ordering and cursor pages; per-token endpoints; formats; query counts."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from market.models import Token
from ratings.models import TokenRating
from tests.api.conftest import CHAIN, NOW, Market, address, rating_make, token_make
from tmsite.api.renderers import render_json
from tmsite.api.serializers import TokenDetailSerializer, TokenSerializer

TOKENS = "/api/v1/tokens/"


def symbols(answer) -> list[str]:
    assert answer.status_code == 200, answer.content
    return [row["symbol"] for row in answer.json()["data"]]


def test_default_order_is_best_trader_grade_first(market: Market, api: APIClient) -> None:
    body = api.get(TOKENS).json()
    assert [row["symbol"] for row in body["data"]] == ["ALPHA", "BETA", "GAMMA", "DELTA", "RUG"]
    alpha = body["data"][0]
    assert alpha["address"] == market.tokens["ALPHA"].address
    assert alpha["total_supply"] == str(1_000_000 * 10**18)  # uint256 as a string
    assert alpha["computed_at"] == "2026-01-10T12:00:00Z"  # ISO-8601 UTC
    assert alpha["trader_grade"] == 81.0 and alpha["signal"] == "bullish"
    assert body["meta"] == {"next": None, "previous": None, "page_size": 50}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"trader_grade_min": 50}, ["ALPHA", "BETA", "GAMMA"]),
        ({"trader_grade_min": 30, "trader_grade_max": 66}, ["BETA", "GAMMA", "DELTA"]),
        ({"investor_grade_min": 55}, ["ALPHA", "BETA"]),
        ({"overall_grade_max": 40.5}, ["DELTA", "RUG"]),
        ({"market_cap_min": 100_000, "market_cap_max": 1_000_000}, ["BETA", "DELTA"]),
        ({"signal": "bearish"}, ["DELTA", "RUG"]),
        ({"risk_flag": "thin_liquidity"}, ["GAMMA", "RUG"]),
        ({"risk_flag": "mintable"}, []),  # inactive flags do not count
        ({"search": "gam"}, ["GAMMA"]),
        ({"search": "delta token"}, ["DELTA"]),
        ({"ordering": "investor_grade"}, ["RUG", "DELTA", "GAMMA", "ALPHA", "BETA"]),
        ({"ordering": "-market_cap"}, ["ALPHA", "BETA", "DELTA", "RUG", "GAMMA"]),  # unknown cap last
        ({"ordering": "-liquidity", "signal": "bullish"}, ["BETA", "ALPHA"]),
    ],
)
def test_filters_and_ordering(market: Market, api: APIClient, query: dict, expected: list[str]) -> None:
    assert symbols(api.get(TOKENS, query)) == expected


def test_search_by_address_any_case(market: Market, api: APIClient) -> None:
    assert symbols(api.get(TOKENS, {"search": market.tokens["BETA"].address.lower()})) == ["BETA"]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"trader_grade_min": "abc"}, "trader_grade_min"),
        ({"trader_grade_max": 101}, "trader_grade_max"),
        ({"market_cap_min": -1}, "market_cap_min"),
        ({"signal": "moon"}, "signal"),
        ({"risk_flag": "scam"}, "risk_flag"),
        ({"ordering": "-price"}, "ordering"),
        ({"chain_id": "x"}, "chain_id"),
    ],
)
def test_invalid_filter_is_400_naming_the_field(market: Market, api: APIClient, query: dict, field: str) -> None:
    answer = api.get(TOKENS, query)
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["code"] == "invalid" and list(error["fields"]) == [field]


def test_cursor_pages_are_stable_under_inserts(market: Market, api: APIClient) -> None:
    first = api.get(TOKENS, {"page_size": 2}).json()
    assert [r["symbol"] for r in first["data"]] == ["ALPHA", "BETA"]
    # new tokens land while the client pages: one above the cursor, one tied with it, one below
    for n, (symbol, grade) in enumerate([("TOP", 99.0), ("TIE", 66.0), ("LOW", 1.0)], start=50):
        rating_make(token_make(symbol, n, price_usd=1.0), grade, 50.0, "neutral", None, [])
    seen = [r["symbol"] for r in first["data"]]
    url = first["meta"]["next"]
    while url:
        page = api.get(url).json()
        seen += [r["symbol"] for r in page["data"]]
        url = page["meta"]["next"]
    assert "TOP" not in seen  # above the cursor: not replayed into later pages
    assert len(seen) == len(set(seen))  # nothing twice
    assert {"GAMMA", "DELTA", "RUG", "LOW"} <= set(seen)  # nothing skipped
    back = api.get(api.get(first["meta"]["next"]).json()["meta"]["previous"]).json()
    assert [r["symbol"] for r in back["data"]][-1] == "BETA"


def test_page_size_is_bounded(market: Market, api: APIClient) -> None:
    for n in range(210):
        token = token_make(f"T{n}", 1000 + n, price_usd=1.0)
        rating_make(token, 20.0, 20.0, "neutral", None, [])
    assert len(api.get(TOKENS, {"page_size": 10_000}).json()["data"]) == 200


def test_token_list_query_count(market: Market, api: APIClient) -> None:
    api.get(TOKENS)  # the key is read (and its last_used_at written) on first use, then remembered
    with CaptureQueriesContext(connection) as queries:
        assert api.get(TOKENS, {"signal": "bullish", "page_size": 1}).status_code == 200
    # one page of tokens joined with their ratings
    assert len(queries) == 1, [q["sql"] for q in queries]


def test_token_detail_by_chain_and_address(market: Market, api: APIClient) -> None:
    alpha = market.tokens["ALPHA"]
    body = api.get(f"/api/v1/tokens/{CHAIN}/{alpha.address.lower()}/").json()
    assert body["data"]["address"] == alpha.address and body["data"]["symbol"] == "ALPHA"
    assert "top_contributions" in body["data"]
    quote = api.get(market.url("WETH")).json()["data"]  # unrated tokens still have a page
    assert quote["symbol"] == "WETH" and quote["trader_grade"] is None
    assert api.get(f"/api/v1/tokens/{CHAIN}/{address(0xDEAD000001)}/").status_code == 404
    assert api.get(f"/api/v1/tokens/1/{alpha.address}/").status_code == 404
    bad = api.get(f"/api/v1/tokens/{CHAIN}/0x123/")
    assert bad.status_code == 400 and list(bad.json()["error"]["fields"]) == ["address"]


def test_list_and_detail_match_their_serializers(market: Market, api: APIClient) -> None:
    """The hot answers are built from values() rows, byte for byte what the documented
    serializers give (nulls of unrated tokens, times, uint256 strings, checksums)."""
    TokenRating.objects.filter(token=market.tokens["BETA"]).update(
        price_change_24h=None, computed_at=NOW.replace(microsecond=123_456), top_contributions=[{"name": "x"}]
    )
    listed = api.get(TOKENS, {"page_size": 200}).json()["data"]
    tokens = Token.objects.select_related("rating").filter(rating__isnull=False)
    by_address = {token.address: TokenSerializer(token).data for token in tokens}
    assert [render_json(row) for row in listed] == [render_json(by_address[row["address"]]) for row in listed]
    for token in [*market.tokens.values(), market.quote]:
        token = Token.objects.select_related("rating").get(pk=token.pk)
        detail = api.get(f"/api/v1/tokens/{CHAIN}/{token.address}/").content
        assert detail == render_json({"data": TokenDetailSerializer(token).data, "meta": {}})


def test_grades_current_and_history(market: Market, api: APIClient) -> None:
    grades = api.get(market.url("ALPHA", "grades/")).json()["data"]
    assert (grades["trader_grade"], grades["investor_grade"], grades["overall_grade"]) == (81.0, 60.0, 70.5)
    assert api.get(market.url("WETH", "grades/")).status_code == 404
    history = api.get(market.url("ALPHA", "grades/history/"), {"page_size": 5}).json()
    assert [row["at"] for row in history["data"]][:2] == ["2026-01-10T12:00:00Z", "2026-01-10T11:00:00Z"]
    assert history["data"][0]["trader_grade"] == 50
    assert history["meta"]["next"]
    assert api.get(market.url("ALPHA", "grades/history/"), {"interval": "5m"}).status_code == 400


def test_signals_with_signal_and_holding_returns(market: Market, api: APIClient) -> None:
    body = api.get(market.url("ALPHA", "signals/")).json()
    rows = body["data"]
    assert [r["signal"] for r in rows] == ["bullish", "bearish", "bullish"]
    assert [r["signal_value"] for r in rows] == [1, -1, 1]
    current, bearish, first = rows
    assert current["end_price_usd"] == 2.0 and current["holding_return"] == 0.0
    assert bearish["end_price_usd"] == 2.0 and bearish["holding_return"] == pytest.approx(-0.2)
    assert bearish["signal_return"] == pytest.approx(0.2)
    assert first["holding_return"] == pytest.approx(1.5) and first["signal_return"] == pytest.approx(1.5)
    returns = body["meta"]["returns"]
    assert returns["signal_return"] == pytest.approx(2.5 * 1.2 * 1.0 - 1)
    assert returns["holding_return"] == pytest.approx(1.0)
    assert returns["since"] == "2026-01-09T16:00:00Z"


def test_hourly_and_daily_ohlcv(market: Market, api: APIClient) -> None:
    hourly = api.get(market.url("ALPHA", "ohlcv/hourly/"), {"page_size": 24}).json()
    assert len(hourly["data"]) == 24 and hourly["data"][0]["time"] == "2026-01-10T12:00:00Z"
    assert set(hourly["data"][0]) == {
        "time",
        "open",
        "high",
        "low",
        "close",
        "volume",
        "volume_usd",
        "buy_volume_usd",
        "trades",
    }
    window = api.get(
        market.url("ALPHA", "ohlcv/hourly/"), {"start": "2026-01-10T10:00:00Z", "end": "2026-01-10T12:00:00Z"}
    ).json()
    assert [c["time"] for c in window["data"]] == ["2026-01-10T11:00:00Z", "2026-01-10T10:00:00Z"]
    daily = api.get(market.url("ALPHA", "ohlcv/daily/")).json()["data"]
    assert len(daily) == 3 and daily[0]["trades"] == 70
    bad = api.get(market.url("ALPHA", "ohlcv/daily/"), {"start": "yesterday"})
    assert bad.status_code == 400 and list(bad.json()["error"]["fields"]) == ["start"]


def test_data_points_holders_whales_anomalies_risk_flags(market: Market, api: APIClient) -> None:
    points = api.get(market.url("ALPHA", "data-points/")).json()["data"]
    assert [(p["name"], p["value"]) for p in points] == [("ret_1h", 0.01), ("ret_4h", None)]
    holders = api.get(market.url("ALPHA", "holders/"), {"limit": 2}).json()
    assert [h["share_of_supply"] for h in holders["data"]] == [0.6, 0.3]
    assert holders["data"][0]["balance"] == str(600_000 * 10**18)
    assert api.get(market.url("ALPHA", "holders/"), {"limit": 1000}).status_code == 400
    whales = api.get(market.url("ALPHA", "whale-transfers/")).json()["data"]
    assert [w["log_index"] for w in whales] == [0, 2]
    assert whales[1]["value"] == str(2**200 + 2)  # beyond 64 bits, exact
    assert whales[0]["from_address"] == address(0xA11CE00001)  # checksummed on the way out
    anomalies = api.get(market.url("ALPHA", "anomalies/")).json()["data"]
    assert anomalies == [{"at": "2026-01-10T10:00:00Z", "kind": "volume_spike", "score": 9.5, "reason": "volume 9x"}]
    assert api.get(market.url("RUG", "risk-flags/")).json()["data"][0]["code"] == "honeypot"
    assert api.get(market.url("ALPHA", "risk-flags/")).json()["data"] == []
    inactive = api.get(market.url("ALPHA", "risk-flags/"), {"include_inactive": "true"}).json()["data"]
    assert [(f["code"], f["active"]) for f in inactive] == [("mintable", False)]


def test_market_overview(market: Market, api: APIClient) -> None:
    data = api.get("/api/v1/market/overview/").json()["data"]
    assert data["tokens_rated"] == 5
    assert data["bullish_share"] == pytest.approx(0.4) and data["bearish_share"] == pytest.approx(0.4)
    assert data["total_liquidity_usd"] == 240_000.0
    assert data["total_liquidity_usd_24h_ago"] == 200_000.0
    assert data["total_liquidity_change_24h"] == pytest.approx(0.2)
    assert data["as_of"] == "2026-01-10T12:00:00Z"
    assert api.get("/api/v1/market/overview/", {"chain_id": 0}).status_code == 400


def test_time_series_query_counts(market: Market, api: APIClient) -> None:
    api.get(TOKENS)  # the key is read from the database once, then remembered
    expected = {
        # token (rating joined); one page
        "ohlcv/hourly/": 2,
        "grades/history/": 2,
        "whale-transfers/": 2,
        "anomalies/": 2,
        # token; the page of flips (next flip's price as a subquery); all flips for meta.returns
        "signals/": 3,
    }
    for suffix, count in expected.items():
        with CaptureQueriesContext(connection) as queries:
            assert api.get(market.url("ALPHA", suffix)).status_code == 200
        assert len(queries) == count, (suffix, [q["sql"] for q in queries])


def test_rated_token_without_history(market: Market, api: APIClient) -> None:
    beta = market.tokens["BETA"]
    assert api.get(market.url("BETA", "signals/")).json()["meta"]["returns"]["signal_return"] is None
    assert api.get(market.url("BETA", "ohlcv/daily/")).json()["data"] == []
    TokenRating.objects.filter(token=beta).update(as_of=NOW - timedelta(days=1))
    assert Token.objects.filter(pk=beta.pk).exists()


def test_compiled_list_rows_are_djangos_rows(market: Market) -> None:
    """The token list's SQL is compiled once per order and page (tmsite.api.compiled): what
    it reads must be exactly what Django's own values() query reads, first run and again."""
    from tmsite.api import selectors

    for ordering in ("-trader_grade", "market_cap", "-price_change_24h"):
        for _ in range(2):  # the second run takes the kept SQL
            ordered = selectors.tokens_rated_rows(ordering=ordering).order_by("-sort_key", "-id")
            page = list(ordered[1:4])
            plain = ordered._chain()  # a clone: the shape is dropped, Django compiles it
            assert plain._shape is None and page == list(plain[1:4]) and len(page) == 3
    bullish = selectors.tokens_rated_rows().filter(rating__signal="bullish").order_by("-sort_key", "-id")
    assert [row["symbol"] for row in bullish[:10]] == ["ALPHA", "BETA"]  # a filter is compiled as usual
