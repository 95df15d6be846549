"""Fixtures for tests against a real local EVM (anvil), never a mocked chain.

One anvil per test session, on a free port, shared by the tests here: each test deploys
the contracts it needs, so tests do not depend on each other's state. Missing set-up
(``npm ci``, the contract compile step) fails loudly instead of skipping, because a
silently skipped chain suite would hide that the chain is not tested at all.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from eth_typing import ChecksumAddress
from web3 import Web3

from chain.contracts import ArtifactNotFound, check_artifacts, connect
from chain.deploy import Dex, deploy_dex, deploy_weth
from chain.node import AnvilError, AnvilProcess, anvil_binary, free_port, start_anvil

SETUP_HINT = "run `npm ci` and `node scripts/compile_contracts.mjs` in the repository root (make does both)"


def require_chain_tooling() -> None:
    """Fail the test (not skip) with the set-up command if anvil or artifacts are missing."""
    try:
        anvil_binary()
        check_artifacts(("UniswapV2Router02", "UniswapV2Factory", "WETH9", "SimpleToken", "SwapExecutor", "TaxToken"))
    except (AnvilError, ArtifactNotFound) as exc:
        pytest.fail(f"chain tooling missing: {exc}; {SETUP_HINT}", pytrace=False)


@pytest.fixture(scope="session")
def anvil_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AnvilProcess]:
    """A real anvil for the whole session, logging into the session's temp dir."""
    require_chain_tooling()
    log_path: Path = tmp_path_factory.mktemp("anvil") / "anvil.log"
    node = start_anvil(port=free_port(), log_path=log_path)
    try:
        yield node
    finally:
        node.stop()


@pytest.fixture(scope="session")
def w3(anvil_node: AnvilProcess) -> Web3:
    return connect(anvil_node.url)


@pytest.fixture(scope="session")
def accounts(w3: Web3) -> list[ChecksumAddress]:
    """Anvil's ten unlocked, funded dev accounts."""
    return list(w3.eth.accounts)


@pytest.fixture(scope="session")
def deployer(accounts: list[ChecksumAddress]) -> ChecksumAddress:
    return accounts[0]


@dataclass(frozen=True)
class World:
    """WETH and two independent Uniswap V2 deployments, shared by the session."""

    weth: ChecksumAddress
    dex_a: Dex
    dex_b: Dex


@pytest.fixture(scope="session")
def world(w3: Web3, deployer: ChecksumAddress) -> World:
    weth = deploy_weth(w3, sender=deployer)
    return World(
        weth=weth,
        dex_a=deploy_dex(w3, weth=weth, sender=deployer, name="AlphaSwap"),
        dex_b=deploy_dex(w3, weth=weth, sender=deployer, name="BetaSwap"),
    )
