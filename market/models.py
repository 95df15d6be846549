"""Indexed on-chain market data.

Raw event rows (``Transfer``, ``Swap``, ``Sync``, ``LiquidityEvent``) are exactly what the
chain logged, keyed by (chain id, block number, log index), so a re-run changes nothing. The
rest (balances, reserves, prices, candles, snapshots, activity) is derived from those rows by
the indexer, incrementally, and rolled back with them when the chain reorganises.

Tables only the indexer writes (the event rows and the derived ones) carry no foreign-key
constraints, and no index on a token/pool column that a composite index already leads with:
see ``EventRow``. Deleting a token or pool still cascades, through the ORM.

Amounts are integers in base units (``Uint256Field``); USD figures are floats, used for
statistics and display only. Addresses are EIP-55 checksummed.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from market.fields import Uint256Field

ADDRESS_LENGTH = 42
HASH_LENGTH = 66


class Dex(models.Model):
    """A Uniswap-V2-style deployment whose factory the indexer watches."""

    chain_id = models.PositiveIntegerField()
    name = models.CharField(max_length=64)
    factory = models.CharField(max_length=ADDRESS_LENGTH)
    router = models.CharField(max_length=ADDRESS_LENGTH, blank=True)
    fee_bps = models.PositiveSmallIntegerField(default=30, help_text="swap fee in basis points (30 = 0.30%)")

    class Meta:
        verbose_name_plural = "DEXes"
        constraints = [
            models.UniqueConstraint(fields=["chain_id", "factory"], name="dex_one_per_factory"),
            models.CheckConstraint(condition=Q(fee_bps__lt=10_000), name="dex_fee_below_100pct"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.chain_id})"


class Token(models.Model):
    class QuoteKind(models.TextChoices):
        NONE = "", "not a quote asset"
        USD = "usd", "USD stablecoin"
        NATIVE = "native", "wrapped native coin"

    chain_id = models.PositiveIntegerField()
    address = models.CharField(max_length=ADDRESS_LENGTH)
    name = models.CharField(max_length=128, blank=True)
    symbol = models.CharField(max_length=64, blank=True)
    decimals = models.PositiveSmallIntegerField(null=True, help_text="null when decimals() reverted")
    total_supply = Uint256Field(null=True, help_text="base units, kept current from mints and burns")
    metadata_issues = models.JSONField(default=list, blank=True, help_text='e.g. ["symbol:bytes32"]')
    quote_kind = models.CharField(max_length=8, choices=QuoteKind.choices, default=QuoteKind.NONE, blank=True)
    first_seen_block = models.PositiveBigIntegerField()
    # Derived market state, as of ``market_block``.
    price_usd = models.FloatField(null=True, help_text="USD, liquidity-weighted over the token's priced pools")
    liquidity_usd = models.FloatField(default=0.0, help_text="USD, both sides of every priced pool")
    holder_count = models.PositiveIntegerField(default=0, help_text="addresses with a positive balance")
    market_block = models.PositiveBigIntegerField(null=True)
    market_updated_at = models.DateTimeField(null=True, help_text="block time of market_block")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["chain_id", "address"], name="token_one_per_address"),
            models.CheckConstraint(
                condition=Q(decimals__isnull=True) | Q(decimals__lte=77), name="token_decimals_sane"
            ),
        ]
        # The market's "now" (newest market_updated_at), read by every ratings page request.
        indexes = [models.Index(fields=["market_updated_at"], name="token_market_time")]

    def __str__(self) -> str:
        return self.symbol or self.address

    def units(self, amount: int) -> float:
        """Base units to whole tokens (18 decimals assumed when decimals() reverted)."""
        return amount / 10 ** (18 if self.decimals is None else self.decimals)


class Pool(models.Model):
    chain_id = models.PositiveIntegerField()
    address = models.CharField(max_length=ADDRESS_LENGTH)
    dex = models.ForeignKey(Dex, on_delete=models.CASCADE, related_name="pools")
    token0 = models.ForeignKey(Token, on_delete=models.CASCADE, related_name="+")
    token1 = models.ForeignKey(Token, on_delete=models.CASCADE, related_name="+")
    created_block = models.PositiveBigIntegerField()
    reserve0 = Uint256Field(default=0)
    reserve1 = Uint256Field(default=0)
    reserves_block = models.PositiveBigIntegerField(null=True, help_text="block of the last Sync applied")
    tvl_usd = models.FloatField(default=0.0, help_text="USD value of both reserves; 0 when unpriced")
    updated_at = models.DateTimeField(null=True, help_text="block time of reserves_block")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["chain_id", "address"], name="pool_one_per_address"),
            models.CheckConstraint(condition=~Q(token0=models.F("token1")), name="pool_two_distinct_tokens"),
        ]
        indexes = [
            models.Index(fields=["token0"], name="pool_token0"),  # pools of a token
            models.Index(fields=["token1"], name="pool_token1"),
        ]

    def __str__(self) -> str:
        return f"{self.token0}/{self.token1} on {self.dex.name}"


class Checkpoint(models.Model):
    """Where indexing of one chain stands: ``next_block`` is the next block to read."""

    chain_id = models.PositiveIntegerField(unique=True)
    next_block = models.PositiveBigIntegerField()
    head_block = models.PositiveBigIntegerField(null=True, help_text="node head seen at the last batch")
    reorgs = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"chain {self.chain_id} at block {self.next_block}"


class IndexedBlock(models.Model):
    """Hash and time of blocks the indexer stored rows for (plus each batch's last block),
    so a reorg is found by comparing hashes with the node and times are not fetched twice."""

    chain_id = models.PositiveIntegerField()
    number = models.PositiveBigIntegerField()
    hash = models.CharField(max_length=HASH_LENGTH)
    timestamp = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["chain_id", "number"], name="block_one_per_number")]

    def __str__(self) -> str:
        return f"{self.chain_id}:{self.number}"


class EventRow(models.Model):
    """A log as the chain recorded it, written only by the indexer, in bulk (``COPY``).

    Each index here is upkeep on every one of the hundreds of thousands of rows a catch-up
    writes, so the event tables keep only what a read or the rollback uses:

    * the primary key is the log, (chain id, block number, log index), with no serial ``id``
      column, sequence or index beside it: a log's index is its position in its block, so
      this identifies a log as (chain id, tx hash, log index) did,
      with a small key that grows with the chain (appended at the right edge of the b-tree,
      where random 66-character hashes landed anywhere), and it serves the rollback's
      ``block_number >= fork`` and the chain's counts, so no separate block index is kept;
    * no foreign-key constraints on the token/pool columns, and no index of their own where
      a composite index leads with the column (it serves every lookup and Django's
      cascades just as well); the rows are only ever inserted by the batch that inserts or
      already has their token and pool. A checked constraint costs a trigger query per row at commit (about
      3 s of a 215k-log catch-up, more than the rest of the commit), for a guarantee the
      indexer gives by construction; deletes still cascade through the ORM.
    """

    pk = models.CompositePrimaryKey("chain_id", "block_number", "log_index")
    chain_id = models.PositiveIntegerField()
    block_number = models.PositiveBigIntegerField()
    tx_hash = models.CharField(max_length=HASH_LENGTH)
    log_index = models.PositiveIntegerField()
    timestamp = models.DateTimeField()

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return f"{type(self).__name__} {self.tx_hash}#{self.log_index}"


class Transfer(EventRow):
    class Kind(models.TextChoices):
        TRANSFER = "transfer"
        BUY = "buy", "buy (from a pool)"
        SELL = "sell", "sell (into a pool)"
        MINT = "mint"
        BURN = "burn"

    # No FK constraint or index of its own: see ``EventRow``; ``transfer_token_time`` leads with it.
    token = models.ForeignKey(
        Token, on_delete=models.CASCADE, related_name="transfers", db_index=False, db_constraint=False
    )
    from_address = models.CharField(max_length=ADDRESS_LENGTH)
    to_address = models.CharField(max_length=ADDRESS_LENGTH)
    value = Uint256Field()
    kind = models.CharField(max_length=8, choices=Kind.choices)
    usd_value = models.FloatField(null=True, help_text="USD at the token's price when it moved; null if unpriced")
    is_whale = models.BooleanField(default=False)

    class Meta:
        indexes = [
            models.Index(fields=["token", "timestamp"], name="transfer_token_time"),  # activity, token feed
            models.Index(
                fields=["token", "-timestamp"], condition=Q(is_whale=True), name="transfer_whale_recent"
            ),  # whale feed
        ]

    def __str__(self) -> str:
        return f"{type(self).__name__} {self.tx_hash}#{self.log_index}"


class Swap(EventRow):
    """A pool ``Swap`` log, with its price read as base token in USD.

    The base token is the side that is not the pool's quote asset (stablecoin preferred as
    quote, then wrapped native); ``price_usd`` and ``volume_usd`` are null for pools with no
    quote asset.
    """

    # No FK constraints or indexes of their own: see ``EventRow``; ``swap_pool_recent`` and
    # ``swap_base_time`` lead with them.
    pool = models.ForeignKey(Pool, on_delete=models.CASCADE, related_name="swaps", db_index=False, db_constraint=False)
    sender = models.CharField(max_length=ADDRESS_LENGTH)
    recipient = models.CharField(max_length=ADDRESS_LENGTH)
    amount0_in = Uint256Field()
    amount1_in = Uint256Field()
    amount0_out = Uint256Field()
    amount1_out = Uint256Field()
    base_token = models.ForeignKey(
        Token, on_delete=models.CASCADE, related_name="+", null=True, db_index=False, db_constraint=False
    )
    is_buy = models.BooleanField(null=True, help_text="base token bought (left the pool)")
    base_amount = models.FloatField(null=True, help_text="whole base tokens traded")
    price_usd = models.FloatField(null=True)
    volume_usd = models.FloatField(null=True)

    class Meta:
        indexes = [
            models.Index(fields=["pool", "-block_number"], name="swap_pool_recent"),
            models.Index(fields=["base_token", "timestamp"], name="swap_base_time"),  # candle rebuild
        ]

    def __str__(self) -> str:
        return f"{type(self).__name__} {self.tx_hash}#{self.log_index}"


class Sync(EventRow):
    # No FK constraint or index of its own: see ``EventRow``; ``sync_pool_latest`` leads with it.
    pool = models.ForeignKey(Pool, on_delete=models.CASCADE, related_name="syncs", db_index=False, db_constraint=False)
    reserve0 = Uint256Field()
    reserve1 = Uint256Field()
    tvl_usd = models.FloatField(default=0.0, help_text="USD value of the reserves at that moment")

    class Meta:
        indexes = [
            models.Index(fields=["pool", "-block_number", "-log_index"], name="sync_pool_latest"),
        ]

    def __str__(self) -> str:
        return f"{type(self).__name__} {self.tx_hash}#{self.log_index}"


class LiquidityEvent(EventRow):
    class Kind(models.TextChoices):
        MINT = "mint", "liquidity added"
        BURN = "burn", "liquidity removed"

    pool = models.ForeignKey(Pool, on_delete=models.CASCADE, related_name="liquidity_events", db_constraint=False)
    kind = models.CharField(max_length=4, choices=Kind.choices)
    sender = models.CharField(max_length=ADDRESS_LENGTH)
    recipient = models.CharField(max_length=ADDRESS_LENGTH, blank=True)
    amount0 = Uint256Field()
    amount1 = Uint256Field()

    def __str__(self) -> str:
        return f"{type(self).__name__} {self.tx_hash}#{self.log_index}"


class SkippedLog(EventRow):
    """A log the indexer could not decode or store, kept with the reason instead of crashing."""

    address = models.CharField(max_length=ADDRESS_LENGTH)
    topic0 = models.CharField(max_length=HASH_LENGTH, blank=True)
    reason = models.CharField(max_length=255)

    def __str__(self) -> str:
        return f"{type(self).__name__} {self.tx_hash}#{self.log_index}"


class HolderBalance(models.Model):
    # No FK constraint, and no index of its own: the primary key leads with it (see the module
    # docstring).
    pk = models.CompositePrimaryKey("token", "address")
    token = models.ForeignKey(
        Token, on_delete=models.CASCADE, related_name="balances", db_index=False, db_constraint=False
    )
    address = models.CharField(max_length=ADDRESS_LENGTH)
    balance = Uint256Field(help_text="base units")
    updated_block = models.PositiveBigIntegerField()

    class Meta:
        indexes = [models.Index(fields=["token", "-balance"], name="holder_top")]  # top holders

    def __str__(self) -> str:
        return f"{self.address} holds {self.balance} of token {self.token_id}"


class Interval(models.TextChoices):
    MINUTE = "1m"
    HOUR = "1h"
    DAY = "1d"


class Candle(models.Model):
    """OHLC of the token's USD trade price and its volume over one bucket, from swaps."""

    pk = models.CompositePrimaryKey("token", "interval", "bucket")
    token = models.ForeignKey(  # no FK constraint, no index of its own (module docstring)
        Token, on_delete=models.CASCADE, related_name="candles", db_index=False, db_constraint=False
    )
    interval = models.CharField(max_length=2, choices=Interval.choices)
    bucket = models.DateTimeField(help_text="bucket start, UTC")
    open = models.FloatField()
    high = models.FloatField()
    low = models.FloatField()
    close = models.FloatField()
    volume = models.FloatField(help_text="whole tokens")
    volume_usd = models.FloatField()
    buy_volume_usd = models.FloatField(default=0.0)
    trades = models.PositiveIntegerField()

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(low__lte=models.F("high")), name="candle_low_le_high"),
        ]

    def __str__(self) -> str:
        return f"{self.token_id} {self.interval} {self.bucket:%Y-%m-%d %H:%M}"


