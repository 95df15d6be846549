"""The chain indexer: read logs from a JSON-RPC node into the database, reorg-safe.

One loop (``ChainIndexer.run_to_head``): check recent block hashes against the node, pick a
range held back ``confirmations`` blocks from head, fetch its logs, walk them in chain order
into rows and derived data, and commit rows and checkpoint together in one transaction. The
checkpoint holds the next block to read and moves compare-and-set, so a killed or duplicated
worker can neither skip nor double-apply a range.

On PostgreSQL the loop is a pipeline: the next range is fetched on one thread while this
one is walked, and the previous one is written (and its checkpoint committed) on a second
connection meanwhile, so the node's, Python's and the database's work overlap.

The range span adapts: it doubles while batches are quick and halves after a slow one, within
``INDEX_SPAN_MIN``..``INDEX_SPAN_MAX`` blocks. A request the node refuses as too large (too many
blocks or results, or a timeout) is read in smaller pieces, and the widest piece it took caps
every later request (``RpcClient.logs_in_range``), so a node with a range limit is read the same way.

A catch-up of more than one range first asks for the factories' ``PairCreated`` logs over all
of it (``plan_discoveries``), so the tokens of pools it will discover are fetched from its
first block and their history is not read again when their pool turns up.
"""

from __future__ import annotations

import bisect
import contextlib
import gc
import logging
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import msgspec
from django.conf import settings
from django.db import connection, transaction

from market import decode as d
from market.derive import (
    INTERVAL_SECONDS,
    ActivityBook,
    CandleBook,
    MarketState,
    PoolState,
    TokenState,
    pool_sides,
    to_datetime,
)
from market.models import (
    Candle,
    Checkpoint,
    Dex,
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
from market.rpc import Log, RangeTooLarge, RpcClient, RpcError
from market.store import bulk_insert, chunked, copy_rows, greatest, least, temp_name, update_rows, upsert_rows
from monitoring import metrics

logger = logging.getLogger(__name__)

ERC20_NAME = "0x06fdde03"
ERC20_SYMBOL = "0x95d89b41"
ERC20_DECIMALS = "0x313ce567"
ERC20_TOTAL_SUPPLY = "0x18160ddd"
COLLECT_EVERY_BATCHES = 50  # batches between full garbage collections during a run (``_collection_paused``)


class CheckpointMoved(Exception):
    """Another worker moved the checkpoint, or a rewind happened, while this batch ran."""


class ReorgTooDeep(Exception):
    """Every stored block in the reorg window differs from the node: rewind by hand."""


class ReorgDuringFetch(Exception):
    """A log's block hash did not match the header fetched with it; the batch is retried."""


@dataclass(frozen=True)
class Watch:
    """Factories, tokens and pools a fetch asks the node about."""

    factories: dict[str, int]
    tokens: frozenset[str]
    pools: frozenset[str]
    # Tokens and pools whose PairCreated lies ahead in this run (``ChainIndexer.plan_discoveries``),
    # fetched from ``ahead_since`` on: a new token's logs since then are kept by the walk
    # (``ChainIndexer.kept``), so its discovery reads from the node only what came before.
    ahead: frozenset[str] = frozenset()
    ahead_since: int = 0


@dataclass
class BatchStats:
    from_block: int
    to_block: int
    logs: int
    seconds: float


@dataclass
class RunStats:
    batches: list[BatchStats] = field(default_factory=list)
    reorgs: int = 0
    started: float = field(default_factory=time.perf_counter)

    @property
    def logs(self) -> int:
        return sum(b.logs for b in self.batches)

    @property
    def blocks(self) -> int:
        return sum(b.to_block - b.from_block + 1 for b in self.batches)

    @property
    def seconds(self) -> float:
        return time.perf_counter() - self.started


@dataclass
class Batch:
    """Everything one range produced, ready to be written."""

    from_block: int
    to_block: int
    headers: dict[int, dict[str, Any]]
    logs: list[Log] = field(default_factory=list)
    timestamps: dict[int, int] = field(default_factory=dict)  # block -> unix seconds
    watch: Watch | None = None  # what the fetch asked for
    discovered: tuple[list[tuple[str, int, str, str, int]], list[str], dict[str, dict[str, Any]]] | None = None
    transfers: list[tuple[Any, ...]] = field(default_factory=list)
    swaps: list[tuple[Any, ...]] = field(default_factory=list)
    syncs: list[tuple[Any, ...]] = field(default_factory=list)
    liquidity: list[tuple[Any, ...]] = field(default_factory=list)
    skipped: list[tuple[Any, ...]] = field(default_factory=list)
    balance_deltas: dict[tuple[int, str], int] = field(default_factory=lambda: defaultdict(int))
    candles: CandleBook = field(default_factory=CandleBook)
    snapshots: dict[tuple[int, int], tuple[int, int, float]] = field(default_factory=dict)
    touched_pools: set[int] = field(default_factory=set)
    activity_from: dict[int, int] = field(default_factory=dict)  # token id -> earliest unix time touched
    activity: ActivityBook = field(default_factory=ActivityBook)
    log_count: int = 0
    # Filled once the walk is done (``_finish_walk``), so writing needs nothing but the batch:
    new_tokens: list[Token] = field(default_factory=list)  # discovered rows with preallocated ids
    new_pools: list[Pool] = field(default_factory=list)
    block_rows: list[tuple[int, int, str, datetime]] = field(default_factory=list)  # IndexedBlock rows
    pool_values: list[tuple[int, int, int, int | None, float, datetime | None, bool]] = field(default_factory=list)
    token_values: dict[int, tuple[float | None, float, int | None]] = field(default_factory=dict)
    activity_carry: ActivityCarry | None = None  # open activity buckets, for the next batch


@dataclass
class ActivityCarry:
    """Activity of the buckets still open after a batch, complete for buckets after ``since``.

    Distinct addresses cannot be added across batches; with the open buckets' address sets
    kept in memory the next batch merges its own into them instead of asking the database to
    recount the bucket (``activity_rebuild``). Only buckets starting after the first batch
    of a run are complete in memory; older ones are still recounted.
    """

    to_block: int  # the batch this carry follows
    since: int  # unix seconds: buckets starting after this hold every event
    book: ActivityBook


class _BatchWriter:
    """Writes walked batches on its own thread and database connection, one at a time, in order.

    Each batch is one transaction (rows, derived data and checkpoint), as on the serial path,
    so a killed process leaves whole batches only. While the database works through batch
    N's writes (COPY, index upkeep, upserts, the commit's WAL flush), the indexer's thread
    walks batch N+1, so the database's time overlaps Python's instead of adding to it.
    """

    def __init__(self, write: Callable[[Batch, int], None], committed: Callable[[Batch], None]) -> None:
        self._write = write
        self._committed = committed
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="index-writer")
        self._pending: Future[None] | None = None
        self.pending_blocks: dict[int, str] = {}  # block hashes of the batch in flight, for the fork check

    def _run(self, batch: Batch, head: int) -> None:
        with transaction.atomic():
            with connection.cursor() as cursor:
                # The commit need not wait for its WAL flush: should the server crash, it loses
                # whole batches with their checkpoint, which the next run reads again.
                cursor.execute("SET LOCAL synchronous_commit TO OFF")
            self._write(batch, head)
        self._committed(batch)

    def submit(self, batch: Batch, head: int) -> None:
        """Queue a walked batch, after the one in flight has committed (at most one waits)."""
        self.wait()
        self.pending_blocks = {number: block_hash for _, number, block_hash, _ in batch.block_rows}
        self._pending = self._executor.submit(self._run, batch, head)

    def wait(self) -> None:
        """Until the batch in flight is committed; raises what its write raised."""
        pending, self._pending = self._pending, None
        try:
            if pending is not None:
                pending.result()
        finally:
            self.pending_blocks = {}

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.wait()  # an error here was raised to the caller already, or one is on its way
        with contextlib.suppress(Exception):  # e.g. the server went away: nothing left to close
            self._executor.submit(lambda: connection.close()).result()  # the writer thread's own connection
        self._executor.shutdown(wait=True)


