"""Deploy the on-chain world the platform analyses: WETH, Uniswap V2-style DEXes, tokens
and pools.

Why keyword-only, address-returning functions: seeding scripts, the market simulator and
tests all build the same pieces, and passing checksummed addresses (not web3 objects)
keeps their results storable in the database and comparable with ``==``. Use
:func:`chain.contracts.contract_at` to get a contract object back.

Every DEX deployed here is the unmodified Uniswap V2 build (factory, pair, Router02), so
two DEXes differ only in address and name, like real forks. Router02 hard-codes the pair
init-code hash ``0x96e8ac42...845f``, which equals keccak256 of the packaged
``UniswapV2Pair`` bytecode, so a fresh factory and router work together; this module
checks it once per process rather than letting a mismatch surface as odd reverts.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from eth_typing import ChecksumAddress, HexStr
from eth_utils import keccak
from web3 import Web3

from chain.contracts import contract_at, deploy_contract, load_artifact, transact

# keccak256(UniswapV2Pair creation code) as hard-coded in UniswapV2Library.pairFor.
UNISWAP_V2_INIT_CODE_HASH = HexStr("0x96e8ac4277198ff8b6f785478aa9a39f403cb768dd02cbee326c3e7da348845f")

# Far enough ahead that set-up transactions never hit a router deadline.
_DEADLINE_SLACK_SECONDS = 3600


@dataclass(frozen=True)
class Dex:
    """One deployed Uniswap V2-style DEX."""

    name: str
    factory: ChecksumAddress
    router: ChecksumAddress
    weth: ChecksumAddress
    init_code_hash: HexStr = UNISWAP_V2_INIT_CODE_HASH
    fee_bps: int = 30

    def pair_address(self, token_a: str, token_b: str) -> ChecksumAddress:
        """CREATE2 address of the pair for two tokens (whether or not it exists yet)."""
        return pair_address(self.factory, token_a, token_b, self.init_code_hash)


def pair_address(
    factory: str, token_a: str, token_b: str, init_code_hash: str = UNISWAP_V2_INIT_CODE_HASH
) -> ChecksumAddress:
    """Compute a V2 pair address off-chain, as ``UniswapV2Library.pairFor`` does."""
    a, b = sorted((Web3.to_checksum_address(token_a), Web3.to_checksum_address(token_b)), key=lambda x: int(x, 16))
    salt = keccak(bytes.fromhex(a[2:]) + bytes.fromhex(b[2:]))
    raw = keccak(
        b"\xff" + bytes.fromhex(Web3.to_checksum_address(factory)[2:]) + salt + bytes.fromhex(init_code_hash[2:])
    )
    return Web3.to_checksum_address(raw[12:])


@functools.cache
def packaged_pair_init_code_hash() -> HexStr:
    """keccak256 of the packaged ``UniswapV2Pair`` creation code."""
    return HexStr("0x" + keccak(hexstr=load_artifact("v2-core:UniswapV2Pair").bytecode).hex())


def _check_init_code_hash() -> None:
    actual = packaged_pair_init_code_hash()
    if actual != UNISWAP_V2_INIT_CODE_HASH:
        raise RuntimeError(
            f"packaged UniswapV2Pair init-code hash {actual} differs from the one Router02 expects "
            f"({UNISWAP_V2_INIT_CODE_HASH}); the @uniswap packages in package-lock.json do not match"
        )
    router_code = load_artifact("v2-periphery:UniswapV2Router02").bytecode
    if UNISWAP_V2_INIT_CODE_HASH[2:] not in router_code:
        raise RuntimeError("packaged UniswapV2Router02 does not embed the expected pair init-code hash")


def _deadline(w3: Web3) -> int:
    return int(w3.eth.get_block("latest")["timestamp"]) + _DEADLINE_SLACK_SECONDS


def deploy_weth(w3: Web3, *, sender: str) -> ChecksumAddress:
    """Deploy canonical WETH9 (the wrapped-ETH contract DEX routers need)."""
    return deploy_contract(w3, "v2-periphery:WETH9", sender=sender).address


def deploy_dex(w3: Web3, *, weth: str, sender: str, name: str, fee_to_setter: str | None = None) -> Dex:
    """Deploy a Uniswap V2 factory and Router02 bound to ``weth``; ``sender`` sets fees."""
    _check_init_code_hash()
    factory = deploy_contract(
        w3, "v2-core:UniswapV2Factory", Web3.to_checksum_address(fee_to_setter or sender), sender=sender
    )
    router = deploy_contract(
        w3, "v2-periphery:UniswapV2Router02", factory.address, Web3.to_checksum_address(weth), sender=sender
    )
    return Dex(name=name, factory=factory.address, router=router.address, weth=Web3.to_checksum_address(weth))


def deploy_erc20(
    w3: Web3,
    *,
    name: str,
    symbol: str,
    supply: int,
    sender: str,
    decimals: int = 18,
    holder: str | None = None,
) -> ChecksumAddress:
    """Deploy a plain fixed-supply ``SimpleToken``.

    ``supply`` is in base units (``10**decimals`` per whole token) and goes to ``holder``
    (default ``sender``).
    """
    token = deploy_contract(
        w3, "SimpleToken", name, symbol, decimals, supply, Web3.to_checksum_address(holder or sender), sender=sender
    )
    return token.address


def deploy_swap_executor(w3: Web3, *, weth: str, sender: str) -> ChecksumAddress:
    """Deploy the project's split/multi-hop ``SwapExecutor`` for ``weth``."""
    return deploy_contract(w3, "SwapExecutor", Web3.to_checksum_address(weth), sender=sender).address


