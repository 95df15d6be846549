from __future__ import annotations

import time

from celery import shared_task
from django.core.cache import cache

HEARTBEAT_CACHE_KEY = "worker:heartbeat"


@shared_task(ignore_result=True, soft_time_limit=5, time_limit=10)
def heartbeat_task() -> float:
    """Record that a worker picked a task off the queue just now (unix seconds).

    The system page compares this with the clock to tell whether workers and beat run.
    """
    now = time.time()
    cache.set(HEARTBEAT_CACHE_KEY, now, timeout=None)
    return now
