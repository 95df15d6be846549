"""Token prices and pool TVL from reserves, as the walk computes them (no database, no node)."""

from __future__ import annotations

import pytest

from market.derive import NATIVE, USD, MarketState, PoolState, TokenState, pool_sides


def _market() -> MarketState:
    """USDC (6 decimals), WETH, and ALPHA (18 decimals) traded against both."""
    state = MarketState()
    state.add_token(TokenState(1, "0xusdc", 6, USD, None))
    state.add_token(TokenState(2, "0xweth", 18, NATIVE, None))
    state.add_token(TokenState(3, "0xalpha", 18, "", None))
    state.add_token(TokenState(4, "0xbeta", 18, "", None))
    pools = [
        (10, 2, 1, 100 * 10**18, 300_000 * 10**6),  # WETH/USDC: 1 WETH = 3,000 USD
        (11, 3, 2, 1_000_000 * 10**18, 10 * 10**18),  # ALPHA/WETH: 1 ALPHA = 0.00001 WETH = 0.03 USD
        (12, 3, 1, 500_000 * 10**18, 20_000 * 10**6),  # ALPHA/USDC: 1 ALPHA = 0.04 USD
        (13, 3, 4, 10**18, 10**18),  # ALPHA/BETA: no quote asset, prices nothing
    ]
    for pool_id, token0, token1, reserve0, reserve1 in pools:
        base_is_token0, quote_kind = pool_sides(state.tokens[token0], state.tokens[token1])
        state.add_pool(
            PoolState(pool_id, f"0xpool{pool_id}", token0, token1, reserve0, reserve1, base_is_token0, quote_kind)
        )
    return state


def test_a_token_is_priced_by_the_tvl_weighted_average_of_its_quoted_pools() -> None:
    state = _market()
    assert state.token_price(1) == 1.0
    assert state.token_price(2) == pytest.approx(3_000.0)
    # ALPHA/WETH: TVL 2 x 10 WETH x 3,000 = 60,000 USD at 0.03; ALPHA/USDC: TVL 40,000 USD at 0.04.
    assert state.token_price(3) == pytest.approx((0.03 * 60_000 + 0.04 * 40_000) / 100_000)
    assert state.pool_price_and_tvl(state.pools[11]) == pytest.approx((0.03, 60_000.0))
    assert state.token_liquidity(3) == pytest.approx(100_000.0)
    assert state.token_price(4) is None  # only in a pool without a quote asset


def test_prices_follow_the_reserves_after_a_sync() -> None:
    state = _market()
    before = state.token_price(3)
    state.apply_sync(state.pools[12], 250_000 * 10**18, 20_000 * 10**6)  # ALPHA/USDC price doubles to 0.08
    assert state.token_price(3) == pytest.approx((0.03 * 60_000 + 0.08 * 40_000) / 100_000)
    assert state.token_price(3) != before
    # WETH halves against USDC: ALPHA's WETH pool is worth half as much and prices it at 0.015.
    state.apply_sync(state.pools[10], 200 * 10**18, 300_000 * 10**6)
    assert state.token_price(2) == pytest.approx(1_500.0)
    assert state.token_price(3) == pytest.approx((0.015 * 30_000 + 0.08 * 40_000) / 70_000)


def test_an_empty_pool_or_an_unpriced_native_coin_prices_nothing() -> None:
    state = _market()
    state.apply_sync(state.pools[12], 0, 0)  # ALPHA/USDC drained: only the WETH pool is left
    assert state.token_price(3) == pytest.approx(0.03)
    state.apply_sync(state.pools[10], 0, 0)  # no native price any more
    assert state.token_price(2) is None
    assert state.token_price(3) is None
