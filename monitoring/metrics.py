"""Prometheus metrics recorded by this process (prometheus-client).

Each metric is defined once here and observed where the work happens: the request
middleware, a database execute wrapper, the counting cache backends, Celery signals, the
JSON-RPC client, the indexer loop, grading and moonshot runs, and the swap API.

With ``PROMETHEUS_MULTIPROC_DIR`` set (``make serve``, ``make worker``) prometheus-client
keeps every value in a memory-mapped file per process in that directory, and
:func:`registry` merges them, so ``/metrics`` is right whichever of several server workers
answers. Without it (tests, ``runserver``, the demo) values live in this process only.

State that any process can read (checkpoints, last grading run, queue lengths) is not kept
here but collected at scrape time by :mod:`monitoring.collectors`.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram
from prometheus_client.multiprocess import MultiProcessCollector

# Request and task latencies, seconds.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
# Database statements and cache round trips, seconds.
QUERY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0)
# Celery tasks and indexer batches run for seconds to minutes.
TASK_BUCKETS = (0.01, 0.05, 0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 900.0, 1800.0)

UNMATCHED_ROUTE = "<unmatched>"  # 404s and anything no URL pattern named (bounded label set)

HTTP_REQUEST_DURATION = Histogram(
    "tmsite_http_request_duration_seconds",
    "Time from the first middleware to the response, by URL route name, method and status code.",
    ["route", "method", "status"],
    buckets=LATENCY_BUCKETS,
)
DB_QUERY_DURATION = Histogram(
    "tmsite_db_query_duration_seconds",
    "Time one SQL statement took, by database alias.",
    ["alias"],
    buckets=QUERY_BUCKETS,
)
CACHE_REQUESTS = Counter(
    "tmsite_cache_requests",
    "Cache reads by result: hit or miss (one per key for get_many).",
    ["result"],
)
CELERY_TASKS = Counter(
    "tmsite_celery_tasks",
    "Celery tasks that finished, by task name and final state (SUCCESS, FAILURE, RETRY...).",
    ["task", "state"],
)
CELERY_TASK_DURATION = Histogram(
    "tmsite_celery_task_duration_seconds",
    "Celery task run time, by task name.",
    ["task"],
    buckets=TASK_BUCKETS,
)
CELERY_TASK_FAILURES = Counter(
    "tmsite_celery_task_failures",
    "Celery tasks that raised, by task name and exception class.",
    ["task", "exception"],
)
CELERY_TASK_RETRIES = Counter(
    "tmsite_celery_task_retries",
    "Celery task retries scheduled, by task name.",
    ["task"],
)
RPC_REQUEST_DURATION = Histogram(
    "tmsite_rpc_request_duration_seconds",
    "JSON-RPC HTTP round trips to the node, by method ('batch:<method>' for a batch).",
    ["method"],
    buckets=LATENCY_BUCKETS,
)
RPC_ERRORS = Counter(
    "tmsite_rpc_errors",
    "JSON-RPC failures by method and kind: network (one failed attempt), unavailable (retries "
    "exhausted), range_too_large, reverted (a call the contract reverted), rpc_error (any other error answer).",
    ["method", "kind"],
)
INDEXER_LOGS = Counter("tmsite_indexer_logs", "Logs indexed, by chain id.", ["chain_id"])
INDEXER_BLOCKS = Counter("tmsite_indexer_blocks", "Blocks indexed, by chain id.", ["chain_id"])
INDEXER_BATCH_DURATION = Histogram(
    "tmsite_indexer_batch_duration_seconds",
    "Fetch and store time of one indexer batch, by chain id.",
    ["chain_id"],
    buckets=TASK_BUCKETS,
)
INDEXER_REORGS = Counter("tmsite_indexer_reorgs_seen", "Reorgs found and rolled back by this process.", ["chain_id"])
GRADES_RUNS = Counter("tmsite_grades_runs", "Grading runs finished, by chain id.", ["chain_id"])
GRADES_TOKENS = Counter("tmsite_grades_tokens_graded", "Tokens graded, summed over runs, by chain id.", ["chain_id"])
GRADES_RUN_DURATION = Histogram(
    "tmsite_grades_run_duration_seconds", "Time of one grading run, by chain id.", ["chain_id"], buckets=TASK_BUCKETS
)
SWAP_QUOTES = Counter(
    "tmsite_swap_quotes",
    "Swap quote requests by provider and outcome (ok or the refusal code).",
    ["provider", "outcome"],
)
SWAP_BUILDS = Counter("tmsite_swap_builds", "Swap transactions built, by provider.", ["provider"])
SWAP_BUILDS_REFUSED = Counter(
    "tmsite_swap_builds_refused", "Swap builds refused, by provider and reason code.", ["provider", "reason"]
)


def indexer_batch_observe(chain_id: int, blocks: int, logs: int, seconds: float) -> None:
    """One indexer batch stored: ``blocks`` blocks, ``logs`` logs in ``seconds``."""
    label = str(chain_id)
    INDEXER_BLOCKS.labels(label).inc(blocks)
    INDEXER_LOGS.labels(label).inc(logs)
    INDEXER_BATCH_DURATION.labels(label).observe(seconds)


def multiprocess_dir() -> str:
    """The directory of this process's metric files, or "" in single-process mode."""
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR", "")