@contextlib.contextmanager
def _collection_paused() -> Iterator[None]:
    """Cyclic garbage collection paused for a run (``run_to_head`` collects every few batches).

    A batch is hundreds of thousands of containers (the node's log dicts and lists, the walk's
    rows and aggregates) alive until it is written. Python scans the young ones every 700
    allocations and all of them whenever the survivors grow by a quarter: about a fifth of the
    indexer's CPU on the 215k-log benchmark (11.8 s -> 9.0 s without). Almost none of it is
    cyclic garbage (100 objects over that whole run, found by one ``gc.collect()`` at the
    end), so the loop collects every ``COLLECT_EVERY_BATCHES`` batches and automatic
    collection resumes when the run returns.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _chain_order(log: Log) -> tuple[int, int]:
    return int(log.blockNumber, 16), int(log.logIndex, 16)


def _block_of(log: Log) -> int:
    return int(log.blockNumber, 16)


def _block_firsts(logs: list[Log]) -> list[Log] | None:
    """The first log of each block if ``logs`` is in chain order, else None.

    One pass over the node's hex strings (a number without leading zeros is ordered by its
    length, then its text), instead of a sort key, a set of block numbers and a scan for the
    blocks' times and hashes each making a pass with ``int()`` per log: 3 ms instead of 20 ms
    per 39k-log range. Nodes return each range's logs in chain order, and the ranges are
    fetched in order, so the sort is only needed when logs were added (discoveries).
    """
    firsts: list[Log] = []
    block = index = ""
    for log in logs:
        number, position = log.blockNumber, log.logIndex
        if number != block:
            if firsts and (len(number) < len(block) or (len(number) == len(block) and number < block)):
                return None
            firsts.append(log)
            block = number
        elif len(position) < len(index) or (len(position) == len(index) and position <= index):
            return None
        index = position
    return firsts


def _check_hashes(logs: list[Log], headers: dict[int, dict[str, Any]], *, since: int = 0) -> None:
    """Every log's block hash must be the one in the headers fetched after it, else the block
    was replaced in between (``ReorgDuringFetch``). Matched on the node's hex block numbers.

    ``since``: only the logs of blocks from this one on (``logs`` in chain order), when the
    older blocks' hashes were taken from their own logs and have nothing to be checked against.
    """
    by_hex = {hex(number): header["hash"] for number, header in headers.items() if number >= since}
    if since:
        logs = logs[bisect.bisect_left(logs, since, key=_block_of) :]
    for log in logs:
        expected = by_hex.get(log.blockNumber)
        if expected is None:  # not written the canonical way
            expected = headers[int(log.blockNumber, 16)]["hash"]
        if log.blockHash != expected:
            raise ReorgDuringFetch(f"block {int(log.blockNumber, 16)} changed while its logs were read")


def _as_dict(log: Log) -> dict[str, Any]:
    """The node's form of a log, for the decoders in ``market.decode`` (the walk slices the
    common shapes itself and only sends the others there)."""
    return msgspec.structs.asdict(log)


def _discard(prefetch: tuple[int, int, Future[Batch]] | None) -> None:
    """Drop a prefetch that will not be used, letting an error it raised go with it."""
    if prefetch is not None:
        prefetch[2].cancel()
        with contextlib.suppress(Exception):
            prefetch[2].result()


class ChainIndexer:
    """Indexes one chain from the checkpoint to the node's head.

    Sources of what to watch: the ``Dex`` rows (factories) and tokens flagged as quote
    assets, which ``market.services.index_sources_sync`` fills from the deployment
    registry and settings before a run.
    """

    def __init__(
        self,
        *,
        rpc: RpcClient,
        chain_id: int,
        progress: Callable[[str], None] | None = None,
        pipeline: bool | None = None,
    ) -> None:
        self.rpc = rpc
        self.chain_id = chain_id
        self.progress = progress
        self.confirmations = settings.INDEX_CONFIRMATIONS
        self.reorg_depth = settings.INDEX_REORG_DEPTH
        self.span = settings.INDEX_SPAN_INITIAL
        # None: pipelined on PostgreSQL outside a transaction (see run_to_head). A second
        # connection's writes need their own transactions, so never inside a caller's (a
        # test's), and on SQLite two connections would only take turns anyway.
        self.pipeline = pipeline
        self.state = MarketState()
        self._activity_carry: ActivityCarry | None = None
        self.ahead: set[str] = set()  # tokens and pools a PairCreated ahead in the run names
        self.ahead_since = 0
        # Logs (and their block's time) of tokens ahead, by the node's lowercase address, kept
        # by the walk until the batch that discovers them; overflowing ones are read again.
        self.kept: dict[str, list[tuple[Log, int]]] = {}
        self.kept_overflow: set[str] = set()
        self.load_state()

    # --- state ----------------------------------------------------------------------------

    def load_state(self) -> None:
        """Reload tokens and pools from the database (after a rollback or a failed batch)."""
        state = MarketState()
        for token in Token.objects.filter(chain_id=self.chain_id).only(
            "id", "address", "decimals", "quote_kind", "total_supply"
        ):
            state.add_token(
                TokenState(
                    token.id,
                    token.address,
                    18 if token.decimals is None else token.decimals,
                    token.quote_kind,
                    token.total_supply,
                )
            )
        for pool in Pool.objects.filter(chain_id=self.chain_id).order_by("id"):
            base_is_token0, quote_kind = pool_sides(state.tokens[pool.token0_id], state.tokens[pool.token1_id])
            state.add_pool(
                PoolState(
                    pool.id,
                    pool.address,
                    pool.token0_id,
                    pool.token1_id,
                    pool.reserve0,
                    pool.reserve1,
                    base_is_token0,
                    quote_kind,
                    pool.reserves_block,
                    int(pool.updated_at.timestamp()) if pool.updated_at else None,
                )
            )
        self.state = state
        self.factories = {dex.factory: dex.id for dex in Dex.objects.filter(chain_id=self.chain_id)}
        self._activity_carry = None

    def checkpoint(self) -> Checkpoint:
        checkpoint, _ = Checkpoint.objects.get_or_create(
            chain_id=self.chain_id, defaults={"next_block": settings.INDEX_START_BLOCK}
        )
        return checkpoint

    # --- the loop ---------------------------------------------------------------------------

    def _pipelined(self) -> bool:
        if self.pipeline is not None:
            return self.pipeline
        return connection.vendor == "postgresql" and not connection.in_atomic_block

    def run_to_head(self, *, max_batches: int | None = None) -> RunStats:
        """Index batch after batch until the head, three stages deep on PostgreSQL.

        The next range is fetched (a thread) while this one is walked, and the walk of this
        one runs while the previous one is written (``_BatchWriter``). Elsewhere (SQLite, or
        inside a caller's transaction) each batch is walked and written in turn.

        The prefetch is only used when it starts where this batch ends; it watches the pools
        and tokens this batch discovered, and is patched if anything else turned up since.
        """
        with _collection_paused():
            return self._run_to_head(max_batches)

    def _run_to_head(self, max_batches: int | None) -> RunStats:
        stats = RunStats()
        prefetch: tuple[int, int, Future[Batch]] | None = None
        fetcher = ThreadPoolExecutor(max_workers=1, thread_name_prefix="prefetch")
        writer = _BatchWriter(self._write_batch, self._batch_committed) if self._pipelined() else None
        next_block: int | None = None  # where the next batch starts; None: read the checkpoint
        replan = True  # the discoveries ahead are planned from where the checkpoint stands
        try:
            while max_batches is None or len(stats.batches) < max_batches:
                head = self.rpc.block_number()
                target = head - self.confirmations
                if next_block is None:
                    next_block = self.checkpoint().next_block
                    replan = True
                # Checked before "nothing to do": a reorg onto a shorter chain must still rewind.
                fork = self.find_fork(next_block, pending=writer.pending_blocks if writer else None)
                if fork is not None:
                    _discard(prefetch)
                    prefetch = None
                    if writer:
                        self._settle(writer)
                    self.rollback_to(fork)
                    next_block = None
                    stats.reorgs += 1
                    metrics.INDEXER_REORGS.labels(str(self.chain_id)).inc()
                    continue
                if next_block > target:
                    break
                if replan:
                    self.plan_discoveries(next_block, target)
                    replan = False
                from_block = next_block
                started = time.perf_counter()
                try:
                    if prefetch is not None and prefetch[0] == from_block and prefetch[1] <= target:
                        to_block, batch = prefetch[1], self.patch_batch(prefetch[2].result(), self.watch_list())
                    else:
                        _discard(prefetch)
                        prefetch = None
                        to_block = self._range_end(from_block, target, ordinal=len(stats.batches), shape=bool(writer))
                        batch = self.fetch_batch(from_block, to_block, head=head)
                    prefetch = None
                    if to_block < target and (max_batches is None or len(stats.batches) + 1 < max_batches):
                        next_to = self._range_end(
                            to_block + 1, target, ordinal=len(stats.batches) + 1, shape=bool(writer)
                        )
                        prefetch = (
                            to_block + 1,
                            next_to,
                            fetcher.submit(self.fetch_batch, to_block + 1, next_to, self.watch_list(batch), head=head),
                        )
                    if writer is None:
                        with transaction.atomic():
                            self.store_batch(batch, head=head)
                        self._batch_committed(batch)
                    else:
                        self._walk_batch(batch, preallocate=True)
                        writer.submit(batch, head)
                    next_block = to_block + 1
                except (RangeTooLarge, ReorgDuringFetch) as exc:
                    _discard(prefetch)
                    prefetch = None
                    self._settle(writer)
                    next_block = None
                    if isinstance(exc, ReorgDuringFetch):
                        continue
                    if self.span <= settings.INDEX_SPAN_MIN:
                        raise
                    self.span = max(settings.INDEX_SPAN_MIN, self.span // 2)
                    logger.info("range from %d too large (%s); span now %d", from_block, exc.message, self.span)
                    continue
                except Exception:
                    _discard(prefetch)
                    prefetch = None
                    self._settle(writer, quiet=True)
                    raise
                elapsed = time.perf_counter() - started
                if len(stats.batches) % COLLECT_EVERY_BATCHES == COLLECT_EVERY_BATCHES - 1:
                    gc.collect()
                if settings.INDEX_BATCH_PAUSE:
                    time.sleep(settings.INDEX_BATCH_PAUSE)
                stats.batches.append(BatchStats(from_block, to_block, batch.log_count, elapsed))
                metrics.indexer_batch_observe(self.chain_id, to_block - from_block + 1, batch.log_count, elapsed)
                self._adapt_span(elapsed, batch.log_count, to_block - from_block + 1)
                if self.progress:
                    rate = stats.logs / stats.seconds if stats.seconds else 0.0
                    self.progress(
                        f"blocks {from_block}-{to_block} of {target}: {batch.log_count} logs in {elapsed:.2f}s; "
                        f"total {stats.logs} logs, {stats.blocks / stats.seconds:.0f} blocks/s, {rate:.0f} logs/s, "
                        f"lag {target - to_block} blocks"
                    )
            if writer:
                self._settle(writer, reload=False)  # the last batch is committed before returning
        finally:
            _discard(prefetch)
            fetcher.shutdown(wait=True)
            if writer:
                writer.close()
        return stats

    def _settle(self, writer: _BatchWriter | None, *, quiet: bool = False, reload: bool = True) -> None:
        """Wait for the write in flight, then make memory match the database again.

        After a failure the walk may have run ahead of what was committed; tokens, pools and
        carried activity are reloaded from the database. ``quiet`` drops the writer's own
        error, for when another one is already on its way to the caller.
        """
        try:
            if writer:
                writer.wait()
        except Exception:
            reload = True
            if not quiet:
                self.load_state()
                raise
            logger.exception("chain %s: the batch being written failed too", self.chain_id)
        if reload:
            self.load_state()

    def _range_end(self, from_block: int, target: int, *, ordinal: int, shape: bool) -> int:
        """Last block of the run's ``ordinal``-th batch (from 0), which starts at ``from_block``:
        a span's worth, up to ``target``.

        ``shape`` (pipelined): the first batches of a run grow from an eighth of the span
        (1/8, 1/4, 1/2), so the walk starts after a short fetch and each fetch overlaps the
        walk of a batch half its size: the pipeline fills in a fraction of a batch. (With a
        full span second, its fetch ran alone: 0.8 s of the 215k-log benchmark.) A range
        that would leave a few blocks after it takes them in. The ranges before ``target``
        are not made smaller: the write is the slowest stage, so every extra batch there
        added its fixed costs to the drain (halving them cost 0.1 s and 3 batches on the
        benchmark).
        """
        span = self.span
        if shape:
            least = max(settings.INDEX_SPAN_MIN, span // 8)
            remaining = target - from_block + 1
            if ordinal < 3:
                span = min(span, max(least, span >> (3 - ordinal)))
            if remaining - span < least:
                span = remaining  # no batch of a few blocks after this one, with a batch's fixed costs
        return min(from_block + span - 1, target)

    def _adapt_span(self, elapsed: float, logs: int, blocks: int) -> None:
        """Double the span after a quick full-span batch if twice its logs stay under the target
        (the pipeline, and memory, do best with batches of a bounded size); halve it after a
        slow one."""
        if (
            elapsed < settings.INDEX_BATCH_FAST_SECONDS
            and blocks >= self.span
            and 2 * logs <= settings.INDEX_BATCH_TARGET_LOGS
        ):
            self.span = min(settings.INDEX_SPAN_MAX, self.span * 2)
        elif elapsed > settings.INDEX_BATCH_SLOW_SECONDS:
            self.span = max(settings.INDEX_SPAN_MIN, self.span // 2)

    # --- reorgs -----------------------------------------------------------------------------

    def find_fork(self, next_block: int, pending: dict[int, str] | None = None) -> int | None:
        """First block to re-read if stored hashes differ from the node's, else None.

        ``pending``: hashes of a batch still being written, which count as stored.
        """
        since = max(0, next_block - self.reorg_depth)
        hashes = dict(
            IndexedBlock.objects.filter(chain_id=self.chain_id, number__gte=since, number__lt=next_block).values_list(
                "number", "hash"
            )
        )
        hashes.update({n: h for n, h in (pending or {}).items() if since <= n < next_block})
        stored = sorted(hashes.items())
        if not stored:
            return None
        # A block commits to all its ancestors, so the chain forks right after the newest stored
        # block the node still has. (Scanning from the newest also shrugs off an anvil restarted
        # from its state file that answers with another genesis header but the same later blocks.)
        # The newest is asked for alone first: it matches on every batch without a reorg, and
        # the whole window (64 headers) is only needed when it does not.
        newest, newest_hash = stored[-1]
        header = self.rpc.block_headers([newest], missing_ok=True).get(newest)
        if header is not None and header["hash"] == newest_hash:
            return None
        headers = self.rpc.block_headers([number for number, _ in stored[:-1]], missing_ok=True)
        for number, stored_hash in reversed(stored[:-1]):
            header = headers.get(number)
            if header is not None and header["hash"] == stored_hash:
                return number + 1
        raise ReorgTooDeep(f"chain {self.chain_id}: block {stored[0][0]} differs and no older stored block matches")

    def rollback_to(self, fork_block: int) -> None:
        from market.rollback import rollback_chain_to

        logger.warning("chain %s: reorg, rolling back to block %d", self.chain_id, fork_block)
        rollback_chain_to(chain_id=self.chain_id, fork_block=fork_block, rpc=self.rpc)
        self.load_state()

    # --- fetching ---------------------------------------------------------------------------

    def _get_logs(self, from_block: int, to_block: int, addresses: list[str], topics: list[str]) -> list[Log]:
        """Logs of the addresses in the range (``RpcClient.logs_in_range``: a few sub-ranges in
        flight, none wider than the node takes)."""
        return self.rpc.logs_in_range(from_block, to_block, addresses, topics)

    def watch_list(self, batch: Batch | None = None) -> Watch:
        """What to fetch, copied so a prefetch thread never reads state the store changes.

        With ``batch``: also the pools and tokens it discovered, about to be added, so the
        range after it needs no patching (``patch_batch``) for them.
        """
        tokens, pools = set(self.state.token_ids), set(self.state.pool_ids)
        if batch is not None and batch.discovered:
            for pair, _, token0, token1, _ in batch.discovered[0]:
                pools.add(pair)
                tokens.update((token0, token1))
        ahead = frozenset(self.ahead - tokens - pools)
        return Watch(dict(self.factories), frozenset(tokens), frozenset(pools), ahead, self.ahead_since)

    def plan_discoveries(self, from_block: int, target: int) -> None:
        """Find the pools the run will discover, to fetch their tokens' logs from the start.

        Without a plan, the batch that discovers a pool reads its new tokens' transfers from
        ``INDEX_START_BLOCK`` again (their history before the pool): on a catch-up, a scan of
        everything read so far for every batch with a new pool (2.5 times the chain again on
        the 215k-log benchmark). With one ``eth_getLogs`` of the factories' ``PairCreated`` over
        the run's range, those tokens and pools are fetched with the others from the run's
        first block, the walk keeps the tokens' logs until their discovery (``kept``), and
        the discovering batch reads from the node only what precedes the run.

        Discovery itself is unchanged: a pool and its new tokens are still created by the
        batch holding the ``PairCreated`` log. A run of one batch plans nothing. The run plans
        again from the checkpoint after every reload (a failed batch, a rollback), dropping
        what the previous plan kept.
        """
        self.ahead, self.kept, self.kept_overflow, self.ahead_since = set(), {}, set(), from_block
        if target - from_block + 1 <= self.span or not self.factories:
            return
        try:
            created = self._get_logs(from_block, target, list(self.factories), [d.PAIR_CREATED])
        except RpcError as exc:  # an error splitting does not get round (one block refused): the run goes unplanned
            logger.info("chain %s: no discovery plan from block %d (%s)", self.chain_id, from_block, exc)
            return
        for log in created:
            try:
                token0, token1, pair = d.decode_pair_created(_as_dict(log))
            except d.UndecodableLog:
                continue
            for address, is_token in ((token0, True), (token1, True), (pair, False)):
                if address in self.state.token_ids or address in self.state.pool_ids:
                    continue
                self.ahead.add(address)
                if is_token:  # (a pool's own LP token can be another pool's token)
                    self.kept.setdefault(address.lower(), [])

    def fetch_batch(
        self, from_block: int, to_block: int, watch: Watch | None = None, *, head: int | None = None
    ) -> Batch:
        """Logs, headers and discoveries of a range; reads the node only, never the database.

        ``head``: the node's head when the range was chosen (see ``_block_headers``).
        """
        watch = watch or self.watch_list()
        watched = [*watch.factories, *watch.tokens, *watch.pools, *watch.ahead]
        topics = [d.PAIR_CREATED, *d.TOKEN_TOPICS, *d.POOL_TOPICS]
        logs = self._get_logs(from_block, to_block, watched, topics)

        created = [log for log in logs if log.topics and log.topics[0] == d.PAIR_CREATED]
        discovered = self._discover(created, to_block, watch)
        if discovered:
            pools, new_tokens, _ = discovered
            # Pools and tokens planned ahead were fetched with the range already.
            unplanned = [(pair, block) for pair, block, *_ in pools if pair not in watch.ahead]
            if unplanned:
                first_pool_block = min(block for _, block in unplanned)
                logs += self._get_logs(first_pool_block, to_block, [pair for pair, _ in unplanned], list(d.POOL_TOPICS))
            # A token's history starts before its first pool: backfill its transfers (for a
            # token planned ahead, those before the run; the walk kept the ones since).
            start, topics = settings.INDEX_START_BLOCK, list(d.TOKEN_TOPICS)
            logs += self._get_logs(start, to_block, [t for t in new_tokens if t not in watch.ahead], topics)
            logs += self._get_logs(start, watch.ahead_since - 1, [t for t in new_tokens if t in watch.ahead], topics)
        firsts = _block_firsts(logs)
        if firsts is None:
            logs.sort(key=_chain_order)
            firsts = _block_firsts(logs)
            assert firsts is not None

        headers, checked_since = self._block_headers(firsts, to_block, head)
        _check_hashes(logs, headers, since=checked_since)
        timestamps = {number: int(header["timestamp"], 16) for number, header in headers.items()}
        return Batch(
            from_block,
            to_block,
            headers,
            logs=logs,
            timestamps=timestamps,
            discovered=discovered,
            log_count=len(logs),
            watch=watch,
        )

    def _block_headers(
        self, firsts: list[Log], to_block: int, head: int | None
    ) -> tuple[dict[int, dict[str, Any]], int]:
        """Hash and time of each block with logs (``firsts``: the first log of each, in chain
        order) and of ``to_block``, the node's headers read after the logs; and the first
        block whose logs must be checked against them (``_check_hashes``).

        Blocks more than the reorg window below ``head`` are final as far as the indexer is
        concerned (a deeper reorg stops it: ``ReorgTooDeep``), so when the logs carry their
        block's time (``blockTimestamp``), those blocks take hash and time from their logs
        instead of a header: a catch-up reads a header only for the range's last block and
        the window's. On the 215k-log benchmark that is 2,900 fewer headers (block objects
        with their transaction lists) for the node to build and for the fetch to parse.
        The blocks in the window still get headers, so a reorg while their logs were read
        is still caught.
        """
        final = -1 if head is None else head - self.reorg_depth
        from_logs: dict[int, dict[str, Any]] = {}
        numbers: list[int] = []
        for log in firsts:
            number = int(log.blockNumber, 16)
            if number <= final and number != to_block and log.blockTimestamp is not None:
                from_logs[number] = {"hash": log.blockHash, "timestamp": log.blockTimestamp}
            else:
                numbers.append(number)
        if to_block not in numbers:
            numbers.append(to_block)
        headers = self.rpc.block_headers(sorted(numbers))
        checked_since = min(numbers) if from_logs else 0
        headers.update(from_logs)
        return headers, checked_since

    def patch_batch(self, batch: Batch, now: Watch) -> Batch:
        """Bring a prefetched batch up to date with pools and tokens found since it was fetched.

        Their logs in the batch's range are fetched now (whatever the prefetch holds of them,
        such as a token history backfilled as if new, is dropped first), and discoveries
        that are no longer new are struck off.
        """
        then = batch.watch
        assert then is not None
        # Those planned ahead were fetched with the range already.
        added = ((now.tokens - then.tokens) | (now.pools - then.pools)) - then.ahead
        if not added:
            return batch
        logs = [log for log in batch.logs if d.checksum(log.address[2:].lower()) not in added]
        logs += self._get_logs(batch.from_block, batch.to_block, sorted(added), [*d.TOKEN_TOPICS, *d.POOL_TOPICS])
        logs.sort(key=_chain_order)
        self._add_headers(batch, logs)
        _check_hashes(logs, batch.headers)
        if batch.discovered:
            pools, tokens, metadata = batch.discovered
            pools = [p for p in pools if p[0] not in now.pools]
            tokens = [t for t in tokens if t not in now.tokens]
            batch.discovered = (pools, tokens, metadata) if pools else None
        batch.logs, batch.log_count, batch.watch = logs, len(logs), now
        return batch

    # --- discovery --------------------------------------------------------------------------

    def _discover(
        self, created_logs: list[Log], at_block: int, watch: Watch
    ) -> tuple[list[tuple[str, int, str, str, int]], list[str], dict[str, dict[str, Any]]] | None:
        """New pools from PairCreated logs of watched factories, their new tokens and metadata.

        Nothing is written here: ``_create_discovered`` writes the rows inside the batch's
        transaction, so a failed batch leaves no half-discovered pool behind.
        """
        pools: list[tuple[str, int, str, str, int]] = []
        for log in created_logs:
            key = d.log_key(_as_dict(log))
            if key.address not in watch.factories:
                continue
            try:
                token0, token1, pair = d.decode_pair_created(_as_dict(log))
            except d.UndecodableLog:
                continue
            if pair not in watch.pools:
                pools.append((pair, key.block_number, token0, token1, watch.factories[key.address]))
        if not pools:
            return None
        new_tokens = sorted({t for _, _, t0, t1, _ in pools for t in (t0, t1)} - watch.tokens)
        return pools, new_tokens, self._read_metadata(new_tokens, at_block)

    def _read_metadata(self, addresses: list[str], at_block: int) -> dict[str, dict[str, Any]]:
        """name, symbol, decimals, totalSupply of each token, in one batch of eth_calls.

        Non-standard answers are kept and flagged: a bytes32 name or symbol is decoded, a
        reverting call leaves the field empty with an issue recorded.
        """
        # name/symbol/decimals do not change, and a node without archive state cannot answer
        # for old blocks, so they are read at "latest"; the supply must match the batch's end.
        calls = [
            (
                "eth_call",
                [{"to": address, "data": selector}, "latest" if selector != ERC20_TOTAL_SUPPLY else hex(at_block)],
            )
            for address in addresses
            for selector in (ERC20_NAME, ERC20_SYMBOL, ERC20_DECIMALS, ERC20_TOTAL_SUPPLY)
        ]
        replies = self.rpc.batch_parallel(calls) if calls else []
        metadata: dict[str, dict[str, Any]] = {}
        for i, address in enumerate(addresses):
            name_r, symbol_r, decimals_r, supply_r = replies[4 * i : 4 * i + 4]
            issues: list[str] = []
            meta: dict[str, Any] = {"issues": issues}
            for key, reply in (("name", name_r), ("symbol", symbol_r)):
                if isinstance(reply, RpcError) or reply in (None, "0x"):
                    issues.append(f"{key}:reverted")
                    meta[key] = ""
                    continue
                try:
                    text, was_bytes32 = d.decode_string_or_bytes32(reply)
                except d.UndecodableLog:
                    issues.append(f"{key}:undecodable")
                    meta[key] = ""
                    continue
                if was_bytes32:
                    issues.append(f"{key}:bytes32")
                meta[key] = text.replace("\x00", "")[: 64 if key == "symbol" else 128]
            try:
                if isinstance(decimals_r, RpcError) or decimals_r in (None, "0x"):
                    raise d.UndecodableLog("reverted")
                decimals = d.decode_uint(decimals_r)
                if decimals > 77:
                    issues.append("decimals:out-of-range")
                meta["decimals"] = decimals if decimals <= 77 else None
            except d.UndecodableLog:
                issues.append("decimals:reverted")
                meta["decimals"] = None
            if isinstance(supply_r, RpcError) and "revert" not in supply_r.message.lower():
                # No state for that block on this node (not an archive node): the supply
                # is read at the head instead and flagged, since later mints may be in it.
                supply_r = self.rpc.batch([("eth_call", [{"to": address, "data": ERC20_TOTAL_SUPPLY}, "latest"])])[0]
                issues.append("totalSupply:read-at-latest")
            try:
                if isinstance(supply_r, RpcError) or supply_r in (None, "0x"):
                    raise d.UndecodableLog("reverted")
                meta["total_supply"] = d.decode_uint(supply_r)
            except d.UndecodableLog:
                issues.append("totalSupply:reverted")
                meta["total_supply"] = None
            metadata[address] = meta
        return metadata

    def _create_discovered(self, batch: Batch, *, preallocate: bool = False) -> set[int]:
        """Create the Pool/Token rows found by ``_discover``; returns ids of the new tokens.

        ``preallocate``: ids are drawn from the tables' sequences now and the rows are left in
        the batch for the writer (another connection) to insert with the batch.
        """
        if not batch.discovered:
            return set()
        pools, new_tokens, metadata = batch.discovered
        token_ids = iter(_next_ids(Token, len(new_tokens)) if preallocate else [])
        pool_ids = iter(_next_ids(Pool, len(pools)) if preallocate else [])
        quote = self.quote_assets
        created_ids: set[int] = set()
        # From block 0 the token's whole history is read (backfilled), so its supply is the
        # sum of its mints less its burns, exact at every block; from a later start block the
        # history is partial and the supply is taken from totalSupply() instead.
        full_history = settings.INDEX_START_BLOCK == 0
        first_seen = {t: block for _, block, t0, t1, _ in pools for t in (t0, t1)}
        for address in new_tokens:
            meta = metadata[address]
            token = Token(
                chain_id=self.chain_id,
                address=address,
                name=meta["name"],
                symbol=meta["symbol"],
                decimals=meta["decimals"],
                total_supply=0 if full_history else meta["total_supply"],
                metadata_issues=meta["issues"],
                quote_kind=quote.get(address, ""),
                first_seen_block=first_seen[address],
            )
            if preallocate:
                token.id = next(token_ids)
                batch.new_tokens.append(token)
            else:
                token.save(force_insert=True)
            if not full_history:
                created_ids.add(token.id)
            self.state.add_token(
                TokenState(
                    token.id,
                    address,
                    18 if token.decimals is None else token.decimals,
                    token.quote_kind,
                    token.total_supply,
                )
            )
        for pair, block, token0, token1, dex_id in pools:
            t0, t1 = self.state.token_ids[token0], self.state.token_ids[token1]
            pool = Pool(
                chain_id=self.chain_id, address=pair, dex_id=dex_id, token0_id=t0, token1_id=t1, created_block=block
            )
            if preallocate:
                pool.id = next(pool_ids)
                batch.new_pools.append(pool)
            else:
                pool.save(force_insert=True)
            base_is_token0, quote_kind = pool_sides(self.state.tokens[t0], self.state.tokens[t1])
            self.state.add_pool(PoolState(pool.id, pair, t0, t1, 0, 0, base_is_token0, quote_kind))
        return created_ids

    @property
    def quote_assets(self) -> dict[str, str]:
        from market.services import quote_assets_for_chain

        return quote_assets_for_chain(self.chain_id)

    # --- the walk ---------------------------------------------------------------------------

    def _walk_logs(self, batch: Batch, new_token_ids: set[int]) -> None:
        """Decode logs in chain order into rows and aggregates (no database access).

        Mints and burns of tokens discovered in this batch do not move their supply: it was
        read with ``totalSupply()`` at the batch's last block, after them.

        This loop is the indexer's Python hot path (one pass per log), so lookups are bound
        to locals, watched addresses are matched on the node's lowercase form, and prices
        come from ``MarketState``'s cache; the decoders stay the tested ones in ``decode``.
        """
        state = self.state
        chain_id = self.chain_id
        tokens = state.tokens
        pools = state.pools
        pool_ids = state.pool_ids
        token_price = state.token_price
        token_by_raw = {address.lower(): token_id for address, token_id in state.token_ids.items()}
        pool_by_raw = {address.lower(): pool_id for address, pool_id in pool_ids.items()}
        timestamps = batch.timestamps
        whale_share = settings.WHALE_MIN_SUPPLY_SHARE
        whale_usd = settings.WHALE_MIN_USD
        kept = self.kept
        block_hex, block, ts, when = "", -1, 0, to_datetime(0)
        transfers, swaps, syncs, liquidity, skipped = (
            batch.transfers,
            batch.swaps,
            batch.syncs,
            batch.liquidity,
            batch.skipped,
        )
        deltas = batch.balance_deltas
        activity_from = batch.activity_from
        activity = batch.activity
        candles = batch.candles
        snapshots = batch.snapshots
        touched_pools = batch.touched_pools
        zero = d.ZERO_ADDRESS
        token_topics = d.TOKEN_TOPICS
        transfer_topic, sync_topic, swap_topic, mint_topic, burn_topic = d.TRANSFER, d.SYNC, d.SWAP, d.MINT, d.BURN
        deposit_topic = d.DEPOSIT
        mint_kind, burn_kind = Transfer.Kind.MINT, Transfer.Kind.BURN
        buy_kind, sell_kind, plain_kind = Transfer.Kind.BUY, Transfer.Kind.SELL, Transfer.Kind.TRANSFER
        # Well-formed Transfer/Sync/Swap logs are sliced here; any other shape goes through the
        # decoders, which say what is wrong with it. Addresses come from the decoders' cache
        # of topics already seen and checked (``decode.topic_address`` otherwise).
        known_topic = d.TOPIC_ADDRESSES.get
        topic_address = d.topic_address
        add_transfer, add_swap, add_candle = activity.add_transfer, activity.add_swap, candles.add
        for log in batch.logs:
            topics = log.topics
            if not topics:
                continue
            topic0 = topics[0]
            raw_address = log.address.lower()
            if log.blockNumber != block_hex:  # the logs come in chain order: once per block
                block_hex = log.blockNumber
                block = int(block_hex, 16)
                ts = timestamps[block]
                when = to_datetime(ts)
            try:
                if topic0 in token_topics:
                    token_id = token_by_raw.get(raw_address)
                    if token_id is None:
                        keep = kept.get(raw_address) if kept else None
                        if keep is not None:
                            keep.append((log, ts))  # a token planned ahead, until its discovery
                        continue  # an LP token's Transfer, or a token no pool made us watch
                    data = log.data
                    if topic0 == transfer_topic and len(topics) == 3 and len(data) == 66:
                        sender = known_topic(topics[1]) or topic_address(topics[1])
                        receiver = known_topic(topics[2]) or topic_address(topics[2])
                        value = int(data, 16)
                    elif topic0 == transfer_topic:
                        sender, receiver, value = d.decode_transfer(_as_dict(log))
                    elif len(topics) == 2 and len(data) == 66:  # WETH9 Deposit (a mint) or Withdrawal (a burn)
                        account = known_topic(topics[1]) or topic_address(topics[1])
                        value = int(data, 16)
                        sender, receiver = (zero, account) if topic0 == deposit_topic else (account, zero)
                    else:
                        sender, receiver, value = d.decode_wrap(_as_dict(log))
                    token = tokens[token_id]
                    if sender == zero:
                        kind = mint_kind
                    elif receiver == zero:
                        kind = burn_kind
                    elif sender in pool_ids:
                        kind = buy_kind
                    elif receiver in pool_ids:
                        kind = sell_kind
                    else:
                        kind = plain_kind
                    price = token_price(token_id)
                    usd = value / token.scale * price if price is not None else None
                    supply_now = token.total_supply
                    is_whale = bool(
                        kind is not mint_kind
                        and kind is not burn_kind
                        and (
                            (supply_now and value / supply_now >= whale_share) or (usd is not None and usd >= whale_usd)
                        )
                    )
                    transfers.append(
                        (
                            chain_id,
                            block,
                            log.transactionHash,
                            int(log.logIndex, 16),
                            when,
                            token_id,
                            sender,
                            receiver,
                            value,
                            kind,
                            usd,
                            is_whale,
                        )
                    )
                    if sender != zero:
                        deltas[(token_id, sender)] -= value
                    elif supply_now is not None and token_id not in new_token_ids:
                        token.total_supply = supply_now + value
                    if receiver != zero:
                        deltas[(token_id, receiver)] += value
                    elif supply_now is not None and token_id not in new_token_ids:
                        token.total_supply = max(0, supply_now - value)
                    if token_id not in activity_from or ts < activity_from[token_id]:
                        activity_from[token_id] = ts
                    add_transfer(token_id, ts, sender, receiver, is_whale)
                    continue
                pool_id = pool_by_raw.get(raw_address)
                if pool_id is None:
                    continue  # PairCreated, handled in discovery
                pool = pools[pool_id]
                data = log.data
                if topic0 == sync_topic:
                    if len(topics) == 1 and len(data) == 130:
                        reserve0, reserve1 = int(data[2:66], 16), int(data[66:], 16)
                    else:
                        reserve0, reserve1 = d.decode_sync(_as_dict(log))
                    state.apply_sync(pool, reserve0, reserve1)
                    pool.reserves_block, pool.updated_at = block, ts
                    _, tvl = state.pool_price_and_tvl(pool)
                    syncs.append(
                        (
                            chain_id,
                            block,
                            log.transactionHash,
                            int(log.logIndex, 16),
                            when,
                            pool_id,
                            reserve0,
                            reserve1,
                            tvl,
                        )
                    )
                    snapshots[(pool_id, ts - ts % 3600)] = (reserve0, reserve1, tvl)
                    touched_pools.add(pool_id)
                elif topic0 == swap_topic:
                    if len(topics) == 3 and len(data) == 258:
                        sender = known_topic(topics[1]) or topic_address(topics[1])
                        recipient = known_topic(topics[2]) or topic_address(topics[2])
                        a0_in, a1_in = int(data[2:66], 16), int(data[66:130], 16)
                        a0_out, a1_out = int(data[130:194], 16), int(data[194:], 16)
                    else:
                        sender, recipient, a0_in, a1_in, a0_out, a1_out = d.decode_swap(_as_dict(log))
                    base_id = pool.base_id
                    base_amount = price_usd = volume_usd = None
                    is_buy = None
                    if base_id is not None:
                        if pool.base_is_token0:
                            base_in, base_out, quote_in, quote_out = a0_in, a0_out, a1_in, a1_out
                            base_t, quote_t = tokens[pool.token0_id], tokens[pool.token1_id]
                        else:
                            base_in, base_out, quote_in, quote_out = a1_in, a1_out, a0_in, a0_out
                            base_t, quote_t = tokens[pool.token1_id], tokens[pool.token0_id]
                        is_buy = base_out > base_in
                        base_amount = abs(base_out - base_in) / base_t.scale
                        quote_amount = abs(quote_out - quote_in) / quote_t.scale
                        quote_usd = state.quote_usd(pool.quote_kind)
                        if quote_usd is not None and base_amount > 0:
                            volume_usd = quote_amount * quote_usd
                            price_usd = volume_usd / base_amount
                            add_candle(base_id, ts, price_usd, base_amount, volume_usd, is_buy)
                        if base_id not in activity_from or ts < activity_from[base_id]:
                            activity_from[base_id] = ts
                        add_swap(base_id, ts, recipient)
                    swaps.append(
                        (
                            chain_id,
                            block,
                            log.transactionHash,
                            int(log.logIndex, 16),
                            when,
                            pool_id,
                            sender,
                            recipient,
                            a0_in,
                            a1_in,
                            a0_out,
                            a1_out,
                            base_id,
                            is_buy,
                            base_amount,
                            price_usd,
                            volume_usd,
                        )
                    )
                    touched_pools.add(pool_id)
                elif topic0 == mint_topic:
                    sender, amount0, amount1 = d.decode_mint(_as_dict(log))
                    liquidity.append(
                        (
                            chain_id,
                            block,
                            log.transactionHash,
                            int(log.logIndex, 16),
                            when,
                            pool_id,
                            "mint",
                            sender,
                            "",
                            amount0,
                            amount1,
                        )
                    )
                elif topic0 == burn_topic:
                    sender, amount0, amount1, recipient = d.decode_burn(_as_dict(log))
                    liquidity.append(
                        (
                            chain_id,
                            block,
                            log.transactionHash,
                            int(log.logIndex, 16),
                            when,
                            pool_id,
                            "burn",
                            sender,
                            recipient,
                            amount0,
                            amount1,
                        )
                    )
            except d.UndecodableLog as exc:
                skipped.append(
                    (
                        chain_id,
                        block,
                        log.transactionHash,
                        int(log.logIndex, 16),
                        when,
                        d.checksum(raw_address[2:]),
                        topic0,
                        str(exc)[:255],
                    )
                )

    # --- storing ----------------------------------------------------------------------------

    def store_batch(self, batch: Batch, *, head: int) -> None:
        """Walk and write one batch in the caller's transaction (the serial path)."""
        self._walk_batch(batch, preallocate=False)
        self._write_batch(batch, head)

    def _walk_batch(self, batch: Batch, *, preallocate: bool) -> None:
        new_token_ids = self._create_discovered(batch, preallocate=preallocate)
        self._take_kept(batch)
        self._walk_logs(batch, new_token_ids)
        self._finish_walk(batch)
        self._bound_kept()

    def _take_kept(self, batch: Batch) -> None:
        """Add to a batch the kept logs of the tokens it discovers (planned ahead), and read
        again from the node those that overflowed (``_bound_kept``)."""
        watch = batch.watch
        if not batch.discovered or watch is None or not watch.ahead:
            return
        ahead = watch.ahead
        taken: list[Log] = []
        reread: list[str] = []
        for address in batch.discovered[1]:
            logs = self.kept.pop(address.lower(), None)
            if address not in ahead:
                continue  # fetched in full with the batch (``fetch_batch``)
            if logs is None:
                reread.append(address)
                continue
            for log, ts in logs:
                batch.timestamps.setdefault(int(log.blockNumber, 16), ts)
                taken.append(log)
        if reread:
            taken += self._read_history(batch, reread, watch.ahead_since, batch.from_block - 1)
        if taken:
            batch.logs = sorted([*taken, *batch.logs], key=_chain_order)

    def _read_history(self, batch: Batch, tokens: list[str], from_block: int, to_block: int) -> list[Log]:
        """Token logs of blocks before the batch, with those blocks' headers added to it."""
        logs = self._get_logs(from_block, to_block, tokens, list(d.TOKEN_TOPICS))
        self._add_headers(batch, logs)
        batch.log_count += len(logs)
        return logs

    def _add_headers(self, batch: Batch, logs: list[Log]) -> None:
        """Headers (hash and time) of the blocks of ``logs`` the batch has none for, added to it:
        logs fetched after the batch's own (``patch_batch``, ``_read_history``)."""
        missing = sorted({int(number, 16) for number in {log.blockNumber for log in logs}} - set(batch.headers))
        if missing:
            headers = self.rpc.block_headers(missing)
            batch.headers.update(headers)
            batch.timestamps.update((number, int(header["timestamp"], 16)) for number, header in headers.items())

    def _bound_kept(self) -> None:
        """Keep at most ``INDEX_BATCH_TARGET_LOGS`` logs for tokens ahead: past that, the
        tokens keeping the most are dropped to half of it, and read again when discovered."""
        limit = settings.INDEX_BATCH_TARGET_LOGS
        total = sum(len(logs) for logs in self.kept.values())
        if total <= limit:
            return
        for address, logs in sorted(self.kept.items(), key=lambda item: -len(item[1])):
            if total <= limit // 2:
                break
            del self.kept[address]
            self.kept_overflow.add(address)
            total -= len(logs)

    def _finish_walk(self, batch: Batch) -> None:
        """Take from memory what the write needs, now: the next walk moves the state on."""
        batch.activity.roll_up()
        state = self.state
        batch.pool_values = [
            (
                pool_id,
                pool.reserve0,
                pool.reserve1,
                pool.reserves_block,
                state.pool_price_and_tvl(pool)[1],
                to_datetime(pool.updated_at) if pool.updated_at else None,
                pool_id in batch.touched_pools,
            )
            for pool_id, pool in state.pools.items()
        ]
        batch.token_values = {
            token_id: (state.token_price(token_id), state.token_liquidity(token_id), token.total_supply)
            for token_id, token in state.tokens.items()
        }
        # Blocks in the reorg window with rows (backfilled ones lie before the batch and are not
        # this batch's to vouch for); the rows are in chain order, so only their tails are read.
        low = max(batch.from_block, batch.to_block - self.reorg_depth + 1)
        numbers = {batch.to_block}
        for rows in (batch.transfers, batch.swaps, batch.syncs, batch.liquidity, batch.skipped):
            for row in reversed(rows):
                if row[1] < low:
                    break
                numbers.add(row[1])
        batch.block_rows = [
            (self.chain_id, number, batch.headers[number]["hash"], to_datetime(batch.timestamps[number]))
            for number in sorted(numbers)
        ]
        batch.logs = []  # walked: only the rows are written

    def _write_batch(self, batch: Batch, head: int) -> None:
        """Write what the walk produced and move the checkpoint, in the current transaction.

        Reads nothing from ``self.state``: on PostgreSQL this runs on the writer thread while
        the next batch is walked.
        """
        if batch.new_tokens:
            Token.objects.bulk_create(batch.new_tokens)
        if batch.new_pools:
            Pool.objects.bulk_create(batch.new_pools)
        event_fields = ["chain_id", "block_number", "tx_hash", "log_index", "timestamp"]
        bulk_insert(
            Transfer,
            [*event_fields, "token", "from_address", "to_address", "value", "kind", "usd_value", "is_whale"],
            batch.transfers,
        )
        bulk_insert(
            Swap,
            [
                *event_fields,
                "pool",
                "sender",
                "recipient",
                "amount0_in",
                "amount1_in",
                "amount0_out",
                "amount1_out",
                "base_token",
                "is_buy",
                "base_amount",
                "price_usd",
                "volume_usd",
            ],
            batch.swaps,
        )
        bulk_insert(Sync, [*event_fields, "pool", "reserve0", "reserve1", "tvl_usd"], batch.syncs)
        bulk_insert(
            LiquidityEvent,
            [*event_fields, "pool", "kind", "sender", "recipient", "amount0", "amount1"],
            batch.liquidity,
        )
        bulk_insert(SkippedLog, [*event_fields, "address", "topic0", "reason"], batch.skipped)
        # Time of the last block already written (before _store_blocks prunes it): buckets that
        # start after it hold no stored row yet. -1: the first batch of the chain; None: unknown.
        previous = (
            IndexedBlock.objects.filter(chain_id=self.chain_id, number=batch.from_block - 1)
            .values_list("timestamp", flat=True)
            .first()
        )
        if previous is not None:
            written_until: int | None = int(previous.timestamp())
        else:
            written_until = -1 if batch.from_block <= settings.INDEX_START_BLOCK else None
        self._store_activity(batch, written_until)
        self._store_blocks(batch)
        holder_changes = holder_balances_apply(deltas=batch.balance_deltas, block=batch.to_block)
        candles_merge(batch.candles.rows, written_until=written_until)
        snapshots_write(batch.snapshots, written_until=written_until)
        self._store_market_state(batch, holder_changes)
        moved = Checkpoint.objects.filter(chain_id=self.chain_id, next_block=batch.from_block).update(
            next_block=batch.to_block + 1, head_block=head
        )
        if moved != 1:
            raise CheckpointMoved(f"chain {self.chain_id}: checkpoint left {batch.from_block} during the batch")

    def _batch_committed(self, batch: Batch) -> None:
        self._activity_carry = batch.activity_carry

    def _store_blocks(self, batch: Batch) -> None:
        bulk_insert(IndexedBlock, ["chain_id", "number", "hash", "timestamp"], batch.block_rows)
        # Only the reorg window is ever compared with the node; older hashes are dropped.
        IndexedBlock.objects.filter(chain_id=self.chain_id, number__lte=batch.to_block - self.reorg_depth).delete()

    def _store_activity(self, batch: Batch, written_until: int | None) -> None:
        """Activity buckets: counted in memory where every event of the bucket was walked in this
        run (this batch's, plus the open buckets carried from the batch before), recounted by
        the database where earlier events are only in the database (the buckets open when the
        run started). ``written_until``: time of the last block written before this batch."""
        if written_until is None:
            activity_rebuild(chain_id=self.chain_id, since_by_token=batch.activity_from)
            return
        boundary = written_until
        book = batch.activity
        touched = book.keys()
        carry = self._activity_carry
        if carry is not None and carry.to_block == batch.from_block - 1:
            since = carry.since
            book.merge(carry.book)
        else:
            since = boundary
        fresh: list[tuple[Any, ...]] = []
        recount: dict[int, int] = {}
        boundary_time = to_datetime(boundary)
        for key in touched:
            token_id, _, bucket = key
            if bucket > since:
                fresh.append(
                    (
                        *key[:2],
                        to_datetime(bucket),
                        book.transfers.get(key, 0),
                        len(book.addresses.get(key, ())),
                        book.swaps.get(key, 0),
                        len(book.traders.get(key, ())),
                        book.whales.get(key, 0),
                    )
                )
            else:
                recount[token_id] = min(bucket, recount.get(token_id, bucket))
        upsert_rows(
            TokenActivity,
            [
                "token",
                "interval",
                "bucket",
                "transfers",
                "active_addresses",
                "swaps",
                "unique_traders",
                "whale_transfers",
            ],
            fresh,
            unique_fields=["token", "interval", "bucket"],
            known_new=lambda row: row[2] > boundary_time,
        )
        # Only buckets that began by the boundary need the database; they all end by the
        # end of the boundary's day.
        until = boundary - boundary % INTERVAL_SECONDS["1d"] + INTERVAL_SECONDS["1d"]
        activity_rebuild(chain_id=self.chain_id, since_by_token=recount, until=until)
        end = batch.timestamps[batch.to_block]
        batch.activity_carry = ActivityCarry(
            batch.to_block,
            since,
            book.select(lambda interval, bucket: bucket > since and bucket + INTERVAL_SECONDS[interval] > end),
        )

    def _store_market_state(self, batch: Batch, holder_changes: dict[int, int]) -> None:
        when = to_datetime(batch.timestamps[batch.to_block])
        # Reserves move only in touched pools, but a new native price re-values every pool
        # quoted in it, so TVL is compared and written for all of them.
        stored_tvl = dict(Pool.objects.filter(chain_id=self.chain_id).values_list("id", "tvl_usd"))
        update_rows(
            Pool,
            ["reserve0", "reserve1", "reserves_block", "tvl_usd", "updated_at"],
            [row[:6] for row in batch.pool_values if row[6] or row[4] != stored_tvl.get(row[0])],
        )
        current = {
            t.id: t
            for t in Token.objects.filter(chain_id=self.chain_id).only(
                "id", "price_usd", "liquidity_usd", "holder_count", "total_supply"
            )
        }
        changed = []
        for token_id, row in current.items():
            if token_id not in batch.token_values:
                continue  # not this indexer's to price
            price, liquidity, supply = batch.token_values[token_id]
            holders = row.holder_count + holder_changes.get(token_id, 0)
            if (price, liquidity, holders, supply) != (
                row.price_usd,
                row.liquidity_usd,
                row.holder_count,
                row.total_supply,
            ):
                row.price_usd, row.liquidity_usd, row.holder_count, row.total_supply = price, liquidity, holders, supply
                row.market_block, row.market_updated_at = batch.to_block, when
                changed.append(row)
        fields = ["price_usd", "liquidity_usd", "holder_count", "total_supply", "market_block", "market_updated_at"]
        update_rows(Token, fields, [(t.id, *(getattr(t, f) for f in fields)) for t in changed])


