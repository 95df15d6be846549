"""The Celery app: configuration comes from Django settings (``CELERY_*``).

Start a worker with ``make worker`` and the scheduler with ``make beat``. The beat
schedule is defined here in code, so it is reviewed and versioned like everything else.
"""

from __future__ import annotations

import os

from celery import Celery
from celery.signals import celeryd_init
from django.conf import settings

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tmsite.settings")

app = Celery("tmsite")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
app.autodiscover_tasks(["tmsite"])  # the project package is not an app, its tasks.py still counts


@celeryd_init.connect
def _worker_tracing(**_: object) -> None:
    """Trace the tasks of a ``celery worker`` (its prefork children inherit the setup)."""
    from tmsite.tracing import tracing_setup

    tracing_setup()


app.conf.beat_schedule = {
    "index-new-blocks": {
        "task": "market.tasks.index_new_blocks_task",
        "schedule": settings.INDEX_INTERVAL,
        "args": (settings.CHAIN_ID,),
        "options": {"expires": settings.INDEX_INTERVAL * 2},
    },
    "compute-grades": {
        "task": "ratings.tasks.compute_grades_task",
        "schedule": settings.RATINGS_INTERVAL,
        "args": (settings.CHAIN_ID,),
        "options": {"expires": settings.RATINGS_INTERVAL},
    },
    "check-token-risks": {
        "task": "ratings.tasks.check_token_risks_task",
        "schedule": settings.RATINGS_INTERVAL * 4,
        "args": (settings.CHAIN_ID,),
        "options": {"expires": settings.RATINGS_INTERVAL * 4},
    },
    "train-grade-models": {
        "task": "ratings.tasks.train_grade_models_task",
        "schedule": settings.RATINGS_TRAIN_INTERVAL,
        "args": (settings.CHAIN_ID,),
        "options": {"expires": settings.RATINGS_TRAIN_INTERVAL},
    },
    "scan-moonshots": {
        "task": "moonshots.tasks.scan_moonshots_task",
        "schedule": settings.MOONSHOT_INTERVAL,  # seconds
        "args": (settings.CHAIN_ID,),
        "options": {"expires": settings.MOONSHOT_INTERVAL},
    },
    # One heartbeat per workload queue: the system page shows which queues have a live worker.
    **{
        f"worker-heartbeat-{queue}": {
            "task": "tmsite.tasks.heartbeat_task",
            "schedule": 30.0,  # seconds
            "args": (queue,),
            "options": {"expires": 25, "queue": queue},
        }
        for queue in settings.CELERY_WORKLOAD_QUEUES
    },
}
