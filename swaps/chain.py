"""What the swap service asks the node: reserves, balances, allowances and simulations.

Everything goes through :class:`market.rpc.RpcClient` as raw JSON-RPC, batched where the node
allows, because a quote must stay within a few milliseconds: one ``eth_getBlockByNumber``
pins the block, then one batch reads every reserve, balance and allowance at that block.

Simulations of a transaction whose approval has not happened yet use an ``eth_call`` state
override of the token's allowance slot (``stateDiff``, supported by geth, anvil, erigon and
reth). The slot is found once per token by trying the usual Solidity mapping positions and
checking ``allowance()`` under the override; tokens with an unusual layout are reported as
not simulated rather than guessed.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.cache import cache
from eth_abi import decode, encode
from eth_utils import keccak
from web3 import Web3

from market.rpc import RpcClient, RpcError

logger = logging.getLogger(__name__)

NATIVE = "0xEeeeeEeeeEeEeeEeEeEeeEEEeeeeEeeeeeeeEEeE"  # native ETH, as the 0x API spells it
EXECUTOR_NATIVE = "0x0000000000000000000000000000000000000000"  # SwapExecutor.ETH
MAX_UINT256 = 2**256 - 1
SLOT_SEARCH_DEPTH = 12  # mapping slots 0..11 tried when locating balances and allowances
LOCAL_CHAIN_ID = 31337

GET_RESERVES = "0x0902f1ac"
BALANCE_OF = "0x70a08231"
ALLOWANCE = "0xdd62ed3e"

_clients: dict[str, RpcClient] = {}
_clients_lock = threading.Lock()


def rpc_for(url: str | None = None) -> RpcClient:
    """One keep-alive client per node URL and process (quotes must not reconnect)."""
    url = url or settings.WEB3_PROVIDER_URI
    with _clients_lock:
        client = _clients.get(url)
        if client is None:
            client = RpcClient(url, timeout=settings.WEB3_REQUEST_TIMEOUT, retries=1, backoff=0.1, parallel=4)
            _clients[url] = client
    return client


def selector(signature: str) -> bytes:
    return keccak(text=signature)[:4]


def encode_call(signature: str, args: Sequence[Any]) -> str:
    """``0x``-hex calldata for ``signature`` (e.g. ``"approve(address,uint256)"``) and ``args``."""
    types = signature[signature.index("(") + 1 : -1]
    arg_types = _split_types(types)
    return "0x" + (selector(signature) + encode(arg_types, list(args))).hex()


def _split_types(types: str) -> list[str]:
    out, depth, current = [], 0, ""
    for ch in types:
        if ch == "," and depth == 0:
            out.append(current)
            current = ""
            continue
        depth += ch == "("
        depth -= ch == ")"
        current += ch
    if current:
        out.append(current)
    return out


def _word(address: str) -> str:
    return address[2:].lower().rjust(64, "0")


def balance_call(token: str, holder: str) -> dict[str, str]:
    return {"to": token, "data": BALANCE_OF + _word(holder)}


def allowance_call(token: str, owner: str, spender: str) -> dict[str, str]:
    return {"to": token, "data": ALLOWANCE + _word(owner) + _word(spender)}


def uint(result: Any) -> int:
    """A uint256 return value (``0x`` means the call returned nothing: treated as 0)."""
    if isinstance(result, Exception):
        raise result
    text = str(result)
    return int(text[:66], 16) if len(text) > 2 else 0


@dataclass(frozen=True)
class BlockRef:
    number: int
    timestamp: int
    base_fee: int | None

    @property
    def tag(self) -> str:
        return hex(self.number)


def latest_block(rpc: RpcClient) -> BlockRef:
    header = rpc.call("eth_getBlockByNumber", ["latest", False])
    base_fee = header.get("baseFeePerGas")
    return BlockRef(int(header["number"], 16), int(header["timestamp"], 16), int(base_fee, 16) if base_fee else None)


@dataclass(frozen=True)
class ChainRead:
    """Reserves and account state read at one block."""

    block: BlockRef
    gas_price: int  # wei per gas
    reserves: dict[str, tuple[int, int]]
    balance: int | None  # taker's balance of the sell token (wei for native), None without taker
    allowances: dict[str, int]  # spender -> allowance of the sell token from the taker


def chain_read(
    rpc: RpcClient,
    *,
    pools: Sequence[str],
    sell_token: str | None = None,
    taker: str | None = None,
    spenders: Sequence[str] = (),
    block: BlockRef | None = None,
) -> ChainRead:
    """``getReserves`` of ``pools`` plus gas price, balance and allowances, in one batch at one block.

    ``sell_token`` is the ERC-20 address, or :data:`NATIVE` for ETH (no allowances then).
    """
    block = block or latest_block(rpc)
    requests: list[tuple[str, list[Any]]] = [("eth_gasPrice", [])]
    requests += [("eth_call", [{"to": pool, "data": GET_RESERVES}, block.tag]) for pool in pools]
    if taker and sell_token:
        if sell_token == NATIVE:
            requests.append(("eth_getBalance", [taker, block.tag]))
        else:
            requests.append(("eth_call", [balance_call(sell_token, taker), block.tag]))
            requests += [("eth_call", [allowance_call(sell_token, taker, s), block.tag]) for s in spenders]
    replies = rpc.batch(requests)
    gas_price = int(_ok(replies[0]), 16)
    reserves: dict[str, tuple[int, int]] = {}
    for pool, reply in zip(pools, replies[1 : 1 + len(pools)], strict=True):
        raw = _ok(reply)
        reserves[pool] = (int(raw[2:66], 16), int(raw[66:130], 16))
    balance = None
    allowances: dict[str, int] = {}
    rest = replies[1 + len(pools) :]
    if taker and sell_token:
        balance = int(_ok(rest[0]), 16)
        if sell_token != NATIVE:
            allowances = {s: uint(r) for s, r in zip(spenders, rest[1:], strict=True)}
    return ChainRead(block, gas_price, reserves, balance, allowances)


def _ok(reply: Any) -> Any:
    if isinstance(reply, Exception):
        raise reply
    return reply


def revert_message(exc: RpcError) -> str:
    """The revert reason of a failed call, from ``Error(string)`` data or the node's message."""
    data = exc.data
    if isinstance(data, dict):
        data = data.get("data")
    if isinstance(data, str) and data.startswith("0x08c379a0") and len(data) >= 138:
        try:
            return str(decode(["string"], bytes.fromhex(data[10:]))[0])
        except Exception:  # noqa: BLE001 - a malformed reason falls back to the message
            pass
    message = exc.message or "reverted"
    return message.removeprefix("execution reverted: ").removeprefix("execution reverted") or "reverted"


