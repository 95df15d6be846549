"""Derived market data, computed by walking a batch's events in chain order.

``MarketState`` holds what the walk needs in memory (pool reserves, token decimals, supply)
and prices tokens on demand from current reserves:

* a pool is priced when one side is a quote asset: a USD stablecoin (valued at $1) or the
  wrapped native coin (valued through the native/USD pools);
* a token's USD price is the average of its pools' prices weighted by pool TVL;
* a pool's TVL is twice the USD value of its quote-side reserve.

The walk turns decoded events into rows (with trade prices, USD values, whale flags) and
into aggregates (holder balance deltas, candles, hourly pool snapshots) that the store then
merges into the database. Aggregators are shared with the reorg rebuild, so both paths
compute the same numbers.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from market.decode import ZERO_ADDRESS

INTERVAL_SECONDS = {"1m": 60, "1h": 3600, "1d": 86400}
USD = "usd"
NATIVE = "native"
_UNPRICED = object()  # not in the price cache (None there means "no price")


def bucket_start(timestamp: int, interval: str) -> int:
    size = INTERVAL_SECONDS[interval]
    return timestamp - timestamp % size


def to_datetime(timestamp: int) -> datetime:
    return datetime.fromtimestamp(timestamp, tz=UTC)


@dataclass
class TokenState:
    id: int
    address: str
    decimals: int  # 18 when decimals() reverted
    quote_kind: str
    total_supply: int | None
    pool_ids: list[int] = field(default_factory=list)
    scale: float = 1.0
    # Pools this token is the priced (base) side of, in the order they were added.
    base_pools: list[PoolState] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.scale = 10.0**self.decimals


@dataclass
class PoolState:
    id: int
    address: str
    token0_id: int
    token1_id: int
    reserve0: int
    reserve1: int
    base_is_token0: bool | None  # None: neither side is a quote asset
    quote_kind: str
    reserves_block: int | None = None
    updated_at: int | None = None  # unix seconds
    # 10**decimals of each side, set by ``MarketState.add_pool`` (a token's decimals never change).
    scale0: float = 1.0
    scale1: float = 1.0

    @property
    def base_id(self) -> int | None:
        if self.base_is_token0 is None:
            return None
        return self.token0_id if self.base_is_token0 else self.token1_id


def pool_sides(token0: TokenState, token1: TokenState) -> tuple[bool | None, str]:
    """Which side is the base (priced) token: a stablecoin is preferred as quote, then native."""
    for kind in (USD, NATIVE):
        if token1.quote_kind == kind:
            return True, kind
        if token0.quote_kind == kind:
            return False, kind
    return None, ""


class MarketState:
    """Tokens and pools of one chain, as of the last committed batch."""

    def __init__(self) -> None:
        self.tokens: dict[int, TokenState] = {}
        self.token_ids: dict[str, int] = {}
        self.pools: dict[int, PoolState] = {}
        self.pool_ids: dict[str, int] = {}
        self._native_usd: float | None = None
        self._native_dirty = True
        # Pools that price the native coin (USD quote, native base), in pool order; None: to list again
        self._native_pools: list[PoolState] | None = None
        # token id -> USD price; the walk asks for one per transfer, reserves change far less often
        self._prices: dict[int, float | None] = {}

    def add_token(self, token: TokenState) -> None:
        self.tokens[token.id] = token
        self.token_ids[token.address] = token.id
        self._native_pools = None

    def add_pool(self, pool: PoolState) -> None:
        self.pools[pool.id] = pool
        self.pool_ids[pool.address] = pool.id
        token0, token1 = self.tokens[pool.token0_id], self.tokens[pool.token1_id]
        token0.pool_ids.append(pool.id)
        token1.pool_ids.append(pool.id)
        pool.scale0, pool.scale1 = token0.scale, token1.scale
        if pool.base_id is not None:
            self.tokens[pool.base_id].base_pools.append(pool)
        self._native_pools = None
        self._native_dirty = True
        self._prices.clear()

    # --- pricing ------------------------------------------------------------------------

    def _pool_units(self, pool: PoolState) -> tuple[float, float]:
        """(base reserve, quote reserve) in whole tokens."""
        r0, r1 = pool.reserve0 / pool.scale0, pool.reserve1 / pool.scale1
        return (r0, r1) if pool.base_is_token0 else (r1, r0)

    def quote_usd(self, kind: str) -> float | None:
        if kind == USD:
            return 1.0
        if kind == NATIVE:
            return self.native_usd()
        return None

    def native_usd(self) -> float | None:
        if self._native_dirty:
            native_pools = self._native_pools
            if native_pools is None:
                # Listed once, not looked for among all pools at every move of a native/USD pool.
                native_pools = self._native_pools = [
                    pool
                    for pool in self.pools.values()
                    if pool.quote_kind == USD
                    and pool.base_id is not None
                    and self.tokens[pool.base_id].quote_kind == NATIVE
                ]
            weighted = weight = 0.0
            for pool in native_pools:
                base_units, quote_units = self._pool_units(pool)
                if base_units > 0 and quote_units > 0:
                    weighted += quote_units / base_units * quote_units
                    weight += quote_units
            self._native_usd = weighted / weight if weight else None
            self._native_dirty = False
            self._prices.clear()  # every price quoted in the native coin moved with it
        return self._native_usd

    def pool_price_and_tvl(self, pool: PoolState) -> tuple[float | None, float]:
        """(base token USD price via this pool, pool TVL in USD); (None, 0) when unpriced."""
        if pool.base_is_token0 is None:
            return None, 0.0
        quote_usd = self.quote_usd(pool.quote_kind)
        base_units, quote_units = self._pool_units(pool)
        if quote_usd is None or base_units <= 0:
            return None, 0.0
        return quote_units / base_units * quote_usd, 2.0 * quote_units * quote_usd

    def token_price(self, token_id: int) -> float | None:
        if self._native_dirty:
            self.native_usd()
        price = self._prices.get(token_id, _UNPRICED)
        if price is _UNPRICED:  # a miss is common (every Sync clears one): no KeyError to raise and catch
            price = self._prices[token_id] = self._token_price(token_id)
        return price  # type: ignore[return-value]

    def _token_price(self, token_id: int) -> float | None:
        """TVL-weighted price over the token's base pools (the native price is current: see
        ``token_price``). The walk asks after every Sync of one of the token's pools, so
        the pools' price and TVL are worked out here, not through ``pool_price_and_tvl``:
        the same arithmetic, a sixth of the walk's time before."""
        token = self.tokens[token_id]
        if token.quote_kind == USD:
            return 1.0
        if token.quote_kind == NATIVE:
            return self._native_usd
        weighted = weight = 0.0
        for pool in token.base_pools:
            kind = pool.quote_kind
            if kind == USD:
                quote_usd = 1.0
            elif kind == NATIVE and self._native_usd is not None:
                quote_usd = self._native_usd
            else:
                continue
            r0, r1 = pool.reserve0 / pool.scale0, pool.reserve1 / pool.scale1
            base_units, quote_units = (r0, r1) if pool.base_is_token0 else (r1, r0)
            if base_units <= 0:
                continue
            tvl = 2.0 * quote_units * quote_usd
            if tvl > 0:
                weighted += quote_units / base_units * quote_usd * tvl
                weight += tvl
        return weighted / weight if weight else None

    def token_liquidity(self, token_id: int) -> float:
        return sum(self.pool_price_and_tvl(self.pools[p])[1] for p in self.tokens[token_id].pool_ids)

    def apply_sync(self, pool: PoolState, reserve0: int, reserve1: int) -> None:
        pool.reserve0, pool.reserve1 = reserve0, reserve1
        base = pool.base_id
        if base is not None:
            self._prices.pop(base, None)  # the only price this pool feeds, besides the native coin's
            if pool.quote_kind == USD and self.tokens[base].quote_kind == NATIVE:
                self._native_dirty = True


