from __future__ import annotations

import time

from celery import shared_task
from django.core.cache import cache

HEARTBEAT_CACHE_KEY = "worker:heartbeat"


@shared_task(bind=True, ignore_result=True, soft_time_limit=5, time_limit=10)
def heartbeat_task(self, queue: str = "default") -> float:
    """Record that a worker picked a task off ``queue`` just now (unix seconds).

    The beat schedule sends one to every workload queue, so the system page can tell, per
    queue, whether some worker consumes it and when it last did.
    """
    from monitoring.services import heartbeat_record

    now = time.time()
    cache.set(HEARTBEAT_CACHE_KEY, now, timeout=None)
    heartbeat_record(queue=queue, hostname=self.request.hostname or "", now=now)
    return now
