"""Token safety before a swap: can it be sold (honeypot), and what does it tax?

Both are measured, not read from a list: a small buy and a small sell through the token's
deepest pool against a quote asset are simulated with ``eth_call`` on the SwapExecutor,
from a probe address funded by state override. The executor returns what the recipient
really received, so

* buy tax = shortfall of the received amount against the pool formula;
* sell tax = shortfall of the input the pool saw (recovered from the output with the
  inverse formula) against the amount sent;
* a sell that reverts means the token cannot be sold: a honeypot, refused with the
  revert reason as evidence.

Results are cached per token for ``SWAP_TOKEN_CHECK_TTL`` seconds (an owner can change
taxes, so not for long).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from eth_utils import keccak

from market.rpc import RpcClient, RpcError
from swaps.chain import (
    EXECUTOR_NATIVE,
    allowance_storage_key,
    balance_storage_key,
    encode_call,
    revert_message,
    token_slots,
    uint,
    word_hex,
)
from swaps.routing import BPS, PoolInfo, amount_in_for, amount_out

PROBE = "0x" + keccak(text="tmsite swap probe")[12:].hex()
PROBE_DEADLINE = 2**40  # far future; the probe is never mined
PROBE_SHARE = 1000  # probe with 1/1000 of the pool's reserve: taxes show, price impact does not
EXECUTE = "execute(address,uint256,address,(address[],uint256,uint16)[],uint256,address,uint256)"


@dataclass(frozen=True)
class TokenCheck:
    token: str
    simulated: bool  # False when the token's storage layout defeated the probe
    honeypot: bool
    buy_tax_bps: int
    sell_tax_bps: int
    reason: str = ""  # revert reason (honeypot) or why the check is incomplete

    def as_json(self) -> dict[str, object]:
        return {
            "buyTaxBps": str(self.buy_tax_bps),
            "sellTaxBps": str(self.sell_tax_bps),
            "honeypot": self.honeypot,
            "simulated": self.simulated,
            "reason": self.reason or None,
        }


def _override(rpc: RpcClient, chain_id: int, token: str, amount: int, spender: str) -> dict[str, object] | None:
    balance_slot, allowance_slot = token_slots(rpc, chain_id, token)
    if balance_slot is None or allowance_slot is None:
        return None
    return {
        token: {
            "stateDiff": {
                balance_storage_key(PROBE, balance_slot): word_hex(amount),
                allowance_storage_key(PROBE, spender, allowance_slot): word_hex(amount),
            }
        }
    }


def _execute(
    rpc: RpcClient,
    executor: str,
    token_in: str,
    amount: int,
    token_out: str,
    pool: PoolInfo,
    overrides: dict,
    value: int,
) -> int:
    data = encode_call(
        EXECUTE, [token_in, amount, token_out, [([pool.address], amount, pool.fee_bps)], 0, PROBE, PROBE_DEADLINE]
    )
    call = {"from": PROBE, "to": executor, "data": data, "value": hex(value)}
    return uint(rpc.call("eth_call", [call, "latest", overrides]))


def token_check(
    *, rpc: RpcClient, chain_id: int, token: str, pool: PoolInfo, quote_is_weth: bool, executor: str
) -> TokenCheck:
    """Simulate a small buy and sell of ``token`` in ``pool`` (token against a quote asset)."""
    key = f"swaps:check:{chain_id}:{rpc.url}:{token}"
    cached = cache.get(key)
    if isinstance(cached, TokenCheck):
        return cached
    result = _measure(
        rpc=rpc, chain_id=chain_id, token=token, pool=pool, quote_is_weth=quote_is_weth, executor=executor
    )
    cache.set(key, result, timeout=settings.SWAP_TOKEN_CHECK_TTL)
    return result


def _measure(
    *, rpc: RpcClient, chain_id: int, token: str, pool: PoolInfo, quote_is_weth: bool, executor: str
) -> TokenCheck:
    quote = pool.other(token)
    r_token, r_quote = (pool.reserve0, pool.reserve1) if pool.token0 == token else (pool.reserve1, pool.reserve0)
    # Buy: quote asset in, token out.
    q_in = max(1, r_quote // PROBE_SHARE)
    gross = amount_out(q_in, r_quote, r_token, pool.fee_bps)
    if quote_is_weth:
        overrides: dict | None = {PROBE: {"balance": hex(q_in * 2)}}
        token_in, value = EXECUTOR_NATIVE, q_in
    else:
        overrides = _override(rpc, chain_id, quote, q_in, executor)
        token_in, value = quote, 0
    buy_tax = 0
    if overrides is None:
        return TokenCheck(token, False, False, 0, 0, "quote asset storage layout not recognised")
    try:
        received = _execute(rpc, executor, token_in, q_in, token, pool, overrides, value)
        buy_tax = round((gross - received) * BPS / gross) if gross else 0
    except RpcError as exc:
        return TokenCheck(token, True, True, BPS, BPS, f"buy reverted: {revert_message(exc)}")
    # Sell: token in, quote asset out.
    t_in = max(1, r_token // PROBE_SHARE)
    overrides = _override(rpc, chain_id, token, t_in, executor)
    if overrides is None:
        return TokenCheck(token, False, False, max(0, buy_tax), 0, "token storage layout not recognised")
    try:
        out = _execute(rpc, executor, token, t_in, EXECUTOR_NATIVE if quote_is_weth else quote, pool, overrides, 0)
    except RpcError as exc:
        return TokenCheck(token, True, True, max(0, buy_tax), BPS, f"sell reverted: {revert_message(exc)}")
    seen = amount_in_for(out, r_token, r_quote, pool.fee_bps) if out else 0
    sell_tax = round((t_in - seen) * BPS / t_in)
    return TokenCheck(token, True, False, max(0, buy_tax), max(0, min(BPS, sell_tax)))