def holder_balances_apply(*, deltas: dict[tuple[int, str], int], block: int) -> dict[int, int]:
    """Add balance deltas (base units) to stored balances; returns holder-count changes per token.

    Used forward (a batch's transfers) and backward (a rollback reverses the removed ones).
    Net-zero deltas still get a row: every address that ever held or moved the token has one,
    however the history was split into batches.
    """
    if connection.vendor == "postgresql":
        return _balances_merge(deltas, block)
    by_token: dict[int, dict[str, int]] = defaultdict(dict)
    for (token_id, address), delta in deltas.items():
        by_token[token_id][address] = delta
    changes: dict[int, int] = defaultdict(int)
    rows: list[tuple[int, str, int, int]] = []
    for token_id, token_deltas in by_token.items():
        current: dict[str, int] = {}
        for part in chunked(list(token_deltas)):
            current.update(
                HolderBalance.objects.filter(token_id=token_id, address__in=part).values_list("address", "balance")
            )
        for address, delta in token_deltas.items():
            before = current.get(address, 0)
            after = before + delta
            if after < 0:
                # Only a token that moves balances without Transfer events gets here.
                logger.warning("token %s: %s balance below zero after a transfer; clamped", token_id, address)
                after = 0
            if (before > 0) != (after > 0):
                changes[token_id] += 1 if after > 0 else -1
            rows.append((token_id, address, after, block))
    upsert_rows(
        HolderBalance, ["token", "address", "balance", "updated_block"], rows, unique_fields=["token", "address"]
    )
    return changes