# --- aggregators shared by the batch walk and the reorg rebuild --------------------------


class CandleBook:
    """OHLCV per (token, interval, bucket) from trades fed in chain order."""

    def __init__(self, intervals: tuple[str, ...] = ("1m", "1h", "1d")) -> None:
        self.intervals = intervals
        self._sizes = [(interval, INTERVAL_SECONDS[interval]) for interval in intervals]
        # [open, high, low, close, volume, volume_usd, buy_volume_usd, trades]
        self.rows: dict[tuple[int, str, int], list[float]] = {}

    def add(self, token_id: int, timestamp: int, price: float, amount: float, volume_usd: float, is_buy: bool) -> None:
        buy_usd = volume_usd if is_buy else 0.0
        rows = self.rows
        for interval, size in self._sizes:
            key = (token_id, interval, timestamp - timestamp % size)
            row = rows.get(key)
            if row is None:
                rows[key] = [price, price, price, price, amount, volume_usd, buy_usd, 1]
            else:
                if price > row[1]:
                    row[1] = price
                if price < row[2]:
                    row[2] = price
                row[3] = price
                row[4] += amount
                row[5] += volume_usd
                row[6] += buy_usd
                row[7] += 1


class ActivityBook:
    """Transfers, distinct active addresses, swaps and distinct traders per (token, interval, bucket).

    Events are counted in the finest interval only (the first); ``roll_up`` then adds them to
    the coarser ones, whose buckets hold whole buckets of the finest. Per event that is one
    key and one set instead of one per interval (the walk's largest cost), and the coarse
    buckets are filled from a few hundred fine ones per batch. Call ``roll_up`` once, after
    the last ``add_*`` and before reading or merging the book.
    """

    def __init__(self, intervals: tuple[str, ...] = ("1h", "1d")) -> None:
        self.intervals = intervals
        finest = INTERVAL_SECONDS[intervals[0]]
        self._finest = (intervals[0], finest)
        self._coarser = [(interval, INTERVAL_SECONDS[interval]) for interval in intervals[1:]]
        if any(size % finest for _, size in self._coarser):
            raise ValueError(f"intervals {intervals}: each must hold whole buckets of the first")
        self.transfers: dict[tuple[int, str, int], int] = defaultdict(int)
        self.whales: dict[tuple[int, str, int], int] = defaultdict(int)
        self.addresses: dict[tuple[int, str, int], set[str]] = defaultdict(set)
        self.swaps: dict[tuple[int, str, int], int] = defaultdict(int)
        self.traders: dict[tuple[int, str, int], set[str]] = defaultdict(set)

    def add_transfer(self, token_id: int, timestamp: int, sender: str, receiver: str, is_whale: bool) -> None:
        interval, size = self._finest
        key = (token_id, interval, timestamp - timestamp % size)
        self.transfers[key] += 1
        if is_whale:
            self.whales[key] += 1
        seen = self.addresses[key]
        if sender != ZERO_ADDRESS:
            seen.add(sender)
        if receiver != ZERO_ADDRESS:
            seen.add(receiver)

    def add_swap(self, token_id: int, timestamp: int, trader: str) -> None:
        interval, size = self._finest
        key = (token_id, interval, timestamp - timestamp % size)
        self.swaps[key] += 1
        self.traders[key].add(trader)

    def roll_up(self) -> None:
        """Add the finest buckets' events to the coarser intervals' buckets (once per book)."""
        finest = self._finest[0]
        for counts in (self.transfers, self.whales, self.swaps):
            for (token_id, interval, bucket), count in list(counts.items()):
                if interval == finest:
                    for coarse, size in self._coarser:
                        counts[(token_id, coarse, bucket - bucket % size)] += count
        for members in (self.addresses, self.traders):
            for (token_id, interval, bucket), found in list(members.items()):
                if interval == finest:
                    for coarse, size in self._coarser:
                        members[(token_id, coarse, bucket - bucket % size)] |= found

    def keys(self) -> set[tuple[int, str, int]]:
        return set(self.transfers) | set(self.swaps)

    def merge(self, other: ActivityBook) -> None:
        """Add another book's events (of other blocks) into this one."""
        for key, count in other.transfers.items():
            self.transfers[key] += count
        for key, count in other.whales.items():
            self.whales[key] += count
        for key, count in other.swaps.items():
            self.swaps[key] += count
        for key, addresses in other.addresses.items():
            self.addresses[key] |= addresses
        for key, traders in other.traders.items():
            self.traders[key] |= traders

    def select(self, keep: Callable[[str, int], bool]) -> ActivityBook:
        """A book of the buckets ``keep(interval, bucket start)`` accepts (sharing their sets)."""
        book = ActivityBook(self.intervals)
        for mine, theirs in (
            (self.transfers, book.transfers),
            (self.whales, book.whales),
            (self.swaps, book.swaps),
            (self.addresses, book.addresses),
            (self.traders, book.traders),
        ):
            for key, value in mine.items():
                if keep(key[1], key[2]):
                    theirs[key] = value  # type: ignore[assignment]
        return book
