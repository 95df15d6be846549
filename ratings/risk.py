"""Risk checks: from market data (liquidity, holders) and from the chain itself (bytecode, sells).

Chain checks work against any JSON-RPC node, with plain ``eth_getCode`` and ``eth_call``:

- Privileges: the contract's bytecode is scanned for ``PUSH4 <selector>`` of functions that
  let an owner mint or change the token's rules; ``owner()`` is called to see whether the
  owner was renounced (zero address).
- Honeypot: a router sell is simulated with ``eth_call`` from an address that holds the
  token, with a state override granting the router an allowance (the allowance mapping's
  storage slot is found by probing: write a marker at candidate slots in an override and
  read ``allowance`` back). A wallet-to-wallet transfer from the same holder is simulated
  too: if that works and the sell reverts, the token can be bought but not sold.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from eth_abi import decode, encode
from eth_utils import keccak, to_checksum_address

from market.rpc import RpcClient, RpcError

logger = logging.getLogger(__name__)

ZERO_ADDRESS = "0x0000000000000000000000000000000000000000"
MAX_UINT256 = 2**256 - 1
PROBE_SLOTS = 32  # storage slots tried for the allowance / balance mappings
PROBE_MARKER = 0x5EED_0F_A110_CA7E  # value written by the override and read back


def selector(signature: str) -> bytes:
    return keccak(text=signature)[:4]


MINT_SIGNATURES = ("mint(address,uint256)", "mint(uint256)", "mintTo(address,uint256)")
# Functions through which an owner can change how transfers behave after launch.
RULE_SIGNATURES = (
    "setTaxes(uint16,uint16)",
    "setFee(uint256)",
    "setFees(uint256,uint256)",
    "setTaxExempt(address,bool)",
    "setPair(address,bool)",
    "blacklist(address)",
    "setBlacklist(address,bool)",
    "pause()",
    "setMaxTxAmount(uint256)",
    "setTradingEnabled(bool)",
)
OWNER_SIGNATURE = "owner()"


@dataclass(frozen=True)
class Finding:
    code: str
    severity: str
    detail: str


def code_selectors(code_hex: str, signatures: tuple[str, ...]) -> list[str]:
    """Signatures whose selector appears as a ``PUSH4`` operand (0x63) in the runtime code."""
    code = bytes.fromhex(code_hex.removeprefix("0x"))
    return [sig for sig in signatures if b"\x63" + selector(sig) in code]


def _call(rpc: RpcClient, to: str, data: bytes, *, sender: str | None = None, overrides: dict | None = None) -> bytes:
    tx = {"to": to, "data": "0x" + data.hex()}
    if sender:
        tx["from"] = sender
    params: list = [tx, "latest"]
    if overrides:
        params.append(overrides)
    result = rpc.call("eth_call", params)
    return bytes.fromhex(result.removeprefix("0x"))


def contract_owner(rpc: RpcClient, token: str) -> str | None:
    """``owner()`` if the contract has one (zero address when renounced), else None."""
    try:
        raw = _call(rpc, token, selector(OWNER_SIGNATURE))
    except RpcError:
        return None
    if len(raw) < 32:
        return None
    return to_checksum_address(decode(["address"], raw[:32])[0])


def privilege_findings(rpc: RpcClient, token: str) -> list[Finding]:
    code = rpc.call("eth_getCode", [token, "latest"])
    if code in ("0x", "", None):
        return []
    owner = contract_owner(rpc, token)
    renounced = owner == ZERO_ADDRESS
    findings = []
    mints = code_selectors(code, MINT_SIGNATURES)
    if mints and not renounced:
        who = f"owner {owner}" if owner else "an address the contract authorises (no owner() to check)"
        findings.append(
            Finding(
                "mintable",
                "high",
                f"the contract code has {', '.join(mints)}; {who} can create new supply at will",
            )
        )
    rules = code_selectors(code, RULE_SIGNATURES)
    if rules and owner and not renounced:
        findings.append(
            Finding(
                "owner_privileges",
                "medium",
                f"owner {owner} has not renounced control and can call {', '.join(rules)}",
            )
        )
    return findings


def _word(value: int) -> str:
    return "0x" + value.to_bytes(32, "big").hex()


def _mapping_slot(key: bytes, slot: int) -> bytes:
    return keccak(key.rjust(32, b"\0") + slot.to_bytes(32, "big"))


def allowance_slot(rpc: RpcClient, token: str, owner: str, spender: str) -> int | None:
    """Storage slot number of the (Solidity-layout) ``allowance[owner][spender]`` mapping."""
    owner_b, spender_b = bytes.fromhex(owner[2:]), bytes.fromhex(spender[2:])
    data = "0x" + (selector("allowance(address,address)") + encode(["address", "address"], [owner, spender])).hex()
    requests = []
    for slot in range(PROBE_SLOTS):
        key = keccak(spender_b.rjust(32, b"\0") + _mapping_slot(owner_b, slot))
        override = {token: {"stateDiff": {"0x" + key.hex(): _word(PROBE_MARKER)}}}
        requests.append(("eth_call", [{"to": token, "data": data}, "latest", override]))
    for slot, result in enumerate(rpc.batch(requests)):
        if isinstance(result, str) and len(result) >= 66 and int(result[2:66], 16) == PROBE_MARKER:
            return slot
    return None


def _balance_of(rpc: RpcClient, token: str, holder: str) -> int:
    raw = _call(rpc, token, selector("balanceOf(address)") + encode(["address"], [holder]))
    return int.from_bytes(raw[:32], "big") if len(raw) >= 32 else 0


@dataclass(frozen=True)
class SellRoute:
    router: str
    quote: str  # the pool's other token
    quote_is_native: bool  # sell for ETH through the router's ETH functions


def honeypot_finding(
    rpc: RpcClient, *, token: str, route: SellRoute, holders: list[str], skip: set[str]
) -> Finding | None:
    """Simulate a sell of part of a real holder's balance; a revert while a plain transfer
    succeeds means the token cannot be sold. None when the sell goes through or no holder
    could be tried (the check then says nothing)."""
    owner = contract_owner(rpc, token)
    seller = next((h for h in holders if h not in skip and h != owner), None)
    if seller is None:
        return None
    balance = _balance_of(rpc, token, seller)
    if balance == 0:
        return None
    amount = max(balance // 10, 1)
    slot = allowance_slot(rpc, token, seller, route.router)
    if slot is None:
        logger.info("honeypot check of %s skipped: allowance slot not found", token)
        return None
    key = keccak(bytes.fromhex(route.router[2:]).rjust(32, b"\0") + _mapping_slot(bytes.fromhex(seller[2:]), slot))
    overrides = {token: {"stateDiff": {"0x" + key.hex(): _word(MAX_UINT256)}}}
    deadline = 2**40
    if route.quote_is_native:
        sig = "swapExactTokensForETHSupportingFeeOnTransferTokens(uint256,uint256,address[],address,uint256)"
    else:
        sig = "swapExactTokensForTokensSupportingFeeOnTransferTokens(uint256,uint256,address[],address,uint256)"
    data = selector(sig) + encode(
        ["uint256", "uint256", "address[]", "address", "uint256"], [amount, 0, [token, route.quote], seller, deadline]
    )
    try:
        _call(rpc, route.router, data, sender=seller, overrides=overrides)
        return None
    except RpcError as sell_error:
        reason = sell_error.message
    # The same holder moving tokens to a fresh wallet: if that also fails, the token is
    # frozen or broken rather than a sell-only trap; still dangerous, and said so.
    fresh = "0x000000000000000000000000000000000000bEEF"
    transfer = selector("transfer(address,uint256)") + encode(["address", "uint256"], [fresh, amount])
    try:
        _call(rpc, token, transfer, sender=seller)
        transfer_ok = True
    except RpcError:
        transfer_ok = False
    if transfer_ok:
        detail = (
            f"a simulated sell of {amount} base units by holder {seller} through router {route.router} "
            f"reverted ({reason}), while a plain transfer from the same holder succeeds: buyers cannot sell"
        )
    else:
        detail = f"a simulated sell by holder {seller} reverted ({reason}) and so did a plain transfer"
    return Finding("honeypot", "high", detail)
