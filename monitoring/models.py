"""What operators look back at: Celery tasks that failed or were retried, with the reason."""

from __future__ import annotations

from django.db import models


class TaskFailure(models.Model):
    """One failed or retried Celery task run, written by the worker that ran it.

    Only the newest ``TASK_FAILURES_KEPT`` rows are kept (older ones are pruned on insert),
    so the table stays small however long a task keeps failing.
    """

    class Outcome(models.TextChoices):
        FAILED = "failed", "failed"
        RETRIED = "retried", "will be retried"

    task = models.CharField(max_length=200, help_text="task name, e.g. market.tasks.index_new_blocks_task")
    task_id = models.CharField(max_length=64, blank=True)
    outcome = models.CharField(max_length=8, choices=Outcome.choices)
    exception = models.CharField(max_length=200, help_text="exception class")
    reason = models.TextField(help_text="the exception's message, cut to 2,000 characters")
    args = models.TextField(blank=True, help_text="task arguments (ids), as repr, cut to 500 characters")
    hostname = models.CharField(max_length=200, blank=True, help_text="worker node name")
    occurred_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["-occurred_at"], name="taskfailure_recent")]  # system page list

    def __str__(self) -> str:
        return f"{self.task} {self.outcome} at {self.occurred_at:%Y-%m-%d %H:%M:%S}: {self.exception}"
