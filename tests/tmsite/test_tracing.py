"""One request, one trace: the view, its SQL and cache calls, and the Celery task it enqueued
(run by a real worker through the Redis broker) share a trace id, parent to child; log lines
written inside carry the ids."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from celery.contrib.testing.worker import start_worker
from django.core import mail
from django.db import connection
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, format_trace_id

from tmsite.celery import app as celery_app
from tmsite.tracing import TraceContextFilter, instrument, uninstrument

TASK = "wallets.tasks.send_email_task"


class _Keep(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def _ancestors(span: ReadableSpan, by_id: dict[int, ReadableSpan]) -> list[ReadableSpan]:
    chain = []
    while span.parent is not None and span.parent.span_id in by_id:
        span = by_id[span.parent.span_id]
        chain.append(span)
    return chain


@pytest.mark.django_db(transaction=True)  # the worker's Django fixup closes connections as it starts
@pytest.mark.redis
@pytest.mark.postgres
def test_sign_up_request_is_one_trace_from_view_to_sql_to_the_mail_task(  # type: ignore[no-untyped-def]
    client, redis_url, postgres_url
) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    instrument(provider)
    queue = f"test-trace-{uuid.uuid4().hex[:8]}"
    email = f"{queue}@example.com"  # allauth rate-limits confirmation mail per address, in Redis
    conf = celery_app.conf
    previous = (conf.task_always_eager, conf.broker_url, conf.task_default_queue)
    conf.task_always_eager, conf.broker_url, conf.task_default_queue = False, redis_url, queue
    task_log = _Keep()
    task_log.addFilter(TraceContextFilter())  # as on the console handler in settings.LOGGING
    task_logger = logging.getLogger("wallets.tasks")
    task_logger.addHandler(task_log)
    level, task_logger.level = task_logger.level, logging.INFO
    try:
        with start_worker(celery_app, perform_ping_check=False, queues=[queue], loglevel="WARNING"):
            # A server instruments before it connects; here the pool predates instrument(), so
            # it is closed and reopened with instrumented connections.
            connection.close()
            connection.close_pool()
            response = client.post(
                "/accounts/signup/",
                {"email": email, "password1": "a-long-pass-9876", "password2": "a-long-pass-9876"},
            )
            assert response.status_code == 302
            deadline = time.monotonic() + 30
            while not any(s.name == f"run/{TASK}" for s in exporter.get_finished_spans()):
                assert time.monotonic() < deadline, sorted({s.name for s in exporter.get_finished_spans()})
                time.sleep(0.1)
    finally:
        conf.task_always_eager, conf.broker_url, conf.task_default_queue = previous
        uninstrument()
        connection.close()
        connection.close_pool()  # no instrumented connection outlives the test
        task_logger.removeHandler(task_log)
        task_logger.level = level

    assert len(mail.outbox) == 1 and mail.outbox[0].to == [email]  # the worker sent it
    spans = exporter.get_finished_spans()
    by_id = {s.context.span_id: s for s in spans}
    (server,) = [s for s in spans if s.kind == SpanKind.SERVER]
    assert server.attributes is not None and server.attributes.get("http.route", "").startswith("accounts/signup")
    trace_id = server.context.trace_id
    in_trace = [s for s in spans if s.context.trace_id == trace_id]

    sql = [s for s in in_trace if (s.attributes or {}).get("db.system") == "postgresql"]
    assert any("INSERT" in str((s.attributes or {}).get("db.statement", "")) for s in sql), "no SQL spans"
    assert all(server in _ancestors(s, by_id) for s in sql)
    assert any((s.attributes or {}).get("db.system") == "redis" for s in in_trace), "no cache spans"

    (publish,) = [s for s in in_trace if s.name == f"apply_async/{TASK}"]
    (run,) = [s for s in in_trace if s.name == f"run/{TASK}"]
    assert publish.kind == SpanKind.PRODUCER and server in _ancestors(publish, by_id)
    assert run.kind == SpanKind.CONSUMER and run.parent is not None and run.parent.span_id == publish.context.span_id

    sent = [r for r in task_log.records if r.getMessage().startswith("sent account e-mail")]
    assert sent and sent[0].trace_id == format_trace_id(trace_id)  # type: ignore[attr-defined]


def _web_process(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter that imports the web entry point (which starts
    tracing), on the embedded database, with ``env`` added."""
    environ = {**os.environ, "DEBUG": "1", **env}
    environ.pop("DATABASE_URL", None)
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=Path(__file__).resolve().parents[2],
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return result


