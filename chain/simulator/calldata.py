"""Hand-rolled ABI encoding of the few calls the simulator sends tens of thousands of times.

Why not web3: ``contract.encode_abi`` costs ~150 µs per call, which alone would be several
seconds of a default run. These layouts are fixed (static words plus at most one dynamic
``address[]``), so a hex concatenation is exact; ``tests/chain/test_simulator.py`` checks
each encoder against web3's.
"""

from __future__ import annotations

from eth_utils import keccak

# Router deadline far in the future (2100-01-01): simulated blocks carry historical
# timestamps, and a fixed value keeps the calldata, hence the chain state, deterministic.
FAR_DEADLINE = 4_102_444_800
MAX_UINT256 = 2**256 - 1


def _selector(signature: str) -> str:
    return "0x" + keccak(text=signature)[:4].hex()


def _u(value: int) -> str:
    return format(value, "064x")


def _a(address: str) -> str:
    return address[2:].lower().rjust(64, "0")


def _path(path: tuple[str, ...] | list[str]) -> str:
    return _u(len(path)) + "".join(_a(a) for a in path)


SEL_TRANSFER = _selector("transfer(address,uint256)")
SEL_APPROVE = _selector("approve(address,uint256)")
SEL_MINT = _selector("mint(address,uint256)")
SEL_SET_PAIR = _selector("setPair(address,bool)")
SEL_SWAP_ETH_FOR_TOKENS = _selector(
    "swapExactETHForTokensSupportingFeeOnTransferTokens(uint256,address[],address,uint256)"
)
SEL_SWAP_TOKENS_FOR_ETH = _selector(
    "swapExactTokensForETHSupportingFeeOnTransferTokens(uint256,uint256,address[],address,uint256)"
)
SEL_SWAP_TOKENS_FOR_TOKENS = _selector(
    "swapExactTokensForTokensSupportingFeeOnTransferTokens(uint256,uint256,address[],address,uint256)"
)
SEL_ADD_LIQUIDITY_ETH = _selector("addLiquidityETH(address,uint256,uint256,uint256,address,uint256)")
SEL_ADD_LIQUIDITY = _selector("addLiquidity(address,address,uint256,uint256,uint256,uint256,address,uint256)")
SEL_REMOVE_LIQUIDITY_ETH = _selector("removeLiquidityETH(address,uint256,uint256,uint256,address,uint256)")
SEL_REMOVE_LIQUIDITY = _selector("removeLiquidity(address,address,uint256,uint256,uint256,address,uint256)")


def transfer(to: str, amount: int) -> str:
    """ERC-20 ``transfer(to, amount)``; amount in base units."""
    return SEL_TRANSFER + _a(to) + _u(amount)


def approve(spender: str, amount: int = MAX_UINT256) -> str:
    """ERC-20 ``approve``; the max allowance is never decremented by OpenZeppelin 4.9."""
    return SEL_APPROVE + _a(spender) + _u(amount)


def mint(to: str, amount: int) -> str:
    """``MintableToken.mint(to, amount)`` (owner only)."""
    return SEL_MINT + _a(to) + _u(amount)


def set_pair(pair: str, value: bool = True) -> str:
    """``setPair(pair, value)`` of TaxToken and HoneypotToken (owner only)."""
    return SEL_SET_PAIR + _a(pair) + _u(int(value))


def swap_eth_for_tokens(path: list[str], to: str, amount_out_min: int = 0) -> str:
    """Router ``swapExactETHForTokensSupportingFeeOnTransferTokens``; the input is ``msg.value``."""
    return SEL_SWAP_ETH_FOR_TOKENS + _u(amount_out_min) + _u(0x80) + _a(to) + _u(FAR_DEADLINE) + _path(path)


def swap_tokens_for_eth(amount_in: int, path: list[str], to: str, amount_out_min: int = 0) -> str:
    """Router ``swapExactTokensForETHSupportingFeeOnTransferTokens`` (works for taxed tokens)."""
    return (
        SEL_SWAP_TOKENS_FOR_ETH
        + _u(amount_in)
        + _u(amount_out_min)
        + _u(0xA0)
        + _a(to)
        + _u(FAR_DEADLINE)
        + _path(path)
    )


def swap_tokens_for_tokens(amount_in: int, path: list[str], to: str, amount_out_min: int = 0) -> str:
    """Router ``swapExactTokensForTokensSupportingFeeOnTransferTokens``."""
    return (
        SEL_SWAP_TOKENS_FOR_TOKENS
        + _u(amount_in)
        + _u(amount_out_min)
        + _u(0xA0)
        + _a(to)
        + _u(FAR_DEADLINE)
        + _path(path)
    )


def add_liquidity_eth(token: str, amount_token: int, to: str) -> str:
    """Router ``addLiquidityETH`` with zero minimums; the ETH side is ``msg.value``."""
    return SEL_ADD_LIQUIDITY_ETH + _a(token) + _u(amount_token) + _u(0) + _u(0) + _a(to) + _u(FAR_DEADLINE)


def add_liquidity(token_a: str, token_b: str, amount_a: int, amount_b: int, to: str) -> str:
    """Router ``addLiquidity`` (two ERC-20s) with zero minimums."""
    return (
        SEL_ADD_LIQUIDITY
        + _a(token_a)
        + _a(token_b)
        + _u(amount_a)
        + _u(amount_b)
        + _u(0)
        + _u(0)
        + _a(to)
        + _u(FAR_DEADLINE)
    )


def remove_liquidity_eth(token: str, liquidity: int, to: str) -> str:
    """Router ``removeLiquidityETH`` with zero minimums; ``liquidity`` in LP base units."""
    return SEL_REMOVE_LIQUIDITY_ETH + _a(token) + _u(liquidity) + _u(0) + _u(0) + _a(to) + _u(FAR_DEADLINE)


def remove_liquidity(token_a: str, token_b: str, liquidity: int, to: str) -> str:
    """Router ``removeLiquidity`` (two ERC-20s) with zero minimums."""
    return SEL_REMOVE_LIQUIDITY + _a(token_a) + _a(token_b) + _u(liquidity) + _u(0) + _u(0) + _a(to) + _u(FAR_DEADLINE)
