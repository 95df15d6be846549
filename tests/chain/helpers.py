"""Small helpers shared by the chain tests."""

from __future__ import annotations

from typing import Any

from web3 import Web3
from web3.contract import Contract

from chain.contracts import contract_at


def erc20(w3: Web3, address: str) -> Contract:
    """Full ERC-20 ABI (name/symbol/decimals included) at ``address``."""
    return contract_at(w3, "openzeppelin:ERC20", address)


def deadline(w3: Web3, seconds: int = 600) -> int:
    """A router/executor deadline ``seconds`` after the latest block."""
    return int(w3.eth.get_block("latest")["timestamp"]) + seconds


def gas_cost(receipt: Any) -> int:
    """Wei paid for gas by a mined transaction (to make ETH balance checks exact)."""
    return int(receipt["gasUsed"]) * int(receipt["effectiveGasPrice"])


def fresh_account(w3: Web3, index: int) -> str:
    """A deterministic non-dev address; tests impersonate it to act as a trader."""
    return Web3.to_checksum_address(Web3.keccak(text=f"tmsite-test-account-{index}")[12:])
