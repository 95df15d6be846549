"""Fast decoders for the fixed-layout events the indexer reads.

Transfer, Swap, Sync, Mint, Burn and PairCreated have fixed ABI layouts: indexed
addresses sit right-aligned in 32-byte topics and amounts are 32-byte words in ``data``.
Slicing the hex strings is tens of times faster than web3's generic ``process_log``; a test
checks that both agree on every event type. A log whose shape does not match (an ERC-721
Transfer with a fourth topic, truncated data) raises ``UndecodableLog`` with the reason,
which the indexer records and skips.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, NamedTuple

from eth_utils import keccak, to_checksum_address

ZERO_ADDRESS = "0x0000000000000000000000000000000000000000"


def _topic(signature: str) -> str:
    return "0x" + keccak(text=signature).hex()


TRANSFER = _topic("Transfer(address,address,uint256)")
SWAP = _topic("Swap(address,uint256,uint256,uint256,uint256,address)")
SYNC = _topic("Sync(uint112,uint112)")
MINT = _topic("Mint(address,uint256,uint256)")
BURN = _topic("Burn(address,uint256,uint256,address)")
PAIR_CREATED = _topic("PairCreated(address,address,address,uint256)")
# WETH9 mints on deposit and burns on withdrawal without a Transfer log; these stand in for one.
DEPOSIT = _topic("Deposit(address,uint256)")
WITHDRAWAL = _topic("Withdrawal(address,uint256)")
TOKEN_TOPICS = (TRANSFER, DEPOSIT, WITHDRAWAL)
POOL_TOPICS = (SWAP, SYNC, MINT, BURN)


class UndecodableLog(ValueError):
    """The log's topics or data do not have the layout its first topic promises."""


@lru_cache(maxsize=262_144)
def checksum(address_hex40: str) -> str:
    """EIP-55 form of a 40-hex-digit address; cached because the same addresses recur."""
    return to_checksum_address("0x" + address_hex40)


TOPIC_ADDRESSES: dict[str, str] = {}  # whole topic -> checksummed address, for valid topics only
TOPIC_ADDRESSES_MAX = 262_144


def topic_address(topic: str) -> str:
    # One dict lookup for an address seen before: the walk decodes two per transfer.
    address = TOPIC_ADDRESSES.get(topic)
    if address is not None:
        return address
    if len(topic) != 66 or topic[2:26] != "000000000000000000000000":
        raise UndecodableLog(f"topic is not a left-padded address: {topic[:20]}...")
    if len(TOPIC_ADDRESSES) >= TOPIC_ADDRESSES_MAX:
        TOPIC_ADDRESSES.clear()
    address = TOPIC_ADDRESSES[topic] = checksum(topic[26:].lower())
    return address


def words(data: str, count: int) -> list[int]:
    if len(data) != 2 + 64 * count:
        raise UndecodableLog(f"expected {count} data words, got {(len(data) - 2) / 64:g}")
    if count == 1:
        return [int(data, 16)]  # int() takes the 0x prefix with base 16
    return [int(data[2 + 64 * i : 66 + 64 * i], 16) for i in range(count)]


class LogKey(NamedTuple):
    block_number: int
    log_index: int
    tx_hash: str
    address: str
    block_hash: str


def log_key(log: dict[str, Any]) -> LogKey:
    return LogKey(
        int(log["blockNumber"], 16),
        int(log["logIndex"], 16),
        log["transactionHash"],
        checksum(log["address"][2:].lower()),
        log["blockHash"],
    )


def decode_transfer(log: dict[str, Any]) -> tuple[str, str, int]:
    """(from, to, value in base units)."""
    topics = log["topics"]
    if len(topics) != 3:
        raise UndecodableLog(f"Transfer with {len(topics)} topics (not an ERC-20 Transfer)")
    return topic_address(topics[1]), topic_address(topics[2]), words(log["data"], 1)[0]


def decode_wrap(log: dict[str, Any]) -> tuple[str, str, int]:
    """A WETH9 Deposit or Withdrawal as (from, to, value): a mint to, or burn from, the account."""
    topics = log["topics"]
    if len(topics) != 2:
        raise UndecodableLog(f"Deposit/Withdrawal with {len(topics)} topics")
    account, value = topic_address(topics[1]), words(log["data"], 1)[0]
    return (ZERO_ADDRESS, account, value) if topics[0] == DEPOSIT else (account, ZERO_ADDRESS, value)


def decode_swap(log: dict[str, Any]) -> tuple[str, str, int, int, int, int]:
    """(sender, to, amount0In, amount1In, amount0Out, amount1Out)."""
    topics = log["topics"]
    if len(topics) != 3:
        raise UndecodableLog(f"Swap with {len(topics)} topics")
    a0_in, a1_in, a0_out, a1_out = words(log["data"], 4)
    return topic_address(topics[1]), topic_address(topics[2]), a0_in, a1_in, a0_out, a1_out


def decode_sync(log: dict[str, Any]) -> tuple[int, int]:
    """(reserve0, reserve1)."""
    if len(log["topics"]) != 1:
        raise UndecodableLog(f"Sync with {len(log['topics'])} topics")
    reserve0, reserve1 = words(log["data"], 2)
    return reserve0, reserve1


def decode_mint(log: dict[str, Any]) -> tuple[str, int, int]:
    """(sender, amount0, amount1)."""
    topics = log["topics"]
    if len(topics) != 2:
        raise UndecodableLog(f"Mint with {len(topics)} topics")
    amount0, amount1 = words(log["data"], 2)
    return topic_address(topics[1]), amount0, amount1


def decode_burn(log: dict[str, Any]) -> tuple[str, int, int, str]:
    """(sender, amount0, amount1, to)."""
    topics = log["topics"]
    if len(topics) != 3:
        raise UndecodableLog(f"Burn with {len(topics)} topics")
    amount0, amount1 = words(log["data"], 2)
    return topic_address(topics[1]), amount0, amount1, topic_address(topics[2])


def decode_pair_created(log: dict[str, Any]) -> tuple[str, str, str]:
    """(token0, token1, pair)."""
    topics = log["topics"]
    if len(topics) != 3:
        raise UndecodableLog(f"PairCreated with {len(topics)} topics")
    data = log["data"]
    if len(data) != 2 + 64 * 2:
        raise UndecodableLog("PairCreated data is not (address pair, uint256)")
    return topic_address(topics[1]), topic_address(topics[2]), topic_address("0x" + data[2:66])


# --- ERC-20 metadata from eth_call results ----------------------------------------------------


def decode_string_or_bytes32(result: str) -> tuple[str, bool]:
    """An ERC-20 ``name()``/``symbol()`` result: (text, was_bytes32).

    Standard tokens return an ABI string; some early ones (MKR, SAI) return ``bytes32``.
    Raises UndecodableLog for anything else.
    """
    raw = bytes.fromhex(result[2:])
    if len(raw) == 32:
        return raw.rstrip(b"\x00").decode("utf-8", errors="replace"), True
    if len(raw) >= 64:
        offset = int.from_bytes(raw[:32], "big")
        if offset + 32 <= len(raw):
            length = int.from_bytes(raw[offset : offset + 32], "big")
            if offset + 32 + length <= len(raw):
                return raw[offset + 32 : offset + 32 + length].decode("utf-8", errors="replace"), False
    raise UndecodableLog(f"not an ABI string or bytes32 ({len(raw)} bytes)")


def decode_uint(result: str) -> int:
    raw = result[2:]
    if not raw or len(raw) > 64:
        raise UndecodableLog(f"not a uint256 word ({len(raw) // 2} bytes)")
    return int(raw, 16)