class PoolSnapshot(models.Model):
    """A pool's reserves and TVL at the end of an hour (the last Sync within it)."""

    pk = models.CompositePrimaryKey("pool", "hour")
    pool = models.ForeignKey(  # no FK constraint, no index of its own (module docstring)
        Pool, on_delete=models.CASCADE, related_name="snapshots", db_index=False, db_constraint=False
    )
    hour = models.DateTimeField()
    reserve0 = Uint256Field()
    reserve1 = Uint256Field()
    tvl_usd = models.FloatField()

    def __str__(self) -> str:
        return f"pool {self.pool_id} at {self.hour:%Y-%m-%d %H:00}"


class TokenActivity(models.Model):
    """Counts of on-chain activity for a token over one bucket."""

    pk = models.CompositePrimaryKey("token", "interval", "bucket")
    token = models.ForeignKey(  # no FK constraint, no index of its own (module docstring)
        Token, on_delete=models.CASCADE, related_name="activity", db_index=False, db_constraint=False
    )
    interval = models.CharField(max_length=2, choices=Interval.choices)
    bucket = models.DateTimeField()
    transfers = models.PositiveIntegerField(default=0)
    active_addresses = models.PositiveIntegerField(default=0, help_text="distinct senders and receivers")
    swaps = models.PositiveIntegerField(default=0)
    unique_traders = models.PositiveIntegerField(default=0, help_text="distinct swap recipients")
    whale_transfers = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.token_id} {self.interval} {self.bucket:%Y-%m-%d %H:%M}"
