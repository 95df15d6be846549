"""The HTTP API: one error shape naming the field, nothing built on bad input, throttled, documented."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from swaps.chain import NATIVE
from tests.fixtures.market import E18
from tests.swaps.conftest import SwapMarket, balance_of, send_signed

QUOTE = "/api/v1/swap/quote"
BUILD = "/api/v1/swap/build"


@pytest.fixture
def api() -> APIClient:
    return APIClient()


def assert_field_error(response, field: str, status: int = 400) -> dict:  # type: ignore[no-untyped-def, type-arg]
    assert response.status_code == status, response.content
    error = response.json()["error"]
    assert error["status"] == status
    assert field in error["fields"], error
    assert error["message"]
    assert "transaction" not in response.json()
    return error


@pytest.mark.chain
@pytest.mark.django_db
def test_quote_then_build_over_http_and_the_swap_lands(swap_world: SwapMarket, api: APIClient) -> None:
    m = swap_world.market
    account = swap_world.funded_account(21)
    alpha = m.tokens["ALPHA"]
    response = api.get(
        QUOTE, {"sellToken": "ETH", "buyToken": alpha, "sellAmount": str(E18 // 4), "taker": account.address.lower()}
    )
    assert response.status_code == 200, response.content
    quote = response.json()
    for key in ("sellToken", "buyToken", "sellAmount", "buyAmount", "minBuyAmount", "priceImpactBps", "route", "gas"):
        assert key in quote
    assert quote["sellToken"] == NATIVE and quote["taker"] == account.address
    assert quote["issues"]["allowance"] is None and quote["allowanceTarget"] is None
    assert int(quote["minBuyAmount"]) == int(quote["buyAmount"]) * 9950 // 10000
    assert sum(int(f["proportionBps"]) for f in quote["route"]["fills"] if f["from"] == NATIVE) in range(9998, 10001)
    response = api.post(BUILD, {"quoteId": quote["quoteId"], "taker": account.address}, format="json")
    assert response.status_code == 200, response.content
    built = response.json()
    assert built["recipient"] == account.address and built["deadline"] > 0
    assert built["simulation"]["status"] == "success"
    before = balance_of(m.w3, alpha, account.address)
    assert send_signed(m.w3, account, built["transaction"])["status"] == 1
    assert balance_of(m.w3, alpha, account.address) - before == int(quote["buyAmount"])


@pytest.mark.chain
@pytest.mark.django_db
@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"buyToken": "0x000000000000000000000000000000000000dEaD"}, "buyToken"),  # unknown token
        ({"sellAmount": "0"}, "sellAmount"),
        ({"sellAmount": str(2**130)}, "sellAmount"),  # absurd: no V2 pool can hold it
        ({"sellAmount": "-5"}, "sellAmount"),
        ({"sellAmount": "1.5"}, "sellAmount"),
        ({"sellAmount": "1", "buyToken": "USDC"}, "sellAmount"),  # 1 wei buys no USDC after fees
        ({"slippageBps": "0"}, "slippageBps"),
        ({"slippageBps": "501"}, "slippageBps"),
        ({"sellToken": "0xzz"}, "sellToken"),  # malformed
        ({"buyToken": "lowercase"}, "buyToken"),
        ({"taker": "0x02B8D5Ef5e8dffD753aCf2698A15405DA8DEb3AD"}, "taker"),  # bad checksum
        ({"provider": "1inch"}, "provider"),
    ],
)
def test_bad_quote_input_is_a_4xx_naming_the_field(
    swap_world: SwapMarket, api: APIClient, params: dict[str, str], field: str
) -> None:
    m = swap_world.market
    query = {"sellToken": "ETH", "buyToken": m.tokens["ALPHA"], "sellAmount": str(E18)} | params
    if params.get("buyToken") == "lowercase":
        query["buyToken"] = m.tokens["ALPHA"].lower()
    if params.get("buyToken") == "USDC":
        query["buyToken"] = m.usdc
    assert_field_error(api.get(QUOTE, query), field)


@pytest.mark.chain
@pytest.mark.django_db
def test_bad_build_input_is_a_4xx_naming_the_field(swap_world: SwapMarket, api: APIClient) -> None:
    m = swap_world.market
    poor = swap_world.funded_account(22)
    assert_field_error(api.post(BUILD, {"taker": poor.address}, format="json"), "quoteId")
    assert_field_error(api.post(BUILD, {"quoteId": "nope", "taker": poor.address}, format="json"), "quoteId")
    quote = api.get(QUOTE, {"sellToken": m.usdc, "buyToken": m.tokens["ALPHA"], "sellAmount": "1000000"}).json()
    error = assert_field_error(
        api.post(BUILD, {"quoteId": quote["quoteId"], "taker": poor.address}, format="json"), "taker"
    )
    assert error["code"] == "insufficient_balance"
    honey = {"sellToken": "ETH", "buyToken": swap_world.honey, "sellAmount": str(E18 // 10)}
    error = assert_field_error(api.post(BUILD, {"taker": poor.address, "trade": honey}, format="json"), "buyToken", 422)
    assert "cannot be sold" in error["message"]


@pytest.mark.django_db
def test_quote_is_throttled_per_client(api: APIClient, monkeypatch: pytest.MonkeyPatch) -> None:
    from django.core.cache import cache
    from rest_framework.throttling import ScopedRateThrottle

    cache.clear()
    monkeypatch.setattr(
        ScopedRateThrottle, "THROTTLE_RATES", {**ScopedRateThrottle.THROTTLE_RATES, "swap_quote": "2/min"}
    )
    codes = [api.get(QUOTE, {"sellToken": "bad"}).status_code for _ in range(3)]
    assert codes == [400, 400, 429]
    body = api.get(QUOTE).json()
    assert body["error"]["status"] == 429 and body["error"]["code"] == "throttled"
    cache.clear()


@pytest.mark.django_db
def test_openapi_schema_documents_quote_and_build(api: APIClient) -> None:
    schema = api.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    assert "/api/v1/swap/quote" in schema["paths"] and "/api/v1/swap/build" in schema["paths"]
    quote = schema["components"]["schemas"]["QuoteResponse"]["properties"]
    assert {"buyAmount", "minBuyAmount", "issues", "route", "allowanceTarget"} <= set(quote)
    docs = api.get("/api/docs/")
    assert docs.status_code == 200
    assert b"cdn" not in docs.content.lower()
