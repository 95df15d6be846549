"""Celery queues by workload: every task routed to its queue, and messages land there in Redis."""

from __future__ import annotations

from typing import Any

import pytest
from kombu import Connection

from monitoring.selectors import queue_lengths
from tmsite.celery import app as celery_app

EXPECTED = {
    "market.tasks.index_new_blocks_task": "indexing",
    "ratings.tasks.compute_grades_task": "grading",
    "ratings.tasks.check_token_risks_task": "grading",
    "ratings.tasks.train_grade_models_task": "grading",
    "moonshots.tasks.scan_moonshots_task": "grading",
    "tmsite.tasks.heartbeat_task": "default",
}


def test_every_project_task_is_routed_to_its_workload_queue() -> None:
    celery_app.loader.import_default_modules()
    project = {name for name in celery_app.tasks if not name.startswith("celery.")}
    assert set(EXPECTED) <= project
    router = celery_app.amqp.router
    for name in sorted(project):
        queue = router.route({}, name)["queue"].name
        assert queue in ("indexing", "grading", "swap", "default"), name
        if name in EXPECTED:
            assert queue == EXPECTED[name], name
    # A task sent to a named queue (the beat schedule's per-queue heartbeats) goes there.
    assert router.route({"queue": "swap"}, "tmsite.tasks.heartbeat_task")["queue"].name == "swap"


@pytest.mark.redis
def test_sent_tasks_land_on_their_queue_in_redis(redis_url) -> None:
    from market.tasks import index_new_blocks_task
    from ratings.tasks import compute_grades_task
    from tmsite.tasks import heartbeat_task

    previous = (celery_app.conf.task_always_eager, celery_app.conf.broker_url)
    celery_app.conf.update(task_always_eager=False, broker_url=redis_url)
    try:
        before = queue_lengths()
        index_new_blocks_task.delay(999_001)
        compute_grades_task.delay(999_001)
        compute_grades_task.delay(999_002)
        heartbeat_task.apply_async(args=("swap",), queue="swap")
        after = queue_lengths()
        assert {q: after[q] - before[q] for q in after} == {"indexing": 1, "grading": 2, "swap": 1, "default": 0}
    finally:
        with Connection(redis_url) as conn:
            channel: Any = conn.default_channel
            for queue in ("indexing", "grading", "swap"):
                channel.queue_purge(queue)
        celery_app.conf.update(task_always_eager=previous[0], broker_url=previous[1])
