"""A small real market on its own anvil, for indexer tests.

Each test module gets a fresh node (reorg tests revert its state), built with the same
deploy helpers the simulator uses, and traded by a handful of accounts through the real
routers. Nothing here is mocked: the indexer reads it over JSON-RPC.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from eth_typing import ChecksumAddress
from web3 import Web3

from chain.contracts import connect, contract_at, deploy_contract, transact
from chain.deploy import Dex, create_pool_with_liquidity, deploy_dex, deploy_erc20, deploy_weth
from chain.node import AnvilProcess, free_port, start_anvil
from chain.registry import DeploymentSpec, deployments_record
from tests.chain.conftest import require_chain_tooling

ROUTER = "v2-periphery:UniswapV2Router02"
ERC20 = "openzeppelin:IERC20"
E18 = 10**18


@dataclass
class MiniMarket:
    w3: Web3
    url: str
    chain_id: int
    deployer: ChecksumAddress
    traders: list[ChecksumAddress]
    weth: ChecksumAddress
    usdc: ChecksumAddress
    dexes: list[Dex]
    tokens: dict[str, ChecksumAddress]  # symbol -> address
    pools: list[ChecksumAddress] = field(default_factory=list)
    rng: random.Random = field(default_factory=lambda: random.Random(11))

    def specs(self) -> list[DeploymentSpec]:
        specs = [
            DeploymentSpec("weth", "weth", self.weth, 0),
            DeploymentSpec("token:USDC", "stablecoin", self.usdc, 0, {"decimals": 6}),
        ]
        for dex in self.dexes:
            specs.append(
                DeploymentSpec(
                    f"dex:{dex.name}:factory",
                    "dex_factory",
                    dex.factory,
                    0,
                    {"dex": dex.name, "router": dex.router, "fee_bps": 30},
                )
            )
        return specs

    def deadline(self) -> int:
        return self.w3.eth.get_block("latest")["timestamp"] + 3600

    def buy(self, trader: str, token: str, eth_wei: int, dex: Dex | None = None) -> None:
        dex = dex or self.dexes[0]
        router = contract_at(self.w3, ROUTER, dex.router)
        transact(
            self.w3,
            router.functions.swapExactETHForTokens(0, [self.weth, token], trader, self.deadline()),
            sender=trader,
            value=eth_wei,
        )

    def sell(self, trader: str, token: str, amount: int, dex: Dex | None = None) -> None:
        dex = dex or self.dexes[0]
        router = contract_at(self.w3, ROUTER, dex.router)
        transact(self.w3, contract_at(self.w3, ERC20, token).functions.approve(dex.router, amount), sender=trader)
        transact(
            self.w3,
            router.functions.swapExactTokensForETH(amount, 0, [token, self.weth], trader, self.deadline()),
            sender=trader,
        )

    def buy_with_usdc(self, trader: str, token: str, usdc_amount: int) -> None:
        router = contract_at(self.w3, ROUTER, self.dexes[0].router)
        transact(
            self.w3,
            contract_at(self.w3, ERC20, self.usdc).functions.approve(router.address, usdc_amount),
            sender=trader,
        )
        transact(
            self.w3,
            router.functions.swapExactTokensForTokens(usdc_amount, 0, [self.usdc, token], trader, self.deadline()),
            sender=trader,
        )

    def send(self, token: str, sender: str, to: str, amount: int) -> None:
        transact(self.w3, contract_at(self.w3, ERC20, token).functions.transfer(to, amount), sender=sender)

    def balance(self, token: str, holder: str, block: int | str = "latest") -> int:
        return contract_at(self.w3, ERC20, token).functions.balanceOf(holder).call(block_identifier=block)

    def random_activity(self, rounds: int) -> None:
        """Buys, sells and wallet transfers by the traders across tokens and both DEXes."""
        symbols = ["ALPHA", "BETA9", "GAMMA6"]
        for _ in range(rounds):
            trader = self.rng.choice(self.traders)
            symbol = self.rng.choice(symbols)
            token = self.tokens[symbol]
            action = self.rng.random()
            dex = self.rng.choice(self.dexes)
            if action < 0.45:
                self.buy(trader, token, self.rng.randint(1, 30) * E18 // 100, dex)
            elif action < 0.8:
                held = self.balance(token, trader)
                if held:
                    self.sell(trader, token, held * self.rng.randint(10, 60) // 100, dex)
            else:
                held = self.balance(token, trader)
                if held:
                    self.send(token, trader, self.rng.choice(self.traders), held // 3)


def build_mini_market(w3: Web3, url: str) -> MiniMarket:
    accounts = list(w3.eth.accounts)
    deployer, traders = accounts[0], accounts[1:8]
    weth = deploy_weth(w3, sender=deployer)
    dexes = [deploy_dex(w3, weth=weth, sender=deployer, name=name) for name in ("alphaswap", "betaswap")]
    usdc = deploy_erc20(w3, name="USD Coin", symbol="USDC", supply=50_000_000 * 10**6, decimals=6, sender=deployer)
    tokens = {
        "ALPHA": deploy_erc20(w3, name="Alpha", symbol="ALPHA", supply=1_000_000 * E18, sender=deployer),
        "BETA9": deploy_erc20(w3, name="Beta", symbol="BETA9", supply=5_000_000 * 10**9, decimals=9, sender=deployer),
        "GAMMA6": deploy_erc20(
            w3, name="Gamma", symbol="GAMMA6", supply=2_000_000 * 10**6, decimals=6, sender=deployer
        ),
    }
    tokens["MKR32"] = deploy_contract(
        w3,
        "Bytes32MetadataToken",
        b"Maker32".ljust(32, b"\0"),
        b"MKR32".ljust(32, b"\0"),
        1_000_000 * E18,
        sender=deployer,
    ).address
    tokens["REVERT"] = deploy_contract(w3, "RevertingToken", "REVERT", 1_000_000 * E18, sender=deployer).address
    market = MiniMarket(w3, url, w3.eth.chain_id, deployer, traders, weth, usdc, dexes, tokens)
    # Distribute some tokens before any pool exists: the indexer must backfill these.
    for trader in traders[:3]:
        market.send(tokens["ALPHA"], deployer, trader, 1_000 * E18)
    create = create_pool_with_liquidity
    market.pools.append(
        create(
            w3,
            dex=dexes[0],
            token_a=weth,
            amount_a=100 * E18,
            token_b=usdc,
            amount_b=300_000 * 10**6,
            provider=deployer,
        )
    )
    market.pools.append(
        create(
            w3, dex=dexes[1], token_a=weth, amount_a=20 * E18, token_b=usdc, amount_b=61_000 * 10**6, provider=deployer
        )
    )
    for symbol, amount in (("ALPHA", 200_000 * E18), ("BETA9", 1_000_000 * 10**9), ("GAMMA6", 400_000 * 10**6)):
        for dex, eth in zip(dexes, (50, 10), strict=True):
            market.pools.append(
                create(
                    w3,
                    dex=dex,
                    token_a=weth,
                    amount_a=eth * E18,
                    token_b=tokens[symbol],
                    amount_b=amount * eth // 60,
                    provider=deployer,
                )
            )
    market.pools.append(
        create(
            w3,
            dex=dexes[0],
            token_a=usdc,
            amount_a=100_000 * 10**6,
            token_b=tokens["ALPHA"],
            amount_b=30_000 * E18,
            provider=deployer,
        )
    )
    tokens["ODD"] = deploy_contract(w3, "OddLogToken", 1_000_000 * E18, sender=deployer).address
    for symbol in ("MKR32", "REVERT", "ODD"):
        market.pools.append(
            create(
                w3,
                dex=dexes[0],
                token_a=weth,
                amount_a=5 * E18,
                token_b=tokens[symbol],
                amount_b=10_000 * E18,
                provider=deployer,
            )
        )
    transact(
        w3, contract_at(w3, "OddLogToken", tokens["ODD"]).functions.emitNftStyleTransfer(traders[0], 7), sender=deployer
    )
    for trader in traders:
        transact(w3, contract_at(w3, ERC20, usdc).functions.transfer(trader, 20_000 * 10**6), sender=deployer)
    return market


@pytest.fixture(scope="module")
def market_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AnvilProcess]:
    require_chain_tooling()
    node = start_anvil(port=free_port(), log_path=tmp_path_factory.mktemp("anvil") / "anvil.log")
    try:
        yield node
    finally:
        node.stop()


@pytest.fixture(scope="module")
def mini_market(market_node: AnvilProcess) -> MiniMarket:
    w3 = connect(market_node.url)
    market = build_mini_market(w3, market_node.url)
    market.random_activity(40)
    for trader in market.traders[:3]:
        market.buy(trader, market.usdc, E18 // 2)  # WETH/USDC trades move the ETH price
        market.buy_with_usdc(trader, market.tokens["ALPHA"], 500 * 10**6)  # a stablecoin-quoted pool
    return market


@pytest.fixture
def registered_market(mini_market: MiniMarket, db, settings) -> MiniMarket:  # type: ignore[no-untyped-def]
    """The mini market with its DEXes and quote assets in the deployment registry."""
    deployments_record(chain_id=mini_market.chain_id, records=mini_market.specs(), replace=True)
    settings.WEB3_PROVIDER_URI = mini_market.url
    return mini_market


def wait_for(predicate, timeout: float = 30.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False
