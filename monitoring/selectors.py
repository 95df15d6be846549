"""Reads of the system's state, for the staff system page, its JSON and ``/metrics``.

Everything here is read on demand (a page view or a scrape), never per request: a few
indexed rows per chain, a handful of cache keys, one broker round trip for the queue
lengths and one batched JSON-RPC request to the node, each under a short timeout.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.core.cache import cache

from monitoring.models import TaskFailure
from monitoring.services import (
    GRADING_RUN_KEY,
    HEARTBEAT_KEY,
    MOONSHOT_SCAN_KEY,
    RPC_TALLY_KEY,
    workload_queues,
)

logger = logging.getLogger(__name__)

RPC_WINDOW_MINUTES = 15  # the system page's RPC error rate covers this many minutes


@dataclass
class NodeHead:
    chain_id: int
    block: int
    timestamp: int  # unix seconds of the head block


@dataclass
class ChainState:
    """Where indexing of one chain stands against its node.

    ``head_block`` is the node's head when the configured node serves this chain (``head_live``),
    else the head the indexer saw at its last batch. Lags are ``None`` when unknown.
    """

    chain_id: int
    head_block: int | None = None
    head_live: bool = False
    indexed_block: int | None = None
    indexed_block_time: datetime | None = None
    lag_blocks: int | None = None
    lag_seconds: float | None = None
    reorgs: int = 0
    checkpoint_updated_at: datetime | None = None
    grading: dict[str, Any] | None = None  # last run: at (unix s), tokens, model_versions, seconds
    moonshot_scan: dict[str, Any] | None = None  # last scan: at (unix s), picked, exited, scored

    @property
    def graded_at(self) -> datetime | None:
        return _from_unix(self.grading["at"]) if self.grading else None

    @property
    def scanned_at(self) -> datetime | None:
        return _from_unix(self.moonshot_scan["at"]) if self.moonshot_scan else None


def _from_unix(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, tz=UTC)


@dataclass
class SystemStatus:
    chains: list[ChainState]
    node_error: str
    heartbeats: dict[str, dict[str, Any] | None]  # queue -> {at, hostname, age_seconds}
    queue_lengths: dict[str, int | None]  # queue -> messages waiting (None: broker not reachable)
    broker_error: str
    rpc: dict[str, Any]  # calls, errors, error_rate over RPC_WINDOW_MINUTES
    failures: list[TaskFailure] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "chains": [asdict(chain) for chain in self.chains],
            "node_error": self.node_error,
            "heartbeats": self.heartbeats,
            "queues": self.queue_lengths,
            "broker_error": self.broker_error,
            "rpc": self.rpc,
            "task_failures": [
                {
                    "task": f.task,
                    "task_id": f.task_id,
                    "outcome": f.outcome,
                    "exception": f.exception,
                    "reason": f.reason,
                    "args": f.args,
                    "hostname": f.hostname,
                    "occurred_at": f.occurred_at,
                }
                for f in self.failures
            ],
        }


def node_head() -> NodeHead:
    """The configured node's chain id and head block, in one batched request without retries."""
    from market.rpc import RpcClient

    client = RpcClient(settings.WEB3_PROVIDER_URI, timeout=settings.READYZ_TIMEOUT, retries=0, parallel=1)
    try:
        chain_id, head = client.batch([("eth_chainId", []), ("eth_getBlockByNumber", ["latest", False])])
    finally:
        client.close()
    for reply in (chain_id, head):
        if isinstance(reply, Exception):
            raise reply
    return NodeHead(int(chain_id, 16), int(head["number"], 16), int(head["timestamp"], 16))


