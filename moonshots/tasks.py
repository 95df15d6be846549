"""Celery task of the moonshot scanner: lock, call, log. Chain ids in, never objects."""

from __future__ import annotations

import logging

from celery import shared_task

from market.rpc import RpcUnavailable
from market.services import chain_lock, rpc_client
from moonshots.services import moonshots_scan

logger = logging.getLogger(__name__)


@shared_task(
    acks_late=True,
    autoretry_for=(RpcUnavailable,),
    retry_backoff=True,
    retry_backoff_max=120,
    max_retries=5,
    soft_time_limit=240,
    time_limit=300,
    ignore_result=True,
)
def scan_moonshots_task(chain_id: int) -> int:
    """Close picks meeting an exit rule and make new picks; returns new picks (0 if another scan runs).

    Safe to run twice: one open pick per token, and a closed pick is never closed again.
    """
    with chain_lock(chain_id, "moonshots") as held:
        if not held:
            logger.info("chain %s: moonshot scan already in progress; skipping", chain_id)
            return 0
        return len(moonshots_scan(chain_id=chain_id, rpc=rpc_client()).picked)
