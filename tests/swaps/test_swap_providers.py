"""The 0x Swap API v2 adapter, against a stand-in server on 127.0.0.1 answering in 0x's
documented shape (AllowanceHolder ``/price`` and ``/quote``). The transaction the stand-in
returns is a real router call on the test chain, so the adapter's simulation is real too."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
from rest_framework.test import APIClient

from swaps.chain import NATIVE, encode_call
from tests.fixtures.market import E18
from tests.swaps.conftest import SwapMarket, balance_of, send_signed

pytestmark = [pytest.mark.chain, pytest.mark.django_db]

ROUTER_ETH_IN = "swapExactETHForTokens(uint256,address[],address,uint256)"


class StandIn:
    """Serves 0x v2 responses; ``minBuyAmount`` is what the router call enforces."""

    def __init__(self, world: SwapMarket) -> None:
        self.world = world
        self.requests: list[tuple[str, dict[str, list[str]], dict[str, str]]] = []
        self.min_buy_override: int | None = None

    def answer(self, path: str, query: dict[str, list[str]]) -> dict[str, Any]:
        m = self.world.market
        sell_amount = int(query["sellAmount"][0])
        buy_token = query["buyToken"][0]
        router = m.dexes[0].router
        amounts = (
            m.w3.eth.contract(address=router, abi=_router_abi())
            .functions.getAmountsOut(sell_amount, [m.weth, buy_token])
            .call()
        )
        buy_amount = int(amounts[-1])
        min_buy = buy_amount * (10_000 - int(query["slippageBps"][0])) // 10_000
        if self.min_buy_override is not None:
            min_buy = self.min_buy_override
        body: dict[str, Any] = {
            "allowanceTarget": None,
            "blockNumber": str(m.w3.eth.block_number),
            "buyAmount": str(buy_amount),
            "buyToken": buy_token.lower(),
            "fees": {"integratorFee": None, "zeroExFee": None, "gasFee": None},
            "gas": "160000",
            "gasPrice": str(m.w3.eth.gas_price),
            "issues": {"allowance": None, "balance": None, "simulationIncomplete": False, "invalidSourcesPassed": []},
            "liquidityAvailable": True,
            "minBuyAmount": str(min_buy),
            "route": {
                "fills": [
                    {"from": NATIVE.lower(), "to": buy_token.lower(), "source": "Uniswap_V2", "proportionBps": "10000"}
                ],
                "tokens": [
                    {"address": NATIVE.lower(), "symbol": "ETH"},
                    {"address": buy_token.lower(), "symbol": "ALPHA"},
                ],
            },
            "sellAmount": str(sell_amount),
            "sellToken": query["sellToken"][0].lower(),
            "tokenMetadata": {
                "buyToken": {"buyTaxBps": "0", "sellTaxBps": "0"},
                "sellToken": {"buyTaxBps": "0", "sellTaxBps": "0"},
            },
            "totalNetworkFee": str(160000 * m.w3.eth.gas_price),
            "zid": "0x" + "ab" * 12,
        }
        if path.endswith("/quote"):
            taker = query["taker"][0]
            deadline = m.w3.eth.get_block("latest")["timestamp"] + 600
            body["transaction"] = {
                "to": router.lower(),
                "data": encode_call(ROUTER_ETH_IN, [min_buy, [m.weth, buy_token], taker, deadline]),
                "gas": "200000",
                "gasPrice": str(m.w3.eth.gas_price),
                "value": str(sell_amount),
            }
        return body


def _router_abi() -> list[dict[str, Any]]:
    from chain.contracts import load_artifact

    return load_artifact("v2-periphery:UniswapV2Router02").abi


@pytest.fixture
def zero_ex(swap_world: SwapMarket, settings) -> Iterator[StandIn]:  # type: ignore[no-untyped-def]
    stand_in = StandIn(swap_world)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            url = urlparse(self.path)
            query = parse_qs(url.query)
            stand_in.requests.append((url.path, query, dict(self.headers)))
            payload = json.dumps(stand_in.answer(url.path, query)).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    settings.SWAP_PROVIDERS = ["local", "0x"]
    settings.ZEROEX_API_URL = f"http://127.0.0.1:{server.server_address[1]}"
    settings.ZEROEX_API_KEY = "test-key"
    try:
        yield stand_in
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_zero_ex_quote_is_mapped_onto_our_shape(zero_ex: StandIn) -> None:
    m = zero_ex.world.market
    alpha = m.tokens["ALPHA"]
    response = APIClient().get(
        "/api/v1/swap/quote", {"sellToken": "ETH", "buyToken": alpha, "sellAmount": str(E18), "provider": "0x"}
    )
    assert response.status_code == 200, response.content
    quote = response.json()
    assert quote["provider"] == "0x"
    assert quote["buyToken"] == alpha and quote["sellToken"] == NATIVE  # checksummed again
    assert int(quote["minBuyAmount"]) == int(quote["buyAmount"]) * 9950 // 10000
    assert quote["route"]["fills"][0]["source"] == "Uniswap_V2"
    assert quote["route"]["fills"][0]["proportionBps"] == "10000"
    path, query, headers = zero_ex.requests[-1]
    assert path == "/swap/allowance-holder/price"
    assert query["chainId"] == [str(m.chain_id)] and query["slippageBps"] == ["50"]
    assert headers["0x-version"] == "v2" and headers["0x-api-key"] == "test-key"


def test_zero_ex_build_is_simulated_before_it_is_returned(zero_ex: StandIn) -> None:
    m = zero_ex.world.market
    account = zero_ex.world.funded_account(31)
    alpha = m.tokens["ALPHA"]
    trade = {"sellToken": "ETH", "buyToken": alpha, "sellAmount": str(E18 // 2), "provider": "0x"}
    response = APIClient().post("/api/v1/swap/build", {"taker": account.address, "trade": trade}, format="json")
    assert response.status_code == 200, response.content
    built = response.json()
    assert built["simulation"]["status"] == "success"
    assert zero_ex.requests[-1][0] == "/swap/allowance-holder/quote"
    before = balance_of(m.w3, alpha, account.address)
    assert send_signed(m.w3, account, built["transaction"])["status"] == 1
    assert balance_of(m.w3, alpha, account.address) - before == int(built["buyAmount"])

    # An aggregator transaction that would revert (min-out above what it pays) is refused.
    zero_ex.min_buy_override = 10**40
    response = APIClient().post("/api/v1/swap/build", {"taker": account.address, "trade": trade}, format="json")
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "simulation_reverted"
