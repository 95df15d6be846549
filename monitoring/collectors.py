"""State gauges collected when Prometheus scrapes ``/metrics``.

Indexer position, last grading and moonshot runs, worker heartbeats and queue lengths
are facts about the system, not about this process: they are read from the database, the
cache, the broker and the node at scrape time (:mod:`monitoring.selectors`), so every web
process reports the same values and a dead worker shows as a stale timestamp, not as a
gauge that silently vanished with its process.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from monitoring import selectors

logger = logging.getLogger(__name__)


class SystemStateCollector(Collector):
    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        yield from self._chains()
        yield from self._workers()

    def _chains(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        node_up = GaugeMetricFamily(
            "tmsite_chain_node_up", "1 when the configured node answered this scrape.", labels=["chain_id"]
        )
        head = None
        try:
            head = selectors.node_head()
        except Exception as exc:
            logger.warning("metrics: node not answering: %s", exc)
        try:
            states = selectors.chain_states(head=head)
        except Exception:
            logger.exception("metrics: could not read the indexer state")
            return
        if head is not None:
            node_up.add_metric([str(head.chain_id)], 1)
        else:
            for state in states:
                node_up.add_metric([str(state.chain_id)], 0)
        yield node_up
        families = {
            "head": GaugeMetricFamily(
                "tmsite_indexer_head_block",
                "Node head block (live, or as last seen by the indexer).",
                labels=["chain_id"],
            ),
            "indexed": GaugeMetricFamily(
                "tmsite_indexer_indexed_block", "Last block indexed (checkpoint - 1).", labels=["chain_id"]
            ),
            "lag_blocks": GaugeMetricFamily(
                "tmsite_indexer_lag_blocks",
                "Blocks between the node head and the last indexed block.",
                labels=["chain_id"],
            ),
            "lag_seconds": GaugeMetricFamily(
                "tmsite_indexer_lag_seconds",
                "Block time between the node head and the last indexed block, seconds (0 when caught up).",
                labels=["chain_id"],
            ),
            "progress": GaugeMetricFamily(
                "tmsite_indexer_checkpoint_updated_timestamp_seconds",
                "When the checkpoint last moved, unix seconds.",
                labels=["chain_id"],
            ),
            "graded": GaugeMetricFamily(
                "tmsite_grades_last_run_timestamp_seconds",
                "When the last grading run finished, unix seconds.",
                labels=["chain_id"],
            ),
            "tokens": GaugeMetricFamily(
                "tmsite_grades_last_run_tokens", "Tokens graded by the last grading run.", labels=["chain_id"]
            ),
            "model": GaugeMetricFamily(
                "tmsite_grades_model_info",
                "Model version the last grading run used (value 1).",
                labels=["chain_id", "horizon", "version"],
            ),
            "scanned": GaugeMetricFamily(
                "tmsite_moonshots_last_scan_timestamp_seconds",
                "When the last moonshot scan finished, unix seconds.",
                labels=["chain_id"],
            ),
        }
        reorgs = CounterMetricFamily(
            "tmsite_indexer_reorgs", "Reorgs rolled back, from the chain's checkpoint.", labels=["chain_id"]
        )
        for state in states:
            label = [str(state.chain_id)]
            for key, value in (
                ("head", state.head_block),
                ("indexed", state.indexed_block),
                ("lag_blocks", state.lag_blocks),
                ("lag_seconds", state.lag_seconds),
                ("progress", state.checkpoint_updated_at.timestamp() if state.checkpoint_updated_at else None),
            ):
                if value is not None:
                    families[key].add_metric(label, float(value))
            if state.indexed_block is not None:
                reorgs.add_metric(label, state.reorgs)
            if state.grading:
                families["graded"].add_metric(label, state.grading["at"])
                families["tokens"].add_metric(label, state.grading["tokens"])
                for horizon, version in sorted(state.grading.get("model_versions", {}).items()):
                    families["model"].add_metric([*label, horizon, version], 1)
            if state.moonshot_scan:
                families["scanned"].add_metric(label, state.moonshot_scan["at"])
        yield from families.values()
        yield reorgs

    def _workers(self) -> Iterator[GaugeMetricFamily]:
        beats = GaugeMetricFamily(
            "tmsite_celery_heartbeat_timestamp_seconds",
            "When a worker consuming the queue last ran the heartbeat task, unix seconds.",
            labels=["queue"],
        )
        try:
            for queue, beat in selectors.heartbeats().items():
                if beat is not None:
                    beats.add_metric([queue], beat["at"])
        except Exception:
            logger.exception("metrics: could not read worker heartbeats")
        yield beats
        lengths = GaugeMetricFamily(
            "tmsite_celery_queue_length", "Messages waiting in the broker, by workload queue.", labels=["queue"]
        )
        try:
            for queue, length in selectors.queue_lengths().items():
                lengths.add_metric([queue], length)
        except Exception as exc:
            logger.warning("metrics: broker not answering: %s", exc)
        yield lengths