def registry() -> CollectorRegistry:
    """What to export: every process's files merged in multiprocess mode, else this process."""
    path = multiprocess_dir()
    if not path:
        return REGISTRY
    merged = CollectorRegistry()
    MultiProcessCollector(merged, path=path)
    return merged


@contextmanager
def swap_outcome(step: str, provider: str) -> Iterator[None]:
    """Count one swap quote or build by outcome; a refusal (``SwapError``) by its code."""
    from swaps.services import SwapError

    try:
        yield
    except SwapError as exc:
        if step == "quote":
            SWAP_QUOTES.labels(provider, exc.code).inc()
        else:
            SWAP_BUILDS_REFUSED.labels(provider, exc.code).inc()
        raise
    if step == "quote":
        SWAP_QUOTES.labels(provider, "ok").inc()
    else:
        SWAP_BUILDS.labels(provider).inc()


class RpcTally:
    """Calls and errors of every JSON-RPC client in this process, summed for the system page.

    The Prometheus counters stay in this process (or this machine's metric files); the
    system page is served by any web process, so the tally is also added to per-minute
    counters in the shared cache, at most once per ``flush_every`` seconds per process:
    never a cache round trip per call.
    """

    def __init__(self, flush_every: float = 5.0) -> None:
        self.flush_every = flush_every  # seconds between cache writes
        self._lock = threading.Lock()
        self._calls = 0
        self._errors = 0
        self._flushed = time.monotonic()

    def add(self, *, calls: int = 0, errors: int = 0) -> None:
        with self._lock:
            self._calls += calls
            self._errors += errors
            due = time.monotonic() - self._flushed >= self.flush_every
        if due:
            self.flush()

    def flush(self) -> None:
        with self._lock:
            calls, errors = self._calls, self._errors
            self._calls = self._errors = 0
            self._flushed = time.monotonic()
        if not (calls or errors):
            return
        try:
            from monitoring.services import rpc_tally_store
        except Exception:  # a script using the RPC client without Django set up: nothing shared
            return
        rpc_tally_store(calls=calls, errors=errors)


RPC_TALLY = RpcTally()


def rpc_observe(method: str, seconds: float) -> None:
    """One HTTP round trip to the node (any outcome)."""
    RPC_REQUEST_DURATION.labels(method).observe(seconds)
    RPC_TALLY.add(calls=1)


def rpc_error(method: str, kind: str, count: int = 1) -> None:
    """A failed round trip or error answer; reverts (a contract's answer) stay out of the error rate."""
    RPC_ERRORS.labels(method, kind).inc(count)
    if kind != "reverted":
        RPC_TALLY.add(errors=count)
