"""Quotes and builds against a real anvil: built transactions are signed, sent and measured."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chain.contracts import contract_at
from chain.models import Deployment
from swaps import services
from swaps.chain import NATIVE
from swaps.routing import candidate_paths, path_out, reserves_of
from swaps.selectors import swap_pools
from swaps.services import SwapError, swap_build, swap_quote
from tests.fixtures.market import E18
from tests.swaps.conftest import TAX_BUY_BPS, TAX_SELL_BPS, SwapMarket, balance_of, send_signed

pytestmark = [pytest.mark.chain, pytest.mark.django_db]

BUYABLE = ["ALPHA", "BETA9", "GAMMA6", "DELTA", "USDC"]


def token_address(world: SwapMarket, symbol: str) -> str:
    if symbol == "DELTA":
        return world.delta
    if symbol == "USDC":
        return world.market.usdc
    return world.market.tokens[symbol]


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    pay=st.sampled_from(["ETH", "USDC"]),
    buy=st.sampled_from(BUYABLE),
    milli=st.integers(min_value=1, max_value=2_000),
    seed=st.integers(min_value=0, max_value=10**6),
)
def test_built_swap_lands_and_pays_the_quote(swap_world: SwapMarket, pay: str, buy: str, milli: int, seed: int) -> None:
    """Random pair and amount: the signed transaction lands, pays >= minBuyAmount and the
    quoted buyAmount to the unit (nothing else trades between quote and send)."""
    m = swap_world.market
    buy_token = token_address(swap_world, buy)
    if pay == "USDC" and buy == "USDC":
        buy_token = m.tokens["ALPHA"]
    sell_token = NATIVE if pay == "ETH" else m.usdc
    amount = milli * E18 // 1000 if pay == "ETH" else milli * 10**6
    account = swap_world.funded_account(seed, usdc=amount if pay == "USDC" else 0)
    try:
        quote = swap_quote(
            chain_id=m.chain_id, sell_token=sell_token, buy_token=buy_token, sell_amount=amount, taker=account.address
        )
    except SwapError as exc:  # a big trade in a thin pool is refused by the impact limit: fine
        assert exc.code == "price_impact_too_high"
        return
    built = swap_build(quote=quote, taker=account.address, confirm_price_impact=True)
    assert int(built.transaction["value"]) == (amount if pay == "ETH" else 0)
    if built.approval:
        assert built.simulation["stateOverride"] == "allowance"
        assert int(built.approval["amount"]) == amount  # exact approval by default
        assert send_signed(m.w3, account, built.approval)["status"] == 1
    before = balance_of(m.w3, buy_token, account.address)
    receipt = send_signed(m.w3, account, built.transaction)
    assert receipt["status"] == 1
    received = balance_of(m.w3, buy_token, account.address) - before
    assert received >= quote.min_buy_amount
    assert received == built.fresh_buy_amount == quote.buy_amount
    assert receipt["gasUsed"] <= int(built.transaction["gas"])


def test_split_beats_best_single_route_on_imbalanced_pools(swap_world: SwapMarket) -> None:
    m = swap_world.market
    account = swap_world.funded_account(7)
    amount = 3 * E18
    quote = swap_quote(
        chain_id=m.chain_id, sell_token=NATIVE, buy_token=swap_world.delta, sell_amount=amount, taker=account.address
    )
    assert quote.route.kind == "split"
    assert {f.path.hops[0].pool.dex for f in quote.route.fills} == {"alphaswap", "betaswap"}
    pools = swap_pools(chain_id=m.chain_id, tokens=[m.weth, swap_world.delta], connectors=[m.weth, m.usdc])
    paths = candidate_paths(pools, m.weth, swap_world.delta, [m.weth, m.usdc])
    best_single = max(path_out(p, amount, reserves_of(pools)) for p in paths)
    assert quote.route.amount_out > best_single
    built = swap_build(quote=quote, taker=account.address)
    assert built.transaction["to"] == swap_world.executor
    before = balance_of(m.w3, swap_world.delta, account.address)
    assert send_signed(m.w3, account, built.transaction)["status"] == 1
    received = balance_of(m.w3, swap_world.delta, account.address) - before
    assert received == quote.buy_amount > best_single


def test_stale_quote_reverts_on_min_out_instead_of_filling_worse(swap_world: SwapMarket) -> None:
    m = swap_world.market
    account = swap_world.funded_account(8)
    alpha = m.tokens["ALPHA"]
    quote = swap_quote(chain_id=m.chain_id, sell_token=NATIVE, buy_token=alpha, sell_amount=E18, taker=account.address)
    built = swap_build(quote=quote, taker=account.address)
    # Someone buys ALPHA on both DEXes first: the price moves more than the 0.5% slippage.
    for dex in m.dexes:
        m.buy(m.traders[0], alpha, 5 * E18, dex)
    before = balance_of(m.w3, alpha, account.address)
    receipt = send_signed(m.w3, account, built.transaction)
    assert receipt["status"] == 0
    assert balance_of(m.w3, alpha, account.address) == before
    # Building the old quote again is refused with the reason, not built at a worse price.
    with pytest.raises(SwapError) as refused:
        swap_build(quote=quote, taker=account.address)
    assert refused.value.code == "price_moved" and refused.value.field == "quoteId"


def test_honeypot_is_refused_with_the_simulated_revert(swap_world: SwapMarket) -> None:
    m = swap_world.market
    with pytest.raises(SwapError) as refused:
        swap_quote(chain_id=m.chain_id, sell_token=NATIVE, buy_token=swap_world.honey, sell_amount=E18 // 10)
    assert refused.value.code == "token_unsellable"
    assert refused.value.field == "buyToken"
    assert "HoneypotToken: sell blocked" in refused.value.message
    assert refused.value.status == 422


def test_tax_is_detected_and_included_in_the_quote(swap_world: SwapMarket) -> None:
    m = swap_world.market
    account = swap_world.funded_account(9)
    quote = swap_quote(
        chain_id=m.chain_id, sell_token=NATIVE, buy_token=swap_world.taxed, sell_amount=E18 // 2, taker=account.address
    )
    meta = quote.as_json()["tokenMetadata"]["buyToken"]
    assert (meta["buyTaxBps"], meta["sellTaxBps"]) == (str(TAX_BUY_BPS), str(TAX_SELL_BPS))
    assert quote.buy_amount == quote.route.amount_out - quote.route.amount_out * TAX_BUY_BPS // 10_000
    built = swap_build(quote=quote, taker=account.address)
    before = balance_of(m.w3, swap_world.taxed, account.address)
    assert send_signed(m.w3, account, built.transaction)["status"] == 1
    received = balance_of(m.w3, swap_world.taxed, account.address) - before
    assert received >= quote.min_buy_amount
    assert abs(received - quote.buy_amount) <= 1
    # Selling it back: the quote accounts for the 5% sell tax and the sell lands.
    sell = swap_quote(
        chain_id=m.chain_id, sell_token=swap_world.taxed, buy_token=NATIVE, sell_amount=received, taker=account.address
    )
    built = swap_build(quote=sell, taker=account.address)
    assert built.approval is not None
    assert send_signed(m.w3, account, built.approval)["status"] == 1
    eth_before = balance_of(m.w3, NATIVE, account.address)
    receipt = send_signed(m.w3, account, built.transaction)
    assert receipt["status"] == 1
    eth_got = balance_of(m.w3, NATIVE, account.address) - eth_before + receipt["gasUsed"] * receipt["effectiveGasPrice"]
    assert eth_got >= sell.min_buy_amount


def test_price_impact_above_ten_percent_needs_confirmation(swap_world: SwapMarket) -> None:
    m = swap_world.market
    account = swap_world.funded_account(10)
    quote = swap_quote(
        chain_id=m.chain_id, sell_token=NATIVE, buy_token=swap_world.delta, sell_amount=15 * E18, taker=account.address
    )
    assert quote.price_impact_bps > 1000
    assert quote.as_json()["issues"]["priceImpact"]["level"] == "confirm"
    with pytest.raises(SwapError) as refused:
        swap_build(quote=quote, taker=account.address)
    assert refused.value.field == "confirmPriceImpact" and refused.value.status == 409
    assert swap_build(quote=quote, taker=account.address, confirm_price_impact=True).simulation["status"] == "success"


def test_unlimited_approval_only_when_asked(swap_world: SwapMarket) -> None:
    m = swap_world.market
    account = swap_world.funded_account(11, usdc=100 * 10**6)
    quote = swap_quote(
        chain_id=m.chain_id, sell_token=m.usdc, buy_token=m.tokens["ALPHA"], sell_amount=10**8, taker=account.address
    )
    assert quote.as_json()["issues"]["allowance"] == {"actual": "0", "spender": quote.spender}
    built = swap_build(quote=quote, taker=account.address, unlimited_approval=True)
    assert int(built.approval["amount"]) == 2**256 - 1
    erc20 = contract_at(m.w3, "openzeppelin:IERC20", m.usdc)
    assert send_signed(m.w3, account, built.approval)["status"] == 1
    assert erc20.functions.allowance(account.address, quote.spender).call() == 2**256 - 1


def test_build_refuses_a_taker_without_balance(swap_world: SwapMarket) -> None:
    m = swap_world.market
    account = swap_world.funded_account(12)  # ETH only, no USDC
    quote = swap_quote(
        chain_id=m.chain_id, sell_token=m.usdc, buy_token=m.tokens["ALPHA"], sell_amount=10**8, taker=account.address
    )
    assert quote.as_json()["issues"]["balance"] == {"token": m.usdc, "actual": "0", "expected": str(10**8)}
    with pytest.raises(SwapError) as refused:
        swap_build(quote=quote, taker=account.address)
    assert refused.value.field == "taker" and refused.value.code == "insufficient_balance"


def test_executor_is_deployed_and_recorded_when_missing_on_the_local_chain(swap_world: SwapMarket) -> None:
    m = swap_world.market
    Deployment.objects.filter(chain_id=m.chain_id, kind="executor").delete()
    quote = swap_quote(chain_id=m.chain_id, sell_token=NATIVE, buy_token=swap_world.delta, sell_amount=3 * E18)
    row = Deployment.objects.get(chain_id=m.chain_id, kind="executor")
    assert row.address != swap_world.executor and quote.executor == row.address
    assert len(m.w3.eth.get_code(row.address)) > 0


def test_indexed_reserves_mode_matches_latest_when_the_indexer_is_current(swap_world: SwapMarket) -> None:
    m = swap_world.market
    args = {"chain_id": m.chain_id, "sell_token": NATIVE, "buy_token": m.tokens["BETA9"], "sell_amount": E18}
    assert swap_quote(**args, reserves="indexed").buy_amount == swap_quote(**args).buy_amount
    assert services.swap_quote_get(quote_id=swap_quote(**args).id).sell_amount == E18