def test_console_exporter_prints_the_request_span_whose_ids_the_json_log_line_carries() -> None:
    code = "import tmsite.wsgi; from django.test import Client; Client().get('/healthz', HTTP_HOST='127.0.0.1')"
    result = _web_process(code, OTEL_TRACES_EXPORTER="console", LOG_FORMAT="json")
    request_line = next(json.loads(line) for line in result.stderr.splitlines() if '"tmsite.request"' in line)
    decoder, text, spans = json.JSONDecoder(), result.stdout, []
    position = text.find("{")
    while position != -1:  # the console exporter prints one indented JSON object per span
        span, end = decoder.raw_decode(text, position)
        spans.append(span)
        position = text.find("{", end)
    (server,) = [s for s in spans if s["kind"] == "SpanKind.SERVER"]
    assert server["name"] == "GET healthz"
    assert server["context"]["trace_id"] == "0x" + request_line["trace_id"]
    assert server["context"]["span_id"] == "0x" + request_line["span_id"]


def test_with_tracing_on_metrics_still_answer_the_ip_host_a_scrape_uses() -> None:
    """The Django instrumentation's middleware checks the Host header; the metrics one stays
    ahead of it, so a scrape addressed to the process's IP:port is answered."""
    code = (
        "import tmsite.wsgi; from django.conf import settings; from django.test import Client; "
        "c = Client(HTTP_HOST='10.0.0.5:8000'); "
        "print(settings.MIDDLEWARE[0], settings.MIDDLEWARE[1]); "
        "print(c.get('/metrics', HTTP_AUTHORIZATION='Bearer scrape-token').status_code, c.get('/healthz').status_code)"
    )
    result = _web_process(code, METRICS_TOKEN="scrape-token", TRACING="1")
    order, statuses = result.stdout.splitlines()[-2:]
    assert order.split() == [
        "monitoring.middleware.RequestMetricsMiddleware",
        "opentelemetry.instrumentation.django.middleware.otel_middleware._DjangoMiddleware",
    ]
    assert statuses.split() == ["200", "400"]  # the site itself still refuses the unknown host


def test_without_an_exporter_spans_are_not_recorded_but_log_lines_still_name_their_trace() -> None:
    """Nothing reads a span with no exporter, so none is built (its attributes and statement
    text cost CPU on every SQL call); the ids are still made, for the log lines. With an
    exporter every trace is recorded."""
    code = (
        "import tmsite.wsgi; from opentelemetry import trace; from django.test import Client; "
        "from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor; "
        "Client().get('/healthz', HTTP_HOST='127.0.0.1'); "
        "span = trace.get_tracer('t').start_span('x'); "
        "print(span.is_recording(), span.get_span_context().is_valid, "
        "PsycopgInstrumentor().is_instrumented_by_opentelemetry)"
    )
    quiet = _web_process(code, LOG_FORMAT="json", TRACING="1")
    assert quiet.stdout.split()[-3:] == ["False", "True", "False"]  # no SQL spans either
    request_line = next(json.loads(line) for line in quiet.stderr.splitlines() if '"tmsite.request"' in line)
    assert len(request_line["trace_id"]) == 32 and len(request_line["span_id"]) == 16
    exported = _web_process(code, LOG_FORMAT="json", TRACING="1", OTEL_TRACES_EXPORTER="console")
    assert "True True True" in exported.stdout
