"""Undo everything indexed from a fork block up, in one transaction.

Raw rows from the fork block up are deleted; derived data is reversed (balances, supply)
or rebuilt from the rows that remain (reserves, candles, snapshots, activity), using the
same aggregators as the forward path, and the checkpoint is rewound compare-and-set.
"""

from __future__ import annotations

from collections import defaultdict
from typing import cast

from django.db import transaction
from django.db.models import F, Q

from market.decode import ZERO_ADDRESS
from market.derive import INTERVAL_SECONDS, CandleBook, to_datetime
from market.indexer import activity_rebuild, candles_merge, holder_balances_apply, snapshots_write
from market.models import (
    Candle,
    Checkpoint,
    HolderBalance,
    IndexedBlock,
    LiquidityEvent,
    Pool,
    PoolSnapshot,
    SkippedLog,
    Swap,
    Sync,
    Token,
    TokenActivity,
    Transfer,
)
from market.rpc import RpcClient


class RollbackConflict(Exception):
    """The checkpoint was already below the fork block, or moved during the rollback."""


@transaction.atomic
def rollback_chain_to(*, chain_id: int, fork_block: int, rpc: RpcClient | None = None) -> None:
    checkpoint = Checkpoint.objects.select_for_update().get(chain_id=chain_id)
    if checkpoint.next_block <= fork_block:
        raise RollbackConflict(f"chain {chain_id}: checkpoint {checkpoint.next_block} is not past {fork_block}")
    previous_next = checkpoint.next_block

    earliest = [
        model.objects.filter(chain_id=chain_id, block_number__gte=fork_block)
        .order_by("timestamp")
        .values_list("timestamp", flat=True)
        .first()
        for model in (Transfer, Swap, Sync)
    ]
    times = [t for t in earliest if t is not None]
    since = int(min(times).timestamp()) if times else None

    # Balances and supply: reverse the transfers being removed.
    deltas: dict[tuple[int, str], int] = defaultdict(int)
    supply: dict[int, int] = defaultdict(int)
    for token_id, sender, receiver, value in (
        Transfer.objects.filter(chain_id=chain_id, block_number__gte=fork_block)
        .values_list("token_id", "from_address", "to_address", "value")
        .iterator(chunk_size=20000)
    ):
        if sender != ZERO_ADDRESS:
            deltas[(token_id, sender)] += value
        else:
            supply[token_id] -= value
        if receiver != ZERO_ADDRESS:
            deltas[(token_id, receiver)] -= value
        else:
            supply[token_id] += value

    for model in (Transfer, Swap, Sync, LiquidityEvent, SkippedLog):
        model.objects.filter(chain_id=chain_id, block_number__gte=fork_block).delete()
    IndexedBlock.objects.filter(chain_id=chain_id, number__gte=fork_block).delete()
    # Pools and tokens first seen after the fork go entirely (their rows cascade).
    Pool.objects.filter(chain_id=chain_id, created_block__gte=fork_block).delete()
    gone = set(Token.objects.filter(chain_id=chain_id, first_seen_block__gte=fork_block).values_list("id", flat=True))
    Token.objects.filter(id__in=gone).delete()

    touched_tokens = {token_id for token_id, _ in deltas} - gone
    kept = {key: delta for key, delta in deltas.items() if key[0] not in gone}
    holder_balances_apply(deltas=kept, block=fork_block - 1)
    # An address first seen in the removed blocks must vanish, as if it had never been read.
    for token_id, address in kept:
        if (
            not Transfer.objects.filter(token_id=token_id)
            .filter(Q(from_address=address) | Q(to_address=address))
            .exists()
        ):
            HolderBalance.objects.filter(token_id=token_id, address=address, balance=0).delete()
    for token in Token.objects.filter(id__in=touched_tokens | set(supply)).exclude(id__in=gone):
        token.holder_count = HolderBalance.objects.filter(token=token, balance__gt=0).count()
        if token.total_supply is not None and token.id in supply:
            token.total_supply = max(0, token.total_supply + supply[token.id])
        token.save(update_fields=["holder_count", "total_supply"])

    # Reserves: back to each pool's last remaining Sync.
    for pool in Pool.objects.filter(chain_id=chain_id, reserves_block__gte=fork_block):
        last = pool.syncs.order_by("-block_number", "-log_index").first()
        pool.reserve0, pool.reserve1 = (last.reserve0, last.reserve1) if last else (0, 0)
        pool.reserves_block = last.block_number if last else None
        pool.tvl_usd = last.tvl_usd if last else 0.0
        pool.updated_at = last.timestamp if last else None
        pool.save(update_fields=["reserve0", "reserve1", "reserves_block", "tvl_usd", "updated_at"])

    if since is not None:
        _rebuild_time_series(chain_id=chain_id, since=since)

    moved = Checkpoint.objects.filter(chain_id=chain_id, next_block=previous_next).update(
        next_block=fork_block, reorgs=F("reorgs") + 1
    )
    if moved != 1:
        raise RollbackConflict(f"chain {chain_id}: checkpoint moved during rollback")


def _rebuild_time_series(*, chain_id: int, since: int) -> None:
    """Candles, pool snapshots and activity from the first affected bucket up, from rows."""

    day = since - since % INTERVAL_SECONDS["1d"]
    tokens = Token.objects.filter(chain_id=chain_id)
    for interval, size in INTERVAL_SECONDS.items():
        Candle.objects.filter(
            token__in=tokens, interval=interval, bucket__gte=to_datetime(since - since % size)
        ).delete()
    book = CandleBook()
    for token_id, when, price, amount, volume_usd, is_buy in (
        Swap.objects.filter(chain_id=chain_id, timestamp__gte=to_datetime(day), price_usd__isnull=False)
        .order_by("block_number", "log_index")
        .values_list("base_token_id", "timestamp", "price_usd", "base_amount", "volume_usd", "is_buy")
        .iterator(chunk_size=20000)
    ):
        # Swaps with a price (the filter) have an amount and a USD volume too: the walk sets all three.
        price, amount, volume_usd = cast(float, price), cast(float, amount), cast(float, volume_usd)
        book.add(token_id, int(when.timestamp()), price, amount, volume_usd, bool(is_buy))
    cutoff = {interval: since - since % size for interval, size in INTERVAL_SECONDS.items()}
    candles_merge({key: row for key, row in book.rows.items() if key[2] >= cutoff[key[1]]})

    hour = since - since % 3600
    PoolSnapshot.objects.filter(pool__chain_id=chain_id, hour__gte=to_datetime(hour)).delete()
    last_in_hour: dict[tuple[int, int], tuple[int, int, float]] = {}
    for pool_id, when, r0, r1, tvl in (
        Sync.objects.filter(chain_id=chain_id, timestamp__gte=to_datetime(hour))
        .order_by("block_number", "log_index")
        .values_list("pool_id", "timestamp", "reserve0", "reserve1", "tvl_usd")
        .iterator(chunk_size=20000)
    ):
        ts = int(when.timestamp())
        last_in_hour[(pool_id, ts - ts % 3600)] = (r0, r1, tvl)
    snapshots_write(last_in_hour)

    TokenActivity.objects.filter(token__in=tokens, bucket__gte=to_datetime(hour)).delete()
    TokenActivity.objects.filter(token__in=tokens, interval="1d", bucket__gte=to_datetime(day)).delete()
    activity_rebuild(
        chain_id=chain_id, since_by_token={token_id: day for token_id in tokens.values_list("id", flat=True)}
    )
