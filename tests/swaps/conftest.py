"""A swap market on a real anvil: the shared mini market plus the tokens swaps must handle.

On top of ``mini_market`` (WETH, USDC, two Uniswap V2 DEXes, tokens with pools on both):

* ``HONEY``, a HoneypotToken with a WETH pool: buys work, sells into the pair revert;
* ``TAXED``, a TaxToken (3% buy, 5% sell) with a WETH pool;
* ``DELTA``, with equally deep WETH pools on both DEXes at prices 4% apart, so a large buy
  pays more split across both than through either.

Each test gets the registry recorded, the chain indexed into its database and the swap
caches cleared; traders are fresh keys that sign locally (nothing is unlocked on the node).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import Web3

from chain.contracts import contract_at, deploy_contract, transact, wait_for_receipt
from chain.deploy import create_pool_with_liquidity, deploy_erc20, deploy_swap_executor
from chain.registry import DeploymentSpec, deployments_record
from tests.fixtures.market import E18, ERC20, MiniMarket

TAX_BUY_BPS = 300
TAX_SELL_BPS = 500


@dataclass
class SwapMarket:
    market: MiniMarket
    executor: str
    honey: str
    taxed: str
    delta: str

    @property
    def w3(self) -> Web3:
        return self.market.w3

    def specs(self) -> list[DeploymentSpec]:
        return [
            *self.market.specs(),
            DeploymentSpec("executor", "executor", self.executor, 0, {"weth": self.market.weth}),
        ]

    def funded_account(self, seed: int, *, eth: int = 100 * E18, usdc: int = 0) -> LocalAccount:
        """A fresh key with ``eth`` wei and ``usdc`` base units; it signs its own transactions."""
        account: LocalAccount = Account.from_key(Web3.keccak(text=f"swap-test-trader-{seed}"))
        self.w3.provider.make_request("anvil_setBalance", [account.address, hex(eth)])  # type: ignore[arg-type]
        if usdc:
            self.market.send(self.market.usdc, self.market.deployer, account.address, usdc)
        return account


def build_swap_market(market: MiniMarket) -> SwapMarket:
    w3, deployer, weth = market.w3, market.deployer, market.weth
    dex_a, dex_b = market.dexes
    executor = deploy_swap_executor(w3, weth=weth, sender=deployer)
    honey = deploy_contract(w3, "HoneypotToken", "Honey", "HONEY", 1_000_000 * E18, sender=deployer)
    pair = create_pool_with_liquidity(
        w3, dex=dex_a, token_a=weth, amount_a=20 * E18, token_b=honey.address, amount_b=200_000 * E18, provider=deployer
    )
    transact(w3, honey.functions.setPair(pair, True), sender=deployer)
    taxed = deploy_contract(
        w3, "TaxToken", "Taxed", "TAXED", 1_000_000 * E18, deployer, TAX_BUY_BPS, TAX_SELL_BPS, sender=deployer
    )
    # The treasury is the deployer here, so it is exempt; traders are not.
    pair = create_pool_with_liquidity(
        w3, dex=dex_a, token_a=weth, amount_a=30 * E18, token_b=taxed.address, amount_b=300_000 * E18, provider=deployer
    )
    transact(w3, taxed.functions.setPair(pair, True), sender=deployer)
    delta = deploy_erc20(w3, name="Delta", symbol="DELTA", supply=10_000_000 * E18, sender=deployer)
    create_pool_with_liquidity(
        w3, dex=dex_a, token_a=weth, amount_a=40 * E18, token_b=delta, amount_b=400_000 * E18, provider=deployer
    )
    create_pool_with_liquidity(
        w3, dex=dex_b, token_a=weth, amount_a=40 * E18, token_b=delta, amount_b=416_000 * E18, provider=deployer
    )
    return SwapMarket(market=market, executor=executor, honey=honey.address, taxed=taxed.address, delta=delta)


@pytest.fixture(scope="module")
def swap_market(mini_market: MiniMarket) -> SwapMarket:
    return build_swap_market(mini_market)


@pytest.fixture
def swap_world(swap_market: SwapMarket, db, settings) -> Iterator[SwapMarket]:  # type: ignore[no-untyped-def]
    """Registry recorded, chain indexed to head, node URL set, caches empty."""
    from django.core.cache import cache

    from market.services import chain_index_to_head, rpc_client

    m = swap_market.market
    cache.clear()
    deployments_record(chain_id=m.chain_id, records=swap_market.specs(), replace=True)
    settings.WEB3_PROVIDER_URI = m.url
    settings.CHAIN_ID = m.chain_id
    chain_index_to_head(chain_id=m.chain_id, rpc=rpc_client(m.url))
    yield swap_market
    cache.clear()


def send_signed(w3: Web3, account: LocalAccount, tx: dict[str, str]) -> dict:  # type: ignore[type-arg]
    """Sign ``tx`` (the API's strings) with ``account`` and send it; returns the receipt
    whatever its status (a revert is for the caller to assert on)."""
    signed = account.sign_transaction(
        {
            "to": Web3.to_checksum_address(tx["to"]),
            "data": tx["data"],
            "value": int(tx.get("value") or 0),
            "gas": int(tx["gas"]),
            "gasPrice": int(tx.get("gasPrice") or w3.eth.gas_price),
            "nonce": w3.eth.get_transaction_count(account.address),
            "chainId": w3.eth.chain_id,
        }
    )
    tx_hash = w3.eth.send_raw_transaction(signed.raw_transaction)
    return dict(w3.eth.wait_for_transaction_receipt(tx_hash, timeout=30, poll_latency=0.01))


def balance_of(w3: Web3, token: str, holder: str) -> int:
    from swaps.chain import NATIVE

    if token == NATIVE:
        return int(w3.eth.get_balance(holder))
    return int(contract_at(w3, ERC20, token).functions.balanceOf(holder).call())


__all__ = ["SwapMarket", "send_signed", "balance_of", "wait_for_receipt", "TAX_BUY_BPS", "TAX_SELL_BPS"]
