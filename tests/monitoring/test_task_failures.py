"""Failed and retried tasks: counted in /metrics and listed with their reason on the system page."""

from __future__ import annotations

import pytest
from django.test import Client

from chain.node import free_port
from market.rpc import RpcUnavailable
from market.tasks import index_new_blocks_task
from monitoring.models import TaskFailure
from tests.monitoring.conftest import value
from tmsite.celery import app as celery_app

pytestmark = pytest.mark.django_db

TASK = "market.tasks.index_new_blocks_task"


def test_task_failing_on_a_dead_node_is_counted_and_listed_with_its_reason(settings, scrape, admin_user) -> None:
    settings.WEB3_PROVIDER_URI = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    settings.RPC_RETRIES = 0
    before = scrape()

    # As on a worker: the error is kept, not re-raised, so the eager run goes through every retry.
    propagates = celery_app.conf.task_eager_propagates
    celery_app.conf.task_eager_propagates = False
    try:
        result = index_new_blocks_task.apply(args=(424242,))
    finally:
        celery_app.conf.task_eager_propagates = propagates
    assert isinstance(result.result, RpcUnavailable)

    after = scrape()
    retries = index_new_blocks_task.max_retries
    failed = TaskFailure.objects.filter(task=TASK, outcome="failed")
    assert failed.count() == 1
    assert failed[0].exception == "RpcUnavailable" and "unreachable" in failed[0].reason
    assert TaskFailure.objects.filter(task=TASK, outcome="retried").count() == retries

    def delta(name: str, **labels: str) -> float:
        return (value(after, name, **labels) or 0) - (value(before, name, **labels) or 0)

    assert delta("tmsite_celery_task_failures_total", task=TASK, exception="RpcUnavailable") == 1
    assert delta("tmsite_celery_task_retries_total", task=TASK) == retries
    assert delta("tmsite_celery_tasks_total", task=TASK, state="FAILURE") == 1
    assert delta("tmsite_rpc_errors_total", method="eth_blockNumber", kind="unavailable") == retries + 1

    staff = Client()
    staff.force_login(admin_user)
    html = staff.get("/system/").content.decode()
    assert TASK in html and "RpcUnavailable" in html and "unreachable after 1 attempts" in html
    listed = staff.get("/api/v1/system").json()["task_failures"]
    assert listed[0]["task"] == TASK and listed[0]["outcome"] == "failed"
