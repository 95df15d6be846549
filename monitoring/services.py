"""Writes of the operations records: task failures, heartbeats, last runs, RPC tallies.

Heartbeats, last runs and RPC tallies go to the shared cache (Redis in production), so any
web process on any machine reads what any worker wrote, without a database query. Failed
tasks go to the database: they are rare, and worth keeping past a cache flush.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from monitoring.models import TaskFailure

logger = logging.getLogger(__name__)

HEARTBEAT_KEY = "ops:heartbeat:{queue}"
GRADING_RUN_KEY = "ops:grading:{chain_id}"
MOONSHOT_SCAN_KEY = "ops:moonshots:{chain_id}"
RPC_TALLY_KEY = "ops:rpc:{minute}:{what}"
RPC_TALLY_TTL = 3600  # seconds a per-minute RPC counter is kept
TASK_FAILURES_KEPT = 1000  # rows of TaskFailure kept; older ones are pruned


def task_failure_record(
    *,
    task: str,
    task_id: str,
    outcome: str,
    exception: BaseException | str,
    args: Any = (),
    hostname: str = "",
    now: datetime | None = None,
) -> TaskFailure | None:
    """Store a failed or retried task run; never raises (the database may be what failed)."""
    name = exception if isinstance(exception, str) else type(exception).__name__
    reason = "" if isinstance(exception, str) else str(exception)
    try:
        row = TaskFailure.objects.create(
            task=task[:200],
            task_id=(task_id or "")[:64],
            outcome=outcome,
            exception=name[:200],
            reason=reason[:2000],
            args=repr(args)[:500],
            hostname=(hostname or "")[:200],
            occurred_at=now or timezone.now(),
        )
        TaskFailure.objects.filter(id__lte=row.id - TASK_FAILURES_KEPT).delete()
    except Exception:
        logger.exception("could not record the failure of task %s", task)
        return None
    return row


def heartbeat_record(*, queue: str, hostname: str, now: float | None = None) -> dict[str, Any]:
    """A worker consuming ``queue`` ran the heartbeat task just now (unix seconds)."""
    beat = {"at": now if now is not None else time.time(), "hostname": hostname}
    cache.set(HEARTBEAT_KEY.format(queue=queue), beat, timeout=None)
    return beat


def grading_run_record(*, chain_id: int, tokens: int, model_versions: dict[str, str], seconds: float) -> None:
    """A grading run of ``chain_id`` finished: counted here, and kept for every process to read."""
    from monitoring import metrics

    label = str(chain_id)
    metrics.GRADES_RUNS.labels(label).inc()
    metrics.GRADES_TOKENS.labels(label).inc(tokens)
    metrics.GRADES_RUN_DURATION.labels(label).observe(seconds)
    run = {"at": time.time(), "tokens": tokens, "model_versions": dict(model_versions), "seconds": round(seconds, 3)}
    _cache_set_quietly(GRADING_RUN_KEY.format(chain_id=chain_id), run)


def moonshot_scan_record(*, chain_id: int, picked: int, exited: int, scored: int) -> None:
    """A moonshot scan of ``chain_id`` finished; kept for the system page and ``/metrics``."""
    scan = {"at": time.time(), "picked": picked, "exited": exited, "scored": scored}
    _cache_set_quietly(MOONSHOT_SCAN_KEY.format(chain_id=chain_id), scan)


def rpc_tally_store(*, calls: int, errors: int, now: float | None = None) -> None:
    """Add to this minute's shared RPC call and error counters; never raises."""
    minute = int((now if now is not None else time.time()) // 60)
    try:
        for what, count in (("calls", calls), ("errors", errors)):
            if count:
                key = RPC_TALLY_KEY.format(minute=minute, what=what)
                cache.add(key, 0, timeout=RPC_TALLY_TTL)
                cache.incr(key, count)
    except Exception:  # a cache outage must not fail the RPC call that is being counted
        logger.warning("could not store the RPC tally", exc_info=True)


def _cache_set_quietly(key: str, value: Any) -> None:
    try:
        cache.set(key, value, timeout=None)
    except Exception:  # the run itself succeeded; losing its record only dims the system page
        logger.warning("could not record %s in the cache", key, exc_info=True)


def workload_queues() -> list[str]:
    return list(settings.CELERY_WORKLOAD_QUEUES)
