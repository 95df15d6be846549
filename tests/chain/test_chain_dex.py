"""Fresh Uniswap V2 deployments work and swap exactly as the routers predict."""

from __future__ import annotations

from eth_typing import ChecksumAddress
from web3 import Web3

from chain.contracts import contract_at, transact
from chain.deploy import (
    UNISWAP_V2_INIT_CODE_HASH,
    create_pool_with_liquidity,
    deploy_erc20,
    packaged_pair_init_code_hash,
)
from tests.chain.conftest import World
from tests.chain.helpers import deadline, erc20, gas_cost

ETH = 10**18
USDC = 10**6
MEME = 10**9


def test_packaged_pair_bytecode_matches_router_init_code_hash() -> None:
    assert packaged_pair_init_code_hash() == UNISWAP_V2_INIT_CODE_HASH


def test_pair_address_is_create2_of_fresh_factory(w3: Web3, world: World, deployer: ChecksumAddress) -> None:
    token = deploy_erc20(w3, name="Pair Check", symbol="PCK", supply=1_000 * ETH, sender=deployer)
    pair = create_pool_with_liquidity(
        w3, dex=world.dex_a, token_a=token, amount_a=100 * ETH, token_b=world.weth, amount_b=ETH, provider=deployer
    )
    assert pair == world.dex_a.pair_address(token, world.weth)
    assert pair != world.dex_b.pair_address(token, world.weth)


def test_swaps_through_each_router_move_balances_as_predicted(
    w3: Web3, world: World, accounts: list[ChecksumAddress]
) -> None:
    deployer, trader = accounts[0], accounts[1]
    usdc = deploy_erc20(w3, name="USD Coin", symbol="USDC", decimals=6, supply=10**12 * USDC, sender=deployer)
    meme = deploy_erc20(w3, name="Meme", symbol="MEME", decimals=9, supply=10**15 * MEME, sender=deployer)
    assert erc20(w3, usdc).functions.decimals().call() == 6
    assert erc20(w3, meme).functions.decimals().call() == 9

    # Different prices on the two DEXes, like real forks.
    for dex, eth_side, usdc_side in ((world.dex_a, 100, 300_000), (world.dex_b, 50, 160_000)):
        create_pool_with_liquidity(
            w3,
            dex=dex,
            token_a=world.weth,
            amount_a=eth_side * ETH,
            token_b=usdc,
            amount_b=usdc_side * USDC,
            provider=deployer,
        )
    create_pool_with_liquidity(
        w3,
        dex=world.dex_a,
        token_a=meme,
        amount_a=10**9 * MEME,
        token_b=world.weth,
        amount_b=20 * ETH,
        provider=deployer,
    )

    usdc_token = erc20(w3, usdc)
    for dex in (world.dex_a, world.dex_b):
        router = contract_at(w3, "UniswapV2Router02", dex.router)
        # ETH -> USDC
        predicted = router.functions.getAmountsOut(ETH, [world.weth, usdc]).call()
        before = usdc_token.functions.balanceOf(trader).call()
        transact(
            w3,
            router.functions.swapExactETHForTokens(predicted[-1], [world.weth, usdc], trader, deadline(w3)),
            sender=trader,
            value=ETH,
        )
        assert usdc_token.functions.balanceOf(trader).call() - before == predicted[-1]

        # USDC -> ETH, exact to the wei after gas
        amount_in = 1_000 * USDC
        predicted = router.functions.getAmountsOut(amount_in, [usdc, world.weth]).call()
        transact(w3, usdc_token.functions.approve(dex.router, amount_in), sender=trader)
        eth_before = w3.eth.get_balance(trader)
        receipt = transact(
            w3,
            router.functions.swapExactTokensForETH(amount_in, predicted[-1], [usdc, world.weth], trader, deadline(w3)),
            sender=trader,
        )
        assert w3.eth.get_balance(trader) - eth_before == predicted[-1] - gas_cost(receipt)

    # Multi-hop USDC -> WETH -> MEME on one router.
    router = contract_at(w3, "UniswapV2Router02", world.dex_a.router)
    path = [usdc, world.weth, meme]
    amount_in = 500 * USDC
    predicted = router.functions.getAmountsOut(amount_in, path).call()
    transact(w3, usdc_token.functions.approve(world.dex_a.router, amount_in), sender=trader)
    meme_before = erc20(w3, meme).functions.balanceOf(trader).call()
    usdc_before = usdc_token.functions.balanceOf(trader).call()
    transact(w3, router.functions.swapExactTokensForTokens(amount_in, 0, path, trader, deadline(w3)), sender=trader)
    assert erc20(w3, meme).functions.balanceOf(trader).call() - meme_before == predicted[-1]
    assert usdc_before - usdc_token.functions.balanceOf(trader).call() == amount_in