def _next_ids(model: type[Token] | type[Pool], count: int) -> list[int]:
    """Primary keys drawn from the table's sequence (PostgreSQL) for rows inserted later."""
    if not count:
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
            [model._meta.db_table, model._meta.pk.column, count],
        )
        return [row[0] for row in cursor.fetchall()]


def _balances_merge(deltas: dict[tuple[int, str], int], block: int) -> dict[int, int]:
    """``holder_balances_apply`` on PostgreSQL: the deltas are sent once (binary ``COPY`` into a
    temporary table) and one statement adds them to the stored balances and counts, per token,
    the holders gained and lost, each stored row read once.

    Before, the stored balances were read (a join against two arrays), the new ones computed
    in Python and sent back for an upsert: the same join twice and every balance through
    Python in both directions, 0.6 s + 0.9 s of the writer's time on the 215k-log benchmark.
    """
    changes: dict[int, int] = defaultdict(int)
    if not deltas:
        return changes
    table = HolderBalance._meta.db_table
    temp = temp_name("balance_delta")
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TEMPORARY TABLE {temp} (token_id bigint, address varchar, delta numeric) ON COMMIT DROP"
        )
        copy_rows(
            cursor.cursor,
            temp,
            ["token_id", "address", "delta"],
            ["int8", "varchar", "numeric"],
            ((token_id, address, delta) for (token_id, address), delta in deltas.items()),
        )
        # Balances below zero (only a token moving balances without Transfer events) are
        # clamped to zero, as before, and reported.
        cursor.execute(
            f"""WITH moved AS MATERIALIZED (
                    SELECT d.token_id, d.address, COALESCE(h.balance, 0) AS before,
                           COALESCE(h.balance, 0) + d.delta AS after
                    FROM {temp} d LEFT JOIN {table} h ON h.token_id = d.token_id AND h.address = d.address
                ), written AS (
                    INSERT INTO {table} (token_id, address, balance, updated_block)
                    SELECT token_id, address, GREATEST(after, 0), %s FROM moved
                    ON CONFLICT (token_id, address)
                    DO UPDATE SET balance = EXCLUDED.balance, updated_block = EXCLUDED.updated_block
                )
                SELECT token_id,
                       SUM(CASE WHEN before <= 0 AND after > 0 THEN 1 WHEN before > 0 AND after <= 0 THEN -1
                                ELSE 0 END),
                       COUNT(*) FILTER (WHERE after < 0)
                FROM moved GROUP BY token_id""",
            [block],
        )
        for token_id, change, clamped in cursor.fetchall():
            if change:
                changes[token_id] = int(change)
            if clamped:
                logger.warning("token %s: %d balances below zero after a transfer; clamped", token_id, clamped)
        cursor.execute(f"DROP TABLE {temp}")
    return changes