def create_pool_with_liquidity(
    w3: Web3,
    *,
    dex: Dex,
    token_a: str,
    amount_a: int,
    token_b: str,
    amount_b: int,
    provider: str,
    lp_recipient: str | None = None,
) -> ChecksumAddress:
    """Create the ``token_a``/``token_b`` pool on ``dex`` if needed and add liquidity.

    Amounts are base units. If either token is the DEX's WETH, the router's
    ``addLiquidityETH`` is used, so ``provider`` pays plain ETH and needs no WETH. Minimum
    amounts are zero: this is set-up code, so an existing pool at a different price just
    takes what the router computes. Returns the pair address.
    """
    provider_addr = Web3.to_checksum_address(provider)
    to = Web3.to_checksum_address(lp_recipient or provider_addr)
    a = Web3.to_checksum_address(token_a)
    b = Web3.to_checksum_address(token_b)
    router = contract_at(w3, "v2-periphery:UniswapV2Router02", dex.router)
    deadline = _deadline(w3)
    if dex.weth in (a, b):
        token, amount_token, amount_eth = (b, amount_b, amount_a) if a == dex.weth else (a, amount_a, amount_b)
        transact(
            w3,
            contract_at(w3, "openzeppelin:IERC20", token).functions.approve(dex.router, amount_token),
            sender=provider_addr,
        )
        transact(
            w3,
            router.functions.addLiquidityETH(token, amount_token, 0, 0, to, deadline),
            sender=provider_addr,
            value=amount_eth,
        )
    else:
        for token, amount in ((a, amount_a), (b, amount_b)):
            transact(
                w3,
                contract_at(w3, "openzeppelin:IERC20", token).functions.approve(dex.router, amount),
                sender=provider_addr,
            )
        transact(w3, router.functions.addLiquidity(a, b, amount_a, amount_b, 0, 0, to, deadline), sender=provider_addr)
    factory = contract_at(w3, "v2-core:UniswapV2Factory", dex.factory)
    pair = Web3.to_checksum_address(factory.functions.getPair(a, b).call())
    if int(pair, 16) == 0:
        raise RuntimeError(f"{dex.name}: no pair for {a}/{b} after adding liquidity")
    return pair
