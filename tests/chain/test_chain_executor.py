"""SwapExecutor: split and multi-hop routes across DEXes, min-out, deadline, no dust."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from eth_typing import ChecksumAddress
from web3 import Web3
from web3.contract import Contract
from web3.exceptions import ContractLogicError
from web3.types import Wei

from chain.contracts import contract_at, transact
from chain.deploy import create_pool_with_liquidity, deploy_erc20, deploy_swap_executor
from tests.chain.conftest import World
from tests.chain.helpers import deadline, erc20

ETH = 10**18
NATIVE = "0x0000000000000000000000000000000000000000"


@dataclass(frozen=True)
class Route:
    executor: Contract
    x: ChecksumAddress
    y: ChecksumAddress
    x_weth_a: ChecksumAddress
    x_weth_b: ChecksumAddress
    y_weth_a: ChecksumAddress


@pytest.fixture
def route(w3: Web3, world: World, deployer: ChecksumAddress) -> Route:
    """Fresh tokens X, Y; X/WETH on both DEXes at different depths, Y/WETH on DEX A."""
    x = deploy_erc20(w3, name="Token X", symbol="X", supply=10**12 * ETH, sender=deployer)
    y = deploy_erc20(w3, name="Token Y", symbol="Y", decimals=6, supply=10**15 * 10**6, sender=deployer)
    x_weth_a = create_pool_with_liquidity(
        w3,
        dex=world.dex_a,
        token_a=x,
        amount_a=1_000_000 * ETH,
        token_b=world.weth,
        amount_b=100 * ETH,
        provider=deployer,
    )
    x_weth_b = create_pool_with_liquidity(
        w3,
        dex=world.dex_b,
        token_a=x,
        amount_a=400_000 * ETH,
        token_b=world.weth,
        amount_b=41 * ETH,
        provider=deployer,
    )
    y_weth_a = create_pool_with_liquidity(
        w3,
        dex=world.dex_a,
        token_a=y,
        amount_a=3_000_000 * 10**6,
        token_b=world.weth,
        amount_b=1_000 * ETH,
        provider=deployer,
    )
    executor = contract_at(w3, "SwapExecutor", deploy_swap_executor(w3, weth=world.weth, sender=deployer))
    return Route(executor=executor, x=x, y=y, x_weth_a=x_weth_a, x_weth_b=x_weth_b, y_weth_a=y_weth_a)


def assert_executor_empty(w3: Web3, route: Route, world: World) -> None:
    for token in (route.x, route.y, world.weth):
        assert erc20(w3, token).functions.balanceOf(route.executor.address).call() == 0
    assert w3.eth.get_balance(route.executor.address) == 0


def quote(w3: Web3, router: str, amount: int, path: list[str]) -> int:
    return int(contract_at(w3, "UniswapV2Router02", router).functions.getAmountsOut(amount, path).call()[-1])


def test_split_route_to_eth_pays_sum_of_fills(
    w3: Web3, world: World, route: Route, accounts: list[ChecksumAddress]
) -> None:
    deployer, recipient = accounts[0], accounts[7]
    a_in, b_in = 6_000 * ETH, 4_000 * ETH
    predicted = quote(w3, world.dex_a.router, a_in, [route.x, world.weth]) + quote(
        w3, world.dex_b.router, b_in, [route.x, world.weth]
    )
    transact(w3, erc20(w3, route.x).functions.approve(route.executor.address, a_in + b_in), sender=deployer)
    eth_before = w3.eth.get_balance(recipient)
    x_before = erc20(w3, route.x).functions.balanceOf(deployer).call()
    fills = [([route.x_weth_a], a_in, 30), ([route.x_weth_b], b_in, 30)]
    transact(
        w3,
        route.executor.functions.execute(route.x, a_in + b_in, NATIVE, fills, predicted, recipient, deadline(w3)),
        sender=deployer,
    )
    assert w3.eth.get_balance(recipient) - eth_before == predicted
    assert x_before - erc20(w3, route.x).functions.balanceOf(deployer).call() == a_in + b_in
    assert_executor_empty(w3, route, world)


def test_multi_hop_and_eth_input(w3: Web3, world: World, route: Route, accounts: list[ChecksumAddress]) -> None:
    deployer, recipient = accounts[0], accounts[8]
    y_token = erc20(w3, route.y)

    # X -> WETH -> Y on DEX A.
    amount = 2_500 * ETH
    predicted = quote(w3, world.dex_a.router, amount, [route.x, world.weth, route.y])
    transact(w3, erc20(w3, route.x).functions.approve(route.executor.address, amount), sender=deployer)
    before = y_token.functions.balanceOf(recipient).call()
    transact(
        w3,
        route.executor.functions.execute(
            route.x,
            amount,
            route.y,
            [([route.x_weth_a, route.y_weth_a], amount, 30)],
            predicted,
            recipient,
            deadline(w3),
        ),
        sender=deployer,
    )
    assert y_token.functions.balanceOf(recipient).call() - before == predicted

    # ETH -> X split over both DEXes.
    a_in, b_in = ETH // 2, ETH // 4
    predicted = quote(w3, world.dex_a.router, a_in, [world.weth, route.x]) + quote(
        w3, world.dex_b.router, b_in, [world.weth, route.x]
    )
    before = erc20(w3, route.x).functions.balanceOf(recipient).call()
    transact(
        w3,
        route.executor.functions.execute(
            NATIVE,
            a_in + b_in,
            route.x,
            [([route.x_weth_a], a_in, 30), ([route.x_weth_b], b_in, 30)],
            0,
            recipient,
            deadline(w3),
        ),
        sender=deployer,
        value=a_in + b_in,
    )
    assert erc20(w3, route.x).functions.balanceOf(recipient).call() - before == predicted
    assert_executor_empty(w3, route, world)


def test_min_out_deadline_and_bad_routes_revert(
    w3: Web3, world: World, route: Route, accounts: list[ChecksumAddress]
) -> None:
    deployer, recipient = accounts[0], accounts[7]
    amount = 1_000 * ETH
    transact(w3, erc20(w3, route.x).functions.approve(route.executor.address, 10 * amount), sender=deployer)
    predicted = quote(w3, world.dex_a.router, amount, [route.x, world.weth])
    fills = [([route.x_weth_a], amount, 30)]
    execute = route.executor.functions.execute

    with pytest.raises(ContractLogicError, match="insufficient output"):
        transact(
            w3, execute(route.x, amount, world.weth, fills, predicted + 1, recipient, deadline(w3)), sender=deployer
        )
    past = int(w3.eth.get_block("latest")["timestamp"]) - 1
    with pytest.raises(ContractLogicError, match="expired"):
        transact(w3, execute(route.x, amount, world.weth, fills, 0, recipient, past), sender=deployer)
    with pytest.raises(ContractLogicError, match="do not sum"):
        transact(w3, execute(route.x, amount + 1, world.weth, fills, 0, recipient, deadline(w3)), sender=deployer)
    with pytest.raises(ContractLogicError, match="does not end in tokenOut"):
        transact(w3, execute(route.x, amount, route.y, fills, 0, recipient, deadline(w3)), sender=deployer)
    with pytest.raises(ContractLogicError, match="does not hold input"):
        transact(
            w3,
            execute(route.x, amount, world.weth, [([route.y_weth_a], amount, 30)], 0, recipient, deadline(w3)),
            sender=deployer,
        )
    # A fee below the pair's real 0.3% asks for too much output, which the pair refuses.
    with pytest.raises(ContractLogicError, match="UniswapV2: K"):
        transact(
            w3,
            execute(route.x, amount, world.weth, [([route.x_weth_a], amount, 10)], 0, recipient, deadline(w3)),
            sender=deployer,
        )

    # Exactly the predicted amount as min-out succeeds, output in WETH to the recipient.
    weth_before = erc20(w3, world.weth).functions.balanceOf(recipient).call()
    transact(w3, execute(route.x, amount, world.weth, fills, predicted, recipient, deadline(w3)), sender=deployer)
    assert erc20(w3, world.weth).functions.balanceOf(recipient).call() - weth_before == predicted
    assert_executor_empty(w3, route, world)


def test_executor_refuses_stray_eth(w3: Web3, world: World, route: Route, accounts: list[ChecksumAddress]) -> None:
    with pytest.raises(ContractLogicError, match="ETH not from WETH"):
        w3.eth.send_transaction({"from": accounts[0], "to": route.executor.address, "value": Wei(1)})