def candles_merge(rows: dict[tuple[int, str, int], list[float]], *, written_until: int | None = None) -> None:
    """Merge buckets (token, interval, unix start) -> OHLCV into stored candles in SQL: the
    stored open stays, extremes widen, the close and volumes move on. Rows are always later
    trades than what is stored (forward indexing), or land in buckets a rollback emptied.

    ``written_until``: time of the newest trade that can be stored; buckets starting after
    it are inserted without looking for a stored row."""
    vendor = connection.vendor
    after = to_datetime(written_until) if written_until is not None else None
    upsert_rows(
        Candle,
        [
            "token",
            "interval",
            "bucket",
            "open",
            "high",
            "low",
            "close",
            "volume",
            "volume_usd",
            "buy_volume_usd",
            "trades",
        ],
        [
            (token_id, interval, to_datetime(bucket), *r[:7], int(r[7]))
            for (token_id, interval, bucket), r in rows.items()
        ],
        unique_fields=["token", "interval", "bucket"],
        merge={
            "open": "{old}",
            "high": greatest(vendor),
            "low": least(vendor),
            "volume": "{old} + {new}",
            "volume_usd": "{old} + {new}",
            "buy_volume_usd": "{old} + {new}",
            "trades": "{old} + {new}",
        },
        known_new=None if after is None else lambda row: row[2] > after,
    )


