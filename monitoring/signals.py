"""Hooks that feed the metrics: database statements and Celery task events.

Connected once from ``MonitoringConfig.ready``. The database hook is an execute wrapper
installed on each connection as it opens (Django's ``connection_created``), so every
statement of every request and task is timed without touching the code that runs it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from celery import signals as celery_signals
from django.conf import settings
from django.db.backends.signals import connection_created

from monitoring import metrics

logger = logging.getLogger(__name__)

_task_started: dict[str, float] = {}  # task id -> perf_counter at prerun (per worker process)


def _timed_execute(alias: str) -> Callable[..., Any]:
    histogram = metrics.DB_QUERY_DURATION.labels(alias)

    def execute(execute: Callable[..., Any], sql: str, params: Any, many: bool, context: dict[str, Any]) -> Any:
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            histogram.observe(time.perf_counter() - started)

    execute.tmsite_metrics = True  # type: ignore[attr-defined]
    return execute


def _on_connection_created(sender: Any, connection: Any, **kwargs: Any) -> None:
    # The wrapper list belongs to the DatabaseWrapper, which outlives the socket it opens:
    # install once per wrapper, not once per reconnection.
    if not any(getattr(w, "tmsite_metrics", False) for w in connection.execute_wrappers):
        connection.execute_wrappers.insert(0, _timed_execute(connection.alias))


def _task_name(sender: Any, task: Any = None) -> str:
    source = task if task is not None else sender
    return str(getattr(source, "name", source))


def _on_task_prerun(task_id: str = "", **kwargs: Any) -> None:
    _task_started[task_id] = time.perf_counter()


def _on_task_postrun(
    sender: Any = None, task_id: str = "", task: Any = None, state: str | None = None, **_: Any
) -> None:
    name = _task_name(sender, task)
    started = _task_started.pop(task_id, None)
    if started is not None:
        metrics.CELERY_TASK_DURATION.labels(name).observe(time.perf_counter() - started)
    metrics.CELERY_TASKS.labels(name, state or "UNKNOWN").inc()


def _on_task_failure(
    sender: Any = None, task_id: str = "", exception: BaseException | None = None, args: Any = (), **_: Any
) -> None:
    from monitoring.services import task_failure_record

    name = _task_name(sender)
    metrics.CELERY_TASK_FAILURES.labels(name, type(exception).__name__).inc()
    request = getattr(sender, "request", None)
    task_failure_record(
        task=name,
        task_id=task_id,
        outcome="failed",
        exception=exception if exception is not None else "unknown",
        args=args,
        hostname=getattr(request, "hostname", "") or "",
    )


def _on_task_retry(sender: Any = None, request: Any = None, reason: Any = None, **_: Any) -> None:
    from monitoring.services import task_failure_record

    name = _task_name(sender)
    metrics.CELERY_TASK_RETRIES.labels(name).inc()
    task_failure_record(
        task=name,
        task_id=getattr(request, "id", "") or "",
        outcome="retried",
        exception=reason if isinstance(reason, BaseException) else str(reason),
        args=getattr(request, "args", ()),
        hostname=getattr(request, "hostname", "") or "",
    )


def _on_worker_ready(sender: Any = None, **_: Any) -> None:
    """Serve this worker's metrics on ``METRICS_WORKER_PORT`` (0: off).

    Web and worker processes keep their metric files apart (each clears its own directory
    at start), and a worker may run on another machine, so Prometheus scrapes each worker
    machine here. With a prefork pool every child writes its own file in
    ``PROMETHEUS_MULTIPROC_DIR``; this thread in the parent merges them per scrape.
    """
    port = settings.METRICS_WORKER_PORT
    if not port:
        return
    from prometheus_client import start_http_server

    if not metrics.multiprocess_dir():
        logger.warning("METRICS_WORKER_PORT without PROMETHEUS_MULTIPROC_DIR: only the parent's metrics are served")
    start_http_server(port, addr=settings.METRICS_WORKER_ADDR, registry=metrics.registry())
    logger.info("worker metrics on http://%s:%s/metrics", settings.METRICS_WORKER_ADDR, port)


def connect() -> None:
    connection_created.connect(_on_connection_created, dispatch_uid="monitoring.db_timing")
    celery_signals.task_prerun.connect(_on_task_prerun, dispatch_uid="monitoring.task_prerun", weak=False)
    celery_signals.task_postrun.connect(_on_task_postrun, dispatch_uid="monitoring.task_postrun", weak=False)
    celery_signals.task_failure.connect(_on_task_failure, dispatch_uid="monitoring.task_failure", weak=False)
    celery_signals.task_retry.connect(_on_task_retry, dispatch_uid="monitoring.task_retry", weak=False)
    celery_signals.worker_ready.connect(_on_worker_ready, dispatch_uid="monitoring.worker_ready", weak=False)
