"""A real Celery worker, started the way `make worker` starts one, runs a task via Redis."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from tmsite.celery import app as celery_app
from tmsite.tasks import HEARTBEAT_CACHE_KEY, heartbeat_task

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.redis
@pytest.mark.slow
def test_worker_consumes_a_task_from_the_redis_broker(redis_url, tmp_path) -> None:  # type: ignore[no-untyped-def]
    queue = f"test-{uuid.uuid4().hex[:8]}"
    env = {**os.environ, "REDIS_URL": redis_url, "DJANGO_SETTINGS_MODULE": "tmsite.settings"}
    log_path = tmp_path / "worker.log"
    log = log_path.open("w")
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "tmsite", "worker", "--pool", "solo", "-Q", queue, "--loglevel", "INFO"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log,
    )
    from django.core.cache.backends.redis import RedisCache

    redis_cache = RedisCache(redis_url, {"KEY_PREFIX": "tmsite"})
    redis_cache.delete(HEARTBEAT_CACHE_KEY)
    previous = (celery_app.conf.task_always_eager, celery_app.conf.broker_url)
    celery_app.conf.task_always_eager = False
    celery_app.conf.broker_url = redis_url
    try:
        sent_at = time.time()
        heartbeat_task.apply_async(queue=queue)
        deadline = time.monotonic() + 60
        beat = None
        while time.monotonic() < deadline and beat is None:
            beat = redis_cache.get(HEARTBEAT_CACHE_KEY)
            time.sleep(0.2)
        assert beat is not None, "the worker never ran the task:\n" + log_path.read_text()
        assert beat >= sent_at - 1
    finally:
        celery_app.conf.task_always_eager, celery_app.conf.broker_url = previous
        worker.terminate()
        worker.wait(timeout=30)
        log.close()