def snapshots_write(
    snapshots: dict[tuple[int, int], tuple[int, int, float]], *, written_until: int | None = None
) -> None:
    """Hourly pool snapshots (pool id, unix hour) -> (reserve0, reserve1, TVL USD); last wins.
    Hours starting after ``written_until`` (as in ``candles_merge``) hold no stored row."""
    after = to_datetime(written_until) if written_until is not None else None
    upsert_rows(
        PoolSnapshot,
        ["pool", "hour", "reserve0", "reserve1", "tvl_usd"],
        [(pool_id, to_datetime(hour), r0, r1, tvl) for (pool_id, hour), (r0, r1, tvl) in snapshots.items()],
        unique_fields=["pool", "hour"],
        known_new=None if after is None else lambda row: row[1] > after,
    )


def activity_rebuild(*, chain_id: int, since_by_token: dict[int, int], until: int | None = None) -> None:
    """Recount activity buckets from the stored rows, from the earliest touched day up.

    Distinct counts (active addresses, traders) cannot be added across batches, so the
    touched buckets are recounted by the database (``COUNT(DISTINCT ...)`` per bucket),
    which reads the rows through the (token, timestamp) indexes.
    """
    if not since_by_token:
        return
    earliest = min(since_by_token.values())
    since = to_datetime(earliest - earliest % INTERVAL_SECONDS["1d"])
    # Rows up to ``until`` (unix seconds, exclusive), or all of them.
    bound = to_datetime(until if until is not None else 32_503_680_000)  # year 3000: no bound
    token_ids = sorted(since_by_token)
    counts: dict[tuple[int, str, datetime], list[int]] = defaultdict(lambda: [0, 0, 0, 0, 0])
    with connection.cursor() as cursor:
        for interval in ("1h", "1d"):
            bucket = _bucket_sql(interval)
            ids = ", ".join(str(int(i)) for i in token_ids)
            cursor.execute(
                f"""SELECT token_id, {bucket} AS b, COUNT(*), SUM(CASE WHEN is_whale THEN 1 ELSE 0 END)
                    FROM market_transfer WHERE token_id IN ({ids}) AND timestamp >= %s AND timestamp < %s
                    GROUP BY token_id, b""",
                [since, bound],
            )
            for token_id, b, transfers, whales in cursor.fetchall():
                row = counts[(token_id, interval, _as_bucket(b))]
                row[0], row[4] = transfers, whales
            cursor.execute(
                f"""SELECT token_id, b, COUNT(DISTINCT address) FROM (
                        SELECT token_id, {bucket} AS b, from_address AS address FROM market_transfer
                        WHERE token_id IN ({ids}) AND timestamp >= %s AND timestamp < %s AND from_address <> %s
                        UNION ALL
                        SELECT token_id, {bucket} AS b, to_address FROM market_transfer
                        WHERE token_id IN ({ids}) AND timestamp >= %s AND timestamp < %s AND to_address <> %s
                    ) AS moves GROUP BY token_id, b""",
                [since, bound, d.ZERO_ADDRESS, since, bound, d.ZERO_ADDRESS],
            )
            for token_id, b, addresses in cursor.fetchall():
                counts[(token_id, interval, _as_bucket(b))][1] = addresses
            cursor.execute(
                f"""SELECT base_token_id, {bucket} AS b, COUNT(*), COUNT(DISTINCT recipient) FROM market_swap
                    WHERE base_token_id IN ({ids}) AND timestamp >= %s AND timestamp < %s
                    GROUP BY base_token_id, b""",
                [since, bound],
            )
            for token_id, b, swaps, traders in cursor.fetchall():
                row = counts[(token_id, interval, _as_bucket(b))]
                row[2], row[3] = swaps, traders
    upsert_rows(
        TokenActivity,
        ["token", "interval", "bucket", "transfers", "active_addresses", "swaps", "unique_traders", "whale_transfers"],
        [(token_id, interval, bucket, *values) for (token_id, interval, bucket), values in counts.items()],
        unique_fields=["token", "interval", "bucket"],
    )


def _bucket_sql(interval: str) -> str:
    if connection.vendor == "postgresql":
        return f"date_trunc('{'hour' if interval == '1h' else 'day'}', timestamp AT TIME ZONE 'UTC')"
    # SQLite keeps Django's text form 'YYYY-MM-DD HH:MM:SS[.ffffff]' in UTC.
    return "substr(timestamp, 1, 13) || ':00:00'" if interval == "1h" else "substr(timestamp, 1, 10) || ' 00:00:00'"


def _as_bucket(value: datetime | str) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC)
