"""Celery tasks of the indexer: lock, call, log. Ids and block numbers in, never objects."""

from __future__ import annotations

import logging

from celery import shared_task
from django.conf import settings

from market.rpc import RpcUnavailable
from market.services import chain_index_to_head, chain_lock, chain_lock_renew

logger = logging.getLogger(__name__)


@shared_task(
    acks_late=True,
    autoretry_for=(RpcUnavailable,),
    retry_backoff=True,
    retry_backoff_max=60,
    max_retries=10,
    soft_time_limit=240,
    time_limit=300,
    ignore_result=True,
)
def index_new_blocks_task(chain_id: int, max_batches: int | None = None) -> int:
    """Index ``chain_id`` up to the node's head; returns logs indexed (0 if another run holds the lock).

    Runs on the beat schedule every ``INDEX_INTERVAL`` seconds. Safe to run twice: the
    second finds the lock taken and exits; a batch interrupted by a kill rolls back whole.
    """
    lease = settings.INDEX_LEASE_TTL  # renewed after every batch, so a killed worker's lock goes soon
    with chain_lock(chain_id, "index", ttl=lease) as held:
        if not held:
            logger.info("chain %s: index run already in progress; skipping", chain_id)
            return 0
        stats = chain_index_to_head(
            chain_id=chain_id,
            max_batches=max_batches,
            progress=lambda _line: chain_lock_renew(chain_id, "index", ttl=lease),
        )
        return stats.logs
