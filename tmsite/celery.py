"""The Celery app: configuration comes from Django settings (``CELERY_*``).

Start a worker with ``make worker`` and the scheduler with ``make beat``. The beat
schedule is defined here in code, so it is reviewed and versioned like everything else.
"""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tmsite.settings")

app = Celery("tmsite")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
app.autodiscover_tasks(["tmsite"])  # the project package is not an app, its tasks.py still counts

app.conf.beat_schedule = {
    "worker-heartbeat": {
        "task": "tmsite.tasks.heartbeat_task",
        "schedule": 30.0,  # seconds
        "options": {"expires": 25},
    },
}
