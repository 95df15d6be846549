"""Indexer services: what to watch, and running the indexer for a chain."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from django.conf import settings
from django.core.cache import cache
from django.db import transaction

from market.indexer import ChainIndexer, RunStats
from market.models import Dex, Token
from market.rpc import RpcClient

logger = logging.getLogger(__name__)

LOCK_KEY = "lock:chain:{chain_id}:{name}"


def rpc_client(url: str | None = None) -> RpcClient:
    return RpcClient(
        url or settings.WEB3_PROVIDER_URI,
        timeout=settings.WEB3_REQUEST_TIMEOUT,
        retries=settings.RPC_RETRIES,
        backoff=settings.RPC_BACKOFF,
        parallel=settings.INDEX_PARALLEL_REQUESTS,
        max_batch=settings.RPC_MAX_BATCH or None,
        max_log_blocks=settings.RPC_MAX_LOG_BLOCKS or None,
    )


def quote_assets_for_chain(chain_id: int) -> dict[str, str]:
    """Address -> quote kind ("usd" or "native") from the deployment registry and settings."""
    from chain.registry import quote_assets

    kinds: dict[str, str] = {}
    registry = quote_assets(chain_id=chain_id)
    if registry.weth:
        kinds[registry.weth] = Token.QuoteKind.NATIVE
    for address in registry.stablecoins:
        kinds[address] = Token.QuoteKind.USD
    for address in settings.QUOTE_NATIVE_TOKENS:
        kinds[address] = Token.QuoteKind.NATIVE
    for address in settings.QUOTE_USD_TOKENS:
        kinds[address] = Token.QuoteKind.USD
    return kinds


@transaction.atomic
def index_sources_sync(*, chain_id: int) -> list[Dex]:
    """Make the ``Dex`` rows and tokens' quote kinds match the registry and settings.

    Local chains name their DEXes in the deployment registry; a mainnet deployment lists
    them in ``DEX_FACTORIES`` (``name@factory@router@fee_bps``, comma-separated).
    """
    from chain.registry import dex_deployments

    wanted = {dex.factory: (dex.name, dex.router, dex.fee_bps) for dex in dex_deployments(chain_id=chain_id)}
    for name, factory, router, fee_bps in settings.DEX_FACTORIES:
        wanted[factory] = (name, router, fee_bps)
    dexes = []
    for factory, (name, router, fee_bps) in wanted.items():
        dex, _ = Dex.objects.update_or_create(
            chain_id=chain_id, factory=factory, defaults={"name": name, "router": router, "fee_bps": fee_bps}
        )
        dexes.append(dex)
    for address, kind in quote_assets_for_chain(chain_id).items():
        Token.objects.filter(chain_id=chain_id, address=address).exclude(quote_kind=kind).update(quote_kind=kind)
    return dexes


@contextmanager
def chain_lock(chain_id: int, name: str, *, ttl: int | None = None) -> Iterator[bool]:
    """Non-blocking lock per chain and job; yields whether it was taken.

    ``cache.add`` is atomic on Redis (SET NX) and in the local-memory cache, so two workers
    never index one chain at once; the TTL frees a lock whose holder died.
    """
    key = LOCK_KEY.format(chain_id=chain_id, name=name)
    token = uuid.uuid4().hex
    held = cache.add(key, token, timeout=ttl or settings.INDEX_LOCK_TTL)
    try:
        yield held
    finally:
        if held and cache.get(key) == token:
            cache.delete(key)


def chain_lock_renew(chain_id: int, name: str, *, ttl: int) -> None:
    """Extend a held ``chain_lock`` by ``ttl`` seconds from now: a lease.

    A run that renews after each step can take its lock with a short TTL, so a worker killed
    mid-run (SIGKILL, OOM, lost host) blocks the next run for ``ttl`` seconds, not for the
    longest a run could ever take.
    """
    cache.touch(LOCK_KEY.format(chain_id=chain_id, name=name), ttl)


def chain_index_to_head(
    *,
    chain_id: int | None = None,
    rpc: RpcClient | None = None,
    progress: Callable[[str], None] | None = None,
    max_batches: int | None = None,
) -> RunStats:
    """Index the chain behind ``rpc`` from its checkpoint to the head (less confirmations)."""
    client = rpc or rpc_client()
    chain_id = chain_id if chain_id is not None else client.chain_id()
    index_sources_sync(chain_id=chain_id)
    indexer = ChainIndexer(rpc=client, chain_id=chain_id, progress=progress)
    stats = indexer.run_to_head(max_batches=max_batches)
    logger.info(
        "chain %s indexed %d blocks, %d logs in %.2fs (%d reorgs)",
        chain_id,
        stats.blocks,
        stats.logs,
        stats.seconds,
        stats.reorgs,
    )
    return stats


@transaction.atomic
def chain_index_reset(*, chain_id: int) -> None:
    """Forget everything indexed for a chain, so the next run re-reads it from the start block.

    For a fresh local chain that reuses chain id 31337, or to rebuild after a change to
    how rows are derived.
    """
    from market.models import Checkpoint, IndexedBlock, SkippedLog

    Token.objects.filter(chain_id=chain_id).delete()  # cascades pools, events, balances, candles
    Dex.objects.filter(chain_id=chain_id).delete()
    for model in (Checkpoint, IndexedBlock, SkippedLog):
        model.objects.filter(chain_id=chain_id).delete()