# --- Storage slots for state overrides --------------------------------------------------


def _mapping_key(key: str, slot: int | bytes) -> bytes:
    slot_bytes = slot if isinstance(slot, bytes) else slot.to_bytes(32, "big")
    return keccak(bytes.fromhex(_word(key)) + slot_bytes)


def balance_storage_key(holder: str, slot: int) -> str:
    return "0x" + _mapping_key(holder, slot).hex()


def allowance_storage_key(owner: str, spender: str, slot: int) -> str:
    return "0x" + _mapping_key(spender, _mapping_key(owner, slot)).hex()


def _slot_search(rpc: RpcClient, token: str, kind: str) -> int | None:
    probe_owner = "0x" + keccak(text="tmsite slot probe owner")[12:].hex()
    probe_spender = "0x" + keccak(text="tmsite slot probe spender")[12:].hex()
    marker = 0x5EED_0F_5107
    requests: list[tuple[str, list[Any]]] = []
    for slot in range(SLOT_SEARCH_DEPTH):
        if kind == "balance":
            call, key = balance_call(token, probe_owner), balance_storage_key(probe_owner, slot)
        else:
            call = allowance_call(token, probe_owner, probe_spender)
            key = allowance_storage_key(probe_owner, probe_spender, slot)
        override = {token: {"stateDiff": {key: "0x" + marker.to_bytes(32, "big").hex()}}}
        requests.append(("eth_call", [call, "latest", override]))
    for slot, reply in enumerate(rpc.batch(requests)):
        if not isinstance(reply, Exception) and len(str(reply)) > 2 and int(str(reply)[:66], 16) == marker:
            return slot
    return None


def token_slots(rpc: RpcClient, chain_id: int, token: str) -> tuple[int | None, int | None]:
    """(balance slot, allowance slot) of ``token``'s mappings, cached; None when not found."""
    key = f"swaps:slots:{chain_id}:{rpc.url}:{token}"
    cached = cache.get(key)
    if cached is not None:
        return cached[0], cached[1]
    slots = (_slot_search(rpc, token, "balance"), _slot_search(rpc, token, "allowance"))
    cache.set(key, list(slots), timeout=24 * 3600)
    return slots


def word_hex(value: int) -> str:
    return "0x" + value.to_bytes(32, "big").hex()


# --- The executor -------------------------------------------------------------------------

EXECUTOR_MISSING = "no SwapExecutor is recorded for chain {chain_id}; split routes are unavailable"


def executor_address(*, chain_id: int, rpc: RpcClient, weth: str | None) -> str | None:
    """The chain's SwapExecutor from the registry, deployed and recorded on a local chain when
    missing or stale (a fresh anvil reuses chain id 31337). None elsewhere when not recorded."""
    from chain.models import Deployment, DeploymentKind

    memo = f"swaps:executor:{chain_id}:{rpc.url}"
    cached = cache.get(memo)
    if cached:
        return str(cached)
    row = Deployment.objects.filter(chain_id=chain_id, kind=DeploymentKind.EXECUTOR).order_by("-block_number").first()
    if row and len(str(rpc.call("eth_getCode", [row.address, "latest"]))) > 2:
        cache.set(memo, row.address, timeout=300)
        return row.address
    if chain_id != LOCAL_CHAIN_ID or not weth:
        return None
    address = _deploy_local_executor(chain_id=chain_id, rpc=rpc, weth=weth)
    cache.set(memo, address, timeout=300)
    return address


def _deploy_local_executor(*, chain_id: int, rpc: RpcClient, weth: str) -> str:
    from chain.contracts import connect
    from chain.deploy import deploy_swap_executor
    from chain.registry import deployment_record

    lock = f"swaps:executor-deploy:{chain_id}:{rpc.url}"
    if not cache.add(lock, 1, timeout=60):
        raise RuntimeError("another process is deploying the SwapExecutor; retry in a moment")
    try:
        w3 = connect(rpc.url)
        deployer = w3.eth.accounts[0]
        address = deploy_swap_executor(w3, weth=weth, sender=deployer)
        block = w3.eth.block_number
        deployment_record(
            chain_id=chain_id,
            name="executor",
            kind="executor",
            address=Web3.to_checksum_address(address),
            block_number=block,
            metadata={"weth": weth, "deployed_by": "swaps"},
        )
        logger.info("deployed SwapExecutor %s on local chain %s at block %s", address, chain_id, block)
        return str(address)
    finally:
        cache.delete(lock)