def chain_states(*, head: NodeHead | None) -> list[ChainState]:
    """Every indexed chain (and ``CHAIN_ID``), with lags against ``head`` where it is that chain's."""
    from market.models import Checkpoint, IndexedBlock

    checkpoints = {c.chain_id: c for c in Checkpoint.objects.all()}
    chain_ids = sorted({*checkpoints, settings.CHAIN_ID})
    wanted = [(c.chain_id, c.next_block - 1) for c in checkpoints.values() if c.next_block > 0]
    block_times: dict[tuple[int, int], datetime] = {}
    for chain_id, number in wanted:  # one indexed lookup per chain (unique chain_id, number)
        row = IndexedBlock.objects.filter(chain_id=chain_id, number=number).values_list("timestamp", flat=True).first()
        if row is not None:
            block_times[(chain_id, number)] = row
    grading = cache.get_many([GRADING_RUN_KEY.format(chain_id=c) for c in chain_ids])
    scans = cache.get_many([MOONSHOT_SCAN_KEY.format(chain_id=c) for c in chain_ids])
    states = []
    for chain_id in chain_ids:
        state = ChainState(chain_id)
        state.grading = grading.get(GRADING_RUN_KEY.format(chain_id=chain_id))
        state.moonshot_scan = scans.get(MOONSHOT_SCAN_KEY.format(chain_id=chain_id))
        checkpoint = checkpoints.get(chain_id)
        if checkpoint is not None:
            state.reorgs = checkpoint.reorgs
            state.checkpoint_updated_at = checkpoint.updated_at
            state.head_block = checkpoint.head_block
            if checkpoint.next_block > 0:
                state.indexed_block = checkpoint.next_block - 1
                state.indexed_block_time = block_times.get((chain_id, state.indexed_block))
        if head is not None and head.chain_id == chain_id:
            state.head_block, state.head_live = head.block, True
            if state.indexed_block is not None and state.indexed_block_time is not None:
                behind = head.timestamp - state.indexed_block_time.timestamp()
                state.lag_seconds = max(0.0, behind) if head.block > state.indexed_block else 0.0
        if state.head_block is not None and state.indexed_block is not None:
            state.lag_blocks = max(0, state.head_block - state.indexed_block)
        states.append(state)
    return states


def heartbeats(*, now: float | None = None) -> dict[str, dict[str, Any] | None]:
    """The last heartbeat run on each workload queue, with its age in seconds (None: never)."""
    now = now if now is not None else time.time()
    keys = {queue: HEARTBEAT_KEY.format(queue=queue) for queue in workload_queues()}
    found = cache.get_many(list(keys.values()))
    beats: dict[str, dict[str, Any] | None] = {}
    for queue, key in keys.items():
        beat = found.get(key)
        beats[queue] = None if beat is None else {**beat, "age_seconds": round(max(0.0, now - beat["at"]), 1)}
    return beats


def queue_lengths() -> dict[str, int]:
    """Messages waiting on each workload queue, read from the broker.

    Uses the AMQP-style passive declare, which kombu's Redis transport answers with the
    length of the queue's lists (every priority); a queue never used does not exist yet
    and counts as empty.
    """
    from kombu.exceptions import ChannelError

    from tmsite.celery import app

    lengths: dict[str, int] = {}
    with app.connection_for_read() as conn:
        conn.ensure_connection(max_retries=1, timeout=math.ceil(settings.READYZ_TIMEOUT))
        channel: Any = conn.default_channel  # a transport's channel: queue_declare is not on the stub
        for queue in workload_queues():
            try:
                lengths[queue] = int(channel.queue_declare(queue=queue, passive=True).message_count)
            except ChannelError:
                lengths[queue] = 0
    return lengths


def rpc_error_rate(*, minutes: int = RPC_WINDOW_MINUTES, now: float | None = None) -> dict[str, Any]:
    """JSON-RPC calls and errors of every process over the last ``minutes`` (shared cache tallies)."""
    current = int((now if now is not None else time.time()) // 60)
    keys = [
        RPC_TALLY_KEY.format(minute=minute, what=what)
        for minute in range(current - minutes + 1, current + 1)
        for what in ("calls", "errors")
    ]
    found = cache.get_many(keys)
    calls = sum(int(v) for k, v in found.items() if k.endswith(":calls"))
    errors = sum(int(v) for k, v in found.items() if k.endswith(":errors"))
    return {
        "minutes": minutes,
        "calls": calls,
        "errors": errors,
        "error_rate": round(min(1.0, errors / calls), 4) if calls else None,
    }


def recent_task_failures(*, limit: int = 20) -> list[TaskFailure]:
    return list(TaskFailure.objects.order_by("-occurred_at", "-id")[:limit])


def system_status() -> SystemStatus:
    """Everything the system page shows; each source that is down is named, not raised."""
    head: NodeHead | None = None
    node_error = ""
    try:
        head = node_head()
    except Exception as exc:  # the node being down is a finding, not a page error
        node_error = f"{type(exc).__name__}: {exc}"
    lengths: dict[str, int | None] = dict.fromkeys(workload_queues())
    broker_error = ""
    try:
        lengths.update(queue_lengths())
    except Exception as exc:
        broker_error = f"{type(exc).__name__}: {exc}"
    return SystemStatus(
        chains=chain_states(head=head),
        node_error=node_error,
        heartbeats=heartbeats(),
        queue_lengths=lengths,
        broker_error=broker_error,
        rpc=rpc_error_rate(),
        failures=recent_task_failures(),
    )
